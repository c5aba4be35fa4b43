"""Keep-out places: discs of ground the rover's centre must not enter, folded into the costmap.

A stuck rover shows what the costmap could not (a rock below the step the map calls lethal, soft soil):
the follower keeps a disc round the obstruction out (``navigation/keep_out``, the radius travelling with
each place). :func:`mark_keep_out` is the one definition of such a disc: the planner folds the places it
received into the costmap it plans on, the follower the places it published into the costmap it drives
on, so both judge passability on the same cells (lethal: ``costs.LETHAL``). A disc shrinks to leave the
goal's cell outside it: a place stuck next to the goal must not make the goal itself unreachable.

Both nodes spare the same points: the true goal and the plan's end. A plan ends on its goal's cell, or,
when the goal cannot be ended on, at an approach point the planner picks at least a cell clear of every
disc as spared for the goal (:func:`clear_of`), so that sparing that point as well shrinks no disc: the
planner marks its discs sparing the goal before it searches, and the follower, sparing its plan's end and
the goal the planner's status names for it, marks the very same cells.

Pure: no ROS. Positions and radii in metres, in the costmap's frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

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


Point = tuple[float, float]


def spared(
    places: Iterable[KeepOutPlace],
    geometry: GridGeometry,
    spare: Point | Iterable[Point] | None = None,
) -> list[KeepOutPlace]:
    """The places with each disc shrunk to leave the centre of the cell holding every ``spare`` point
    outside, less one cell (discs left with no radius are dropped).

    ``spare`` is one point or several (the goal, the plan's end); a cell's centre is used wherever in
    the cell the point lies, so the planner sparing its goal and the follower sparing the plan's end
    (that cell's centre) shrink a disc alike.
    """
    res = geometry.resolution
    centres = [
        (
            geometry.origin_x + (math.floor((px - geometry.origin_x) / res) + 0.5) * res,
            geometry.origin_y + (math.floor((py - geometry.origin_y) / res) + 0.5) * res,
        )
        for px, py in _points(spare)
    ]
    result = []
    for place in places:
        r = min([place.radius] + [math.hypot(sx - place.x, sy - place.y) - res for sx, sy in centres])
        if r > 0:
            result.append(place if r == place.radius else replace(place, radius=r))
    return result


def mark_keep_out(
    costmap: np.ndarray,
    geometry: GridGeometry,
    places: list[KeepOutPlace],
    spare: Point | Iterable[Point] | None = None,
) -> np.ndarray:
    """The costmap with every cell whose centre lies within a place's radius of it made lethal.

    ``spare`` (one point or several: the goal, the plan's end) shrinks each disc as :func:`spared` does.
    The input is left alone; returned as is when there is nothing to mark.
    """
    if not places:
        return costmap
    res = geometry.resolution
    marked = costmap.copy()
    for place in spared(places, geometry, spare):
        x, y, r = place.x, place.y, place.radius
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


def clear_of(places: Iterable[KeepOutPlace], resolution: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """True for the points (cell centres) lying at least one cell (``resolution`` [m]) beyond every disc:
    sparing such a point shrinks no disc (:func:`spared`), and it lies in none."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    clear = np.ones(xs.shape, dtype=bool)
    for place in places:
        clear &= np.hypot(xs - place.x, ys - place.y) >= place.radius + resolution - 1e-9
    return clear


def _points(spare: Point | Iterable[Point] | None) -> list[Point]:
    """``spare`` as a list of points: None, one (x, y) point, or several."""
    if spare is None:
        return []
    spare = list(spare)
    if len(spare) == 2 and all(np.isscalar(v) for v in spare):
        return [(float(spare[0]), float(spare[1]))]
    return [(float(p[0]), float(p[1])) for p in spare]


def enclosing_radius(places: list[KeepOutPlace], x: float, y: float) -> float:
    """Radius [m] of the largest disc holding the point (x, y); 0 when none does. A rover inside such a
    disc needs that much more room to leave it."""
    return max((p.radius for p in places if math.hypot(x - p.x, y - p.y) <= p.radius), default=0.0)
