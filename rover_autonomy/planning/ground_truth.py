"""Rover-centre costmaps from a world's ground-truth hazard layer (a stand-in for ``terrain/costmap``).

Until the mapping stack's costmap is available, planning is exercised on the worlds' ground truth:
``World.hazard`` marks the nodes where the terrain itself is impassable (slope, step, belly strike; see
``worlds/hazard.py``), without any footprint. This module turns it into rover-centre cost space the way
the mapping node's costmap is defined (the cost of putting the rover's centre on a cell at its best
heading) with a circular approximation of the footprint from the rover model:

- lethal (100) within the footprint's *inscribed* radius (half the track plus half a wheel width): at no
  heading can the rover's centre come closer to a hazard;
- a ramp 99 → ``edge_cost`` out to the *circumscribed* radius (the wheel contact corners): some headings
  clear, others do not;
- then a ramp to 0 over ``margin`` (keep-out preference, as a mapper's soft inflation).

It is deliberately simple (no heading-dependent clearance check); the mapping node's ACE-like check
replaces it in the full stack.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL
from rover_autonomy.rover_model import RoverModel


def footprint_radii(model: RoverModel) -> tuple[float, float]:
    """(inscribed, circumscribed) radii [m] of the wheel footprint about base_link."""
    half_track = max(abs(w.y) for w in model.wheels) + model.wheel_width / 2
    half_base = max(abs(w.x) for w in model.wheels) + model.wheel_radius
    half_body = (model.body.width / 2, model.body.length / 2 + abs(model.body.centre_x))
    inscribed = max(min(half_track, half_base), min(half_body))
    circumscribed = max(math.hypot(half_track, half_base), math.hypot(*half_body))
    return inscribed, circumscribed


def rover_centre_costmap(
    hazard: np.ndarray, resolution: float, model: RoverModel, edge_cost: float = 50.0, margin: float = 0.5
) -> np.ndarray:
    """int8 rover-centre costs (0 … 100) of a boolean/flag hazard raster at ``resolution`` [m]."""
    inscribed, circumscribed = footprint_radii(model)
    distance = ndimage.distance_transform_edt(np.asarray(hazard) == 0) * resolution
    cost = np.zeros(distance.shape)
    between = (distance > inscribed) & (distance <= circumscribed)
    t = (distance[between] - inscribed) / (circumscribed - inscribed)
    cost[between] = 99.0 + (edge_cost - 99.0) * t
    outside = distance > circumscribed
    cost[outside] = np.clip(edge_cost * (1.0 - (distance[outside] - circumscribed) / margin), 0.0, edge_cost)
    cost[distance <= inscribed] = LETHAL
    return np.rint(cost).astype(np.int8)


def world_costmap(world, model: RoverModel) -> tuple[np.ndarray, GridGeometry]:
    """Ground-truth rover-centre costmap of a loaded world (``worlds.load_world``), in ``map``.

    The world's rasters are node-registered; each node becomes the cell centred on it.
    """
    grid = world.grid
    res = grid.resolution
    costmap = rover_centre_costmap(world.hazard, res, model)
    geometry = GridGeometry(
        res, grid.origin[0] - res / 2, grid.origin[1] - res / 2, *grid.shape, frame_id="map"
    )
    return costmap, geometry
