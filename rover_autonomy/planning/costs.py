"""The one edge-cost model of navigation: how much it costs to drive from one costmap cell to the next.

The costmap (``terrain/costmap``) is in rover-centre cost space: the value of a cell is the cost of
placing the rover's centre there at its best heading, 0 free … 99 costly, 100 lethal, −1 unknown. It is
used as is, never inflated again.

A cell of cost ``c`` gets the *traversal factor* ``f = 1 + weight · c`` (unknown cells take
``unknown_cost`` for ``c``, lethal cells ``inf``). A straight move between the centres of two cells is
half in each, so its cost is

    edge_cost = step_length · (f_a + f_b) / 2  =  step_length · (1 + weight · (c_a + c_b) / 2)

— the same convention as scikit-image's ``MCP_Geometric``, so both planners solve the same problem.
``edge_cost`` is the single definition: the search kernel calls it for every edge it relaxes, and
:func:`path_cost` calls it to score any path, ours or a reference's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

FREE = 0
LETHAL = 100  # OccupancyGrid value of a cell the rover's centre must never occupy
UNKNOWN = -1


@dataclass(frozen=True)
class CostModel:
    """How costmap values become traversal factors.

    weight: extra cost per unit of cell cost; a cell of cost 50 with weight 0.02 costs twice its length [1]
    unknown_cost: cell cost assumed for unknown (−1) cells, 0..99; ``None`` forbids unknown cells
    lethal_cost: cells at or above this value are forbidden [0..100]
    """

    weight: float = 0.02
    unknown_cost: float | None = 50.0
    lethal_cost: int = LETHAL

    def __post_init__(self):
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"weight must be finite and >= 0, got {self.weight}")
        if self.unknown_cost is not None and not (0 <= self.unknown_cost < LETHAL):
            raise ValueError(f"unknown_cost must be in [0, 100) or None, got {self.unknown_cost}")
        if not (1 <= self.lethal_cost <= LETHAL):
            raise ValueError(f"lethal_cost must be in [1, 100], got {self.lethal_cost}")

    def factors(self, costmap: np.ndarray) -> np.ndarray:
        """Traversal factor of every cell (float64, ``inf`` where forbidden), same shape as ``costmap``."""
        values = np.asarray(costmap)
        factor = 1.0 + self.weight * np.clip(values, 0, LETHAL).astype(np.float64)
        factor[values >= self.lethal_cost] = np.inf
        unknown = values < 0
        if self.unknown_cost is None:
            factor[unknown] = np.inf
        else:
            factor[unknown] = 1.0 + self.weight * self.unknown_cost
        return factor


@numba.njit(cache=True, inline="always")
def edge_cost(step_length: float, factor_a: float, factor_b: float) -> float:
    """Cost of the straight move between two adjacent cell centres, half in each cell [m-equivalent]."""
    return step_length * 0.5 * (factor_a + factor_b)


@numba.njit(cache=True)
def _path_cost_cells(factors: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    total = 0.0
    for k in range(1, rows.shape[0]):
        dr = abs(rows[k] - rows[k - 1])
        dc = abs(cols[k] - cols[k - 1])
        if dr > 1 or dc > 1 or dr + dc == 0:
            return np.nan  # not a chain of adjacent cells
        step = math.sqrt(2.0) if dr + dc == 2 else 1.0
        total += edge_cost(step, factors[rows[k - 1], cols[k - 1]], factors[rows[k], cols[k]])
    return total


def path_cost(factors: np.ndarray, cells: np.ndarray, resolution: float = 1.0) -> float:
    """Cost of a path given as an (N, 2) array of (row, col) cells, each adjacent to the next.

    Returns ``inf`` if the path enters a forbidden cell; raises ``ValueError`` if two consecutive cells
    are not 8-neighbours.
    """
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    cost = _path_cost_cells(np.asarray(factors, dtype=np.float64), cells[:, 0].copy(), cells[:, 1].copy())
    if np.isnan(cost):
        raise ValueError("path_cost: consecutive cells must be distinct 8-neighbours")
    return cost * resolution
