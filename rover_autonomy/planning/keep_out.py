"""Keep-out places: discs of ground the rover's centre must not enter, folded into the costmap.

A stuck rover shows what the costmap could not (a rock below the step the map calls lethal, soft soil):
the follower keeps a disc round the obstruction out (``navigation/keep_out``, the radius travelling with
each place). :func:`mark_keep_out` is the one definition of such a disc: the planner folds the places it
received into the costmap it plans on, the follower the places it published into the costmap it drives
on, so both judge passability on the same cells (lethal: ``costs.LETHAL``). A disc shrinks to leave the
goal's cell outside it: a place stuck next to the goal must not make the goal itself unreachable.

Pure: no ROS. Positions and radii in metres, in the costmap's frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL

MAX_KEEP_OUT = 32  # places remembered by planner and follower alike (oldest forgotten first)
MAX_RADIUS = 5.0  # [m] largest disc accepted from navigation/keep_out


@dataclass(frozen=True)
class KeepOutPlace:
    x: float  # [m] disc centre
    y: float  # [m]
    radius: float  # [m] cells whose centre lies within it are lethal


def mark_keep_out(
    costmap: np.ndarray,
    geometry: GridGeometry,
    places: list[KeepOutPlace],
    spare: tuple[float, float] | None = None,
) -> np.ndarray:
    """The costmap with every cell whose centre lies within a place's radius of it made lethal.

    ``spare`` (the goal) shrinks each disc to leave the centre of the cell holding it outside, less one
    cell: the planner spares its goal and the follower its plan's end, which is that cell's centre, so
    both mark the same cells. The input is left alone; returned as is when there is nothing to mark.
    """
    if not places:
        return costmap
    res = geometry.resolution
    if spare is not None:  # the centre of the spared point's cell, wherever in the cell the point lies
        spare = (
            geometry.origin_x + (math.floor((spare[0] - geometry.origin_x) / res) + 0.5) * res,
            geometry.origin_y + (math.floor((spare[1] - geometry.origin_y) / res) + 0.5) * res,
        )
    marked = costmap.copy()
    for place in places:
        x, y, r = place.x, place.y, place.radius
        if spare is not None:
            r = min(r, math.hypot(spare[0] - x, spare[1] - y) - res)
        if r <= 0:
            continue
        reach = math.ceil(r / res)
        col = math.floor((x - geometry.origin_x) / res)
        row = math.floor((y - geometry.origin_y) / res)
        r0, r1 = max(row - reach, 0), min(row + reach + 1, geometry.height)
        c0, c1 = max(col - reach, 0), min(col + reach + 1, geometry.width)
        if r0 >= r1 or c0 >= c1:
            continue  # off this map
        rows, cols = np.mgrid[r0:r1, c0:c1]
        cx = geometry.origin_x + (cols + 0.5) * res
        cy = geometry.origin_y + (rows + 0.5) * res
        inside = np.hypot(cx - x, cy - y) <= r
        marked[r0:r1, c0:c1][inside] = LETHAL
    return marked


def enclosing_radius(places: list[KeepOutPlace], x: float, y: float) -> float:
    """Radius [m] of the largest disc holding the point (x, y); 0 when none does. A rover inside such a
    disc needs that much more room to leave it."""
    return max((p.radius for p in places if math.hypot(x - p.x, y - p.y) <= p.radius), default=0.0)
