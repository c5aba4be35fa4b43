"""Scores of an elevation map and its costmap against a ground-truth terrain (tests and benchmarks).

* height RMSE over observed cells (known elevation) within ``radius`` of the rover, against the mean
  true height over each cell;
* rocks: among rocks taller than a threshold whose centre cell has a known cost ("observed"), the
  fraction whose centre cell is lethal;
* false lethal: cells lethal in the map but not when the same chain runs on the true surface, as a
  fraction of the cells with a known cost; missed lethal: the converse (the safety-relevant error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rover_autonomy.harness.terrains import Terrain
from rover_autonomy.mapping.clearance import LETHAL
from rover_autonomy.mapping.grid import ElevationMap


@dataclass(frozen=True)
class Score:
    height_cells: int  # observed cells within the radius
    height_rmse: float  # [m]
    cost_cells: int  # cells with a known cost
    false_lethal: int
    missed_lethal: int
    rocks_observed: int  # taller than the threshold, centre cell with a known cost
    rocks_lethal: int


def truth_grid(terrain: Terrain, like: ElevationMap) -> ElevationMap:
    """An exactly known map of the same geometry as ``like``: cell means of the true surface."""
    truth = ElevationMap(
        like.shape[1] * like.resolution, like.shape[0] * like.resolution, like.resolution, like.centre
    )
    x, y = truth.cell_centres()
    truth["elevation"][:] = terrain.cell_means(x, y, truth.resolution)
    truth["variance"][:] = 0.0
    return truth


def score(
    grid: ElevationMap, truth: ElevationMap, terrain: Terrain, rover_xy, radius: float, rock_height: float
) -> Score:
    """Compare ``grid`` with ``truth`` (same geometry, traversability layers computed on both)."""
    x, y = grid.cell_centres()
    distance = np.hypot(x[None, :] - rover_xy[0], y[:, None] - rover_xy[1])
    near = grid.known & (distance <= radius)
    error = grid["elevation"][near] - truth["elevation"][near]
    rmse = float(np.sqrt(np.mean(error * error))) if error.size else float("nan")
    cost, true_cost = grid["cost"], truth["cost"]
    rated = np.isfinite(cost)
    lethal, true_lethal = cost >= LETHAL, true_cost >= LETHAL
    rocks = terrain.rocks[terrain.rocks[:, 3] > rock_height]
    row, col, inside = grid.cell_of(rocks[:, 0], rocks[:, 1])
    row, col = row[inside], col[inside]
    observed = rated[row, col]
    return Score(
        height_cells=int(near.sum()),
        height_rmse=rmse,
        cost_cells=int(rated.sum()),
        false_lethal=int((rated & lethal & ~true_lethal).sum()),
        missed_lethal=int((rated & ~lethal & true_lethal).sum()),
        rocks_observed=int(observed.sum()),
        rocks_lethal=int(lethal[row, col][observed].sum()),
    )
