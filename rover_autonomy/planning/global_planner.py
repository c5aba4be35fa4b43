"""Global planner: optimal 8-connected A* on the rover-centre costmap, with incremental replanning.

The costmap is used as is (it is already in rover-centre cost space); :mod:`costs` turns it into
traversal factors and defines the one edge cost. The search is :func:`grid_search.astar`.

Per costmap (``set_costmap``) the planner keeps the factors, the 8-connected components of the passable
cells (so a goal in another component is answered "no path" without searching) and the block minima of
the heuristic (updated only inside the changed region when the map geometry is unchanged).

Replanning (``replan``) reuses the previous plan where that is provably or boundedly safe:

1. nothing changed under the remaining path and no cell became cheaper → the remaining path is still
   optimal (every other path can only have become dearer); it is kept as is;
2. cells became cheaper off the path → a lower bound on any path through them (cost from the start at
   the cheapest factor + the goal's heuristic potential) is compared with the current cost; the path is
   kept if no cheaper cell can beat it;
3. cells on the path became dearer or forbidden → the affected stretch is re-searched inside a window
   around it (bounded-window repair, as field planners do between full replans); the result is not
   guaranteed optimal, so callers also replan in full periodically;
4. otherwise (different geometry, new goal, repair failed) → a full plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL, CostModel, path_cost
from rover_autonomy.planning.grid_search import (
    NO_POTENTIALS,
    _heuristic_grid,
    astar,
    block_minima,
    block_potentials,
)


def cover(
    costmap: np.ndarray, geometry: GridGeometry, points: list[tuple[float, float]], margin: float
) -> tuple[np.ndarray, GridGeometry]:
    """The costmap grown with unknown cells (−1) until it holds every point with ``margin`` [m] to spare.

    A rolling map window is smaller than a rover's traverse: a goal beyond it is planned to through
    unknown terrain (at the unknown cost), as field planners do, and the plan sharpens as the map grows.
    Cells keep their world position and the grid its frame; the grid is returned unchanged when it
    already holds the points.
    """
    res = geometry.resolution
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x1, y1 = geometry.origin_x + geometry.width * res, geometry.origin_y + geometry.height * res
    left = max(0, math.ceil((geometry.origin_x - (min(xs) - margin)) / res))
    bottom = max(0, math.ceil((geometry.origin_y - (min(ys) - margin)) / res))
    right = max(0, math.ceil((max(xs) + margin - x1) / res))
    top = max(0, math.ceil((max(ys) + margin - y1) / res))
    if not (left or bottom or right or top):
        return costmap, geometry
    grown = np.pad(costmap, ((bottom, top), (left, right)), constant_values=-1)
    origin_x, origin_y = geometry.origin_x - left * res, geometry.origin_y - bottom * res
    return grown, replace(
        geometry, origin_x=origin_x, origin_y=origin_y, height=grown.shape[0], width=grown.shape[1]
    )


def keep_out(
    costmap: np.ndarray,
    geometry: GridGeometry,
    centres: list[tuple[float, float]],
    radius: float,
    spare: tuple[float, float] | None = None,
) -> np.ndarray:
    """The costmap with every cell whose centre lies within ``radius`` [m] of a centre made lethal:
    places the map cannot show as hazards (where the rover got stuck) kept out of the plans. A disc
    shrinks to leave the point ``spare`` (the goal) outside it: a place stuck near the goal must not
    make the goal itself unreachable."""
    if not centres:
        return costmap
    marked = costmap.copy()
    res = geometry.resolution
    for x, y in centres:
        r = radius if spare is None else min(radius, math.hypot(spare[0] - x, spare[1] - y) - res)
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


@dataclass
class PlanResult:
    """Outcome of a plan or replan. ``points`` are cell centres from start to goal [m]."""

    ok: bool
    reason: str = ""
    cells: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    cost: float = math.inf  # [m-equivalent]: metres × traversal factor
    expanded: int = 0
    method: str = "full"  # full | kept | repaired


class GlobalPlanner:
    """Plans on one costmap at a time; see the module docstring.

    cost_model: how cell values become traversal factors
    block: block size of the heuristic's potentials [cells]; 0 uses the octile bound alone
    repair_margin: cells added around the damaged stretch of the path for a window repair
    start_escape_radius: when the start cell is forbidden (map noise under the rover), start from the
        nearest passable cell within this distance [m]
    """

    def __init__(
        self,
        cost_model: CostModel | None = None,
        block: int = 4,
        repair_margin: int = 40,
        start_escape_radius: float = 0.5,
    ):
        self.cost_model = cost_model or CostModel()
        self.block = block
        self.repair_margin = repair_margin
        self.start_escape_radius = start_escape_radius
        self.geometry: GridGeometry | None = None
        self.factors: np.ndarray | None = None
        self._costmap: np.ndarray | None = None
        self._plan_factors: np.ndarray | None = None  # the factors the current plan was made on
        self._labels: np.ndarray | None = None
        self._block_min: np.ndarray | None = None
        self._goal_xy: tuple[float, float] | None = None  # world goal of the last plan [m]
        self._goal_cell: tuple[int, int] | None = None
        self._potentials: np.ndarray | None = None
        self._path: np.ndarray | None = None  # cells of the current plan
        self._path_cost_cells = math.inf

    # -- costmap ------------------------------------------------------------------------------
    def set_costmap(self, costmap: np.ndarray, geometry: GridGeometry) -> None:
        """Take a new costmap: (H, W) integer cell values, row = y, col = x."""
        costmap = np.asarray(costmap)
        if costmap.shape != (geometry.height, geometry.width):
            raise ValueError(f"costmap shape {costmap.shape} does not match {geometry}")
        factors = self.cost_model.factors(costmap)
        same_grid = self.geometry == geometry and self.factors is not None
        if same_grid and self.block > 0 and self._block_min is not None:
            self._block_min = self._update_block_minima(self.factors, factors)
        else:
            self._block_min = block_minima(factors, self.block) if self.block > 0 else None
        self.geometry = geometry
        self.factors = factors
        self._costmap = costmap
        self._labels, _ = ndimage.label(np.isfinite(factors), structure=np.ones((3, 3), dtype=bool))
        self._potentials = None
        if not same_grid:
            self._path = None

    def _update_block_minima(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        changed = np.argwhere(old != new)
        block_min = self._block_min
        if changed.size == 0:
            return block_min
        b = self.block
        r0, c0 = (changed.min(axis=0) // b) * b
        r1, c1 = changed.max(axis=0) + 1
        block_min = block_min.copy()
        block_min[r0 // b : -(-r1 // b), c0 // b : -(-c1 // b)] = block_minima(new[r0:r1, c0:c1], b)
        return block_min

    # -- planning -----------------------------------------------------------------------------
    def plan(self, start_xy: tuple[float, float], goal_xy: tuple[float, float]) -> PlanResult:
        """A full optimal plan from ``start_xy`` to ``goal_xy`` (world [m], the costmap's frame)."""
        if self.factors is None:
            return PlanResult(False, "no costmap")
        self._goal_xy = (float(goal_xy[0]), float(goal_xy[1]))
        geo = self.geometry
        goal = geo.to_cell(*goal_xy)
        if goal is None:
            return PlanResult(False, f"goal ({goal_xy[0]:.2f}, {goal_xy[1]:.2f}) is outside the costmap")
        if not np.isfinite(self.factors[goal]):
            value = int(self._costmap[goal])
            if value < 0:
                return PlanResult(False, "goal is on an unknown cell and unknown cells are forbidden")
            return PlanResult(False, f"goal is on a lethal cell (cost {value})")
        start, reason = self._start_cell(start_xy)
        if start is None:
            return PlanResult(False, reason)
        if self._labels[start] != self._labels[goal]:
            self._path = None
            return PlanResult(False, "no path: the goal is cut off from the rover by lethal cells")
        self._set_goal(goal)
        cells, _, expanded = astar(
            self.factors, *start, *goal, 0, geo.height, 0, geo.width, self._potentials, self.block
        )
        if cells.shape[0] == 0:  # cannot happen when the components agree; kept as a guard
            self._path = None
            return PlanResult(False, "no path found", expanded=expanded)
        return self._accept(cells, expanded, "full")

    def replan(self, start_xy: tuple[float, float]) -> PlanResult:
        """Plan again to the last goal from ``start_xy``, reusing the previous plan where possible."""
        if self._goal_xy is None:
            return PlanResult(False, "no goal")
        goal_xy = self._goal_xy  # in world coordinates: the grid may have moved (rolling window)
        if self._path is None:
            return self.plan(start_xy, goal_xy)
        start, reason = self._start_cell(start_xy)
        if start is None:
            return PlanResult(False, reason)
        path = self._remaining_path(start)
        if path is None:  # the rover is off the plan
            return self.plan(start_xy, goal_xy)
        old, new = self._plan_factors, self.factors
        on_path_old = old[path[:, 0], path[:, 1]]
        on_path_new = new[path[:, 0], path[:, 1]]
        damaged = np.flatnonzero(on_path_new != on_path_old)
        if damaged.size == 0:
            if self._cheaper_cells_cannot_help(start, old, new, path):
                return self._accept(path, 0, "kept")
            return self.plan(start_xy, goal_xy)
        repaired = self._repair(path, damaged)
        if repaired is None:
            return self.plan(start_xy, goal_xy)
        return repaired

    # -- internals ----------------------------------------------------------------------------
    def _start_cell(self, start_xy) -> tuple[tuple[int, int] | None, str]:
        start = self.geometry.to_cell(*start_xy)
        if start is None:
            return None, f"rover position ({start_xy[0]:.2f}, {start_xy[1]:.2f}) is outside the costmap"
        if np.isfinite(self.factors[start]):
            return start, ""
        # The rover stands on a forbidden cell (noise, or it drove there): leave by the nearest free one.
        reach = math.ceil(self.start_escape_radius / self.geometry.resolution)
        r0, c0 = max(start[0] - reach, 0), max(start[1] - reach, 0)
        window = self.factors[r0 : start[0] + reach + 1, c0 : start[1] + reach + 1]
        free = np.argwhere(np.isfinite(window))
        if free.size == 0:
            return None, "the rover stands on lethal cells with no free cell nearby"
        d = np.hypot(free[:, 0] + r0 - start[0], free[:, 1] + c0 - start[1])
        best = free[np.argmin(d)]
        if d.min() * self.geometry.resolution > self.start_escape_radius:
            return None, "the rover stands on lethal cells with no free cell nearby"
        return (int(best[0] + r0), int(best[1] + c0)), ""

    def _set_goal(self, goal: tuple[int, int]) -> None:
        if self._goal_cell != goal or self._potentials is None:
            self._goal_cell = goal
            if self.block > 0:
                self._potentials = block_potentials(self._block_min, self.block, *goal)
            else:
                self._potentials = NO_POTENTIALS

    def _accept(self, cells: np.ndarray, expanded: int, method: str) -> PlanResult:
        self._path = cells
        self._plan_factors = self.factors
        self._path_cost_cells = path_cost(self.factors, cells)
        res = self.geometry.resolution
        return PlanResult(
            True,
            cells=cells,
            points=self.geometry.cell_centres(cells),
            cost=self._path_cost_cells * res,
            expanded=expanded,
            method=method,
        )

    def _remaining_path(self, start: tuple[int, int]) -> np.ndarray | None:
        """The previous plan from the cell nearest the rover (None if the rover is not next to it)."""
        path = self._path
        d = np.maximum(np.abs(path[:, 0] - start[0]), np.abs(path[:, 1] - start[1]))
        nearest = int(np.argmin(d))
        if d[nearest] > 1:
            return None
        if d[nearest] == 0:
            return path[nearest:]
        return np.vstack([np.array([start]), path[nearest:]])

    def _cheaper_cells_cannot_help(self, start, old, new, path) -> bool:
        """True if no cell that became cheaper can lie on a path cheaper than ``path`` (exact test)."""
        cheaper = np.argwhere(new < old)
        if cheaper.size == 0:
            return True
        self._set_goal(self._goal_cell)
        current = path_cost(new, path)
        h_scale = float(np.min(new))
        lower = _heuristic_grid(cheaper, start, self._goal_cell, h_scale, self._potentials, self.block)
        return bool(lower.min() >= current)

    def _repair(self, path: np.ndarray, damaged: np.ndarray) -> PlanResult | None:
        """Re-search the damaged stretch of ``path`` inside a window around it; None if that fails."""
        margin = self.repair_margin
        first = max(int(damaged.min()) - margin, 0)
        last = min(int(damaged.max()) + margin, path.shape[0] - 1)
        # Anchors must be passable: walk outwards past forbidden cells.
        while first > 0 and not np.isfinite(self.factors[tuple(path[first])]):
            first -= 1
        while last < path.shape[0] - 1 and not np.isfinite(self.factors[tuple(path[last])]):
            last += 1
        a, b = path[first], path[last]
        if not (np.isfinite(self.factors[tuple(a)]) and np.isfinite(self.factors[tuple(b)])):
            return None
        stretch = path[first : last + 1]
        r0 = max(int(stretch[:, 0].min()) - margin, 0)
        r1 = min(int(stretch[:, 0].max()) + margin + 1, self.geometry.height)
        c0 = max(int(stretch[:, 1].min()) - margin, 0)
        c1 = min(int(stretch[:, 1].max()) + margin + 1, self.geometry.width)
        section, _, expanded = astar(self.factors, *a, *b, r0, r1, c0, c1, NO_POTENTIALS, 0)
        if section.shape[0] == 0:
            return None
        cells = np.vstack([path[:first], section, path[last + 1 :]])
        return self._accept(cells, expanded, "repaired")
