"""Global planner core: edge costs, heuristic consistency, optimality against scikit-image, replanning."""

import math
import time

import numpy as np
import pytest
from skimage.graph import MCP_Geometric

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.harness.costmaps import add_closed_wall, enclose, random_costmap
from rover_autonomy.planning.costs import LETHAL, UNKNOWN, CostModel, path_cost
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.planning.grid_search import (
    _heuristic_grid,
    astar,
    block_minima,
    block_potentials,
)

RES = 0.1


def mcp_reference(factors, start, goal):
    """Path and cost from scikit-image's MCP_Geometric on the same factors (inf -> impassable)."""
    mcp = MCP_Geometric(np.where(np.isfinite(factors), factors, -1.0), fully_connected=True)
    costs, _ = mcp.find_costs([start], [goal])
    if not np.isfinite(costs[goal]):
        return None
    return np.array(mcp.traceback(goal))


def test_cost_model_maps_values_to_factors():
    model = CostModel(weight=0.02, unknown_cost=50.0)
    f = model.factors(np.array([[0, 50, 99, 100, UNKNOWN]], dtype=np.int8))
    np.testing.assert_allclose(f[0, :3], [1.0, 2.0, 2.98])
    assert f[0, 3] == np.inf
    assert f[0, 4] == pytest.approx(2.0)
    assert CostModel(unknown_cost=None).factors(np.array([[UNKNOWN]]))[0, 0] == np.inf
    assert CostModel(lethal_cost=90).factors(np.array([[90]]))[0, 0] == np.inf
    for bad in ({"weight": -1}, {"unknown_cost": 100}, {"lethal_cost": 0}, {"weight": math.nan}):
        with pytest.raises(ValueError):
            CostModel(**bad)


def test_path_cost_is_length_times_mean_factor():
    f = np.array([[1.0, 3.0], [2.0, np.inf]])
    assert path_cost(f, [[0, 0], [0, 1]]) == pytest.approx(2.0)  # 1 · (1 + 3) / 2
    assert path_cost(f, [[1, 0], [0, 1]]) == pytest.approx(math.sqrt(2) * 2.5)
    assert path_cost(f, [[0, 0], [0, 1]], resolution=0.1) == pytest.approx(0.2)
    assert path_cost(f, [[0, 1], [1, 1]]) == np.inf
    with pytest.raises(ValueError):
        path_cost(f, [[0, 0], [1, 1], [1, 1]])
    with pytest.raises(ValueError):
        path_cost(np.ones((3, 3)), [[0, 0], [2, 2]])


def test_uniform_grid_path_cost_is_octile_distance():
    f = np.ones((50, 80))
    cells, cost, _ = astar(f, 5, 3, 40, 70, 0, 50, 0, 80, np.zeros((2, 1, 1)), 0)
    assert cost == pytest.approx(35 * math.sqrt(2) + 32, rel=1e-6)
    assert path_cost(f, cells) == pytest.approx(cost, rel=1e-6)
    assert tuple(cells[0]) == (5, 3) and tuple(cells[-1]) == (40, 70)


def test_block_heuristic_is_consistent_and_admissible():
    rng = np.random.default_rng(7)
    factors = CostModel().factors(random_costmap((240, 260), RES, rng))
    free = np.argwhere(np.isfinite(factors))
    goal = tuple(free[rng.integers(len(free))])
    block = 4
    pot = block_potentials(block_minima(factors, block), block, *goal)
    h_scale = float(factors.min())
    # h of every cell: _heuristic_grid adds the octile distance from its "start" (here the goal); remove it.
    all_cells = np.argwhere(np.ones(factors.shape, dtype=bool))
    h = _heuristic_grid(all_cells, goal, goal, h_scale, pot, block)
    octile_from_goal = h_scale * np.array(
        [
            (max(abs(r - goal[0]), abs(c - goal[1])) - min(abs(r - goal[0]), abs(c - goal[1])))
            + math.sqrt(2) * min(abs(r - goal[0]), abs(c - goal[1]))
            for r, c in all_cells
        ]
    )
    h = (h - octile_from_goal).reshape(factors.shape)
    assert h[goal] == 0.0
    # Consistency on every edge between passable cells: h(u) <= edge_cost(u, v) + h(v).
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = (slice(0, factors.shape[0] - dr), slice(max(-dc, 0), factors.shape[1] - max(dc, 0)))
        b = (slice(dr, None), slice(max(dc, 0), factors.shape[1] - max(-dc, 0) or None))
        fa, fb = factors[a], factors[b]
        both = np.isfinite(fa) & np.isfinite(fb) & np.isfinite(h[a]) & np.isfinite(h[b])
        edge = math.hypot(dr, dc) * (fa + fb) / 2
        step = np.abs(h[a][both] - h[b][both])
        assert np.all(step <= edge[both] * (1 + 1e-9) + 1e-9)
    # Admissibility against the true cost-to-go (MCP from the goal).
    mcp = MCP_Geometric(np.where(np.isfinite(factors), factors, -1.0))
    to_go, _ = mcp.find_costs([goal])
    reachable = np.isfinite(to_go) & np.isfinite(factors)
    assert np.all(h[reachable] <= to_go[reachable] * (1 + 1e-6) + 1e-6)
    # ... and it is much tighter than the plain octile bound on average.
    octile = octile_from_goal.reshape(factors.shape)
    assert np.mean(h[reachable] / np.maximum(to_go[reachable], 1e-9)) > 1.02 * np.mean(
        octile[reachable] / np.maximum(to_go[reachable], 1e-9)
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_costmaps_match_mcp_geometric(seed):
    rng = np.random.default_rng(100 + seed)
    costmap = random_costmap((300, 300), RES, rng, rock_density=0.03, craters=2, walls=1, unknown_patches=3)
    geo = GridGeometry(RES, 0.0, 0.0, 300, 300)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geo)
    factors = planner.factors
    free = np.argwhere(np.isfinite(factors))
    solved = 0
    for _ in range(6):
        start, goal = (tuple(int(v) for v in free[rng.integers(len(free))]) for _ in range(2))
        ref = mcp_reference(factors, start, goal)
        result = planner.plan(*geo.cell_centres(np.array([start, goal])))
        if ref is None:
            assert not result.ok and "no path" in result.reason
            continue
        assert result.ok, result.reason
        solved += 1
        assert tuple(result.cells[0]) == start and tuple(result.cells[-1]) == goal
        ours, theirs = path_cost(factors, result.cells, RES), path_cost(factors, ref, RES)
        assert ours == pytest.approx(result.cost)
        assert theirs * 0.999 <= ours <= 1.01 * theirs
    assert solved >= 2


@pytest.mark.parametrize("kind", ["wall", "enclosed_goal", "enclosed_start"])
def test_unsolvable_answered_quickly(kind):
    rng = np.random.default_rng(5)
    costmap = random_costmap((1000, 1000), RES, rng, walls=0)
    if kind == "wall":
        costmap = add_closed_wall(costmap, 500, horizontal=False)
        start, goal = (-40.0, 0.0), (40.0, 0.0)
    else:
        centre = (800, 800) if kind == "enclosed_goal" else (200, 200)
        costmap = enclose(costmap, centre, radius=60)
        costmap[centre[0] - 3 : centre[0] + 4, centre[1] - 3 : centre[1] + 4] = 0
        inside = (centre[1] * RES - 50 + 0.05, centre[0] * RES - 50 + 0.05)
        outside = (0.05, 0.05) if kind == "enclosed_goal" else (40.05, -20.05)
        costmap[500, 500] = 0
        costmap[int((outside[1] + 50) / RES), int((outside[0] + 50) / RES)] = 0
        start, goal = (outside, inside) if kind == "enclosed_goal" else (inside, outside)
    planner = GlobalPlanner()
    t0 = time.perf_counter()
    planner.set_costmap(costmap, GridGeometry(RES, -50.0, -50.0, 1000, 1000))
    result = planner.plan(start, goal)
    elapsed = time.perf_counter() - t0
    assert not result.ok
    assert "no path" in result.reason
    assert elapsed < 1.0


def test_bad_requests_are_explained():
    costmap = np.zeros((100, 100), dtype=np.int8)
    costmap[50:60, 50:60] = LETHAL
    costmap[0:10, 0:10] = UNKNOWN
    geo = GridGeometry(RES, 0.0, 0.0, 100, 100)
    planner = GlobalPlanner(CostModel(unknown_cost=None))
    assert "no costmap" in planner.plan((1, 1), (2, 2)).reason
    planner.set_costmap(costmap, geo)
    assert "outside" in planner.plan((1, 1), (20, 2)).reason
    assert "outside" in planner.plan((1, 1), (math.nan, 2)).reason
    assert "lethal" in planner.plan((1, 1), (5.5, 5.5)).reason
    assert "unknown" in planner.plan((5, 5), (0.5, 0.5)).reason
    assert "outside" in planner.plan((-1, 1), (2, 2)).reason
    with pytest.raises(ValueError):
        planner.set_costmap(costmap[:50], geo)
    # Unknown cells are forbidden with unknown_cost=None; the path must avoid them.
    result = planner.plan((0.05, 1.5), (1.5, 0.05))
    assert result.ok
    assert np.all(costmap[result.cells[:, 0], result.cells[:, 1]] >= 0)


def test_start_on_lethal_cell_escapes_to_nearest_free_cell():
    costmap = np.zeros((100, 100), dtype=np.int8)
    costmap[40:43, 40:43] = LETHAL
    planner = GlobalPlanner()
    planner.set_costmap(costmap, GridGeometry(RES, 0.0, 0.0, 100, 100))
    result = planner.plan((4.15, 4.15), (9.0, 9.0))
    assert result.ok
    assert np.all(costmap[result.cells[:, 0], result.cells[:, 1]] < LETHAL)
    costmap[20:80, 20:80] = LETHAL
    planner.set_costmap(costmap, GridGeometry(RES, 0.0, 0.0, 100, 100))
    assert "no free cell" in planner.plan((5.0, 5.0), (9.5, 9.5)).reason


def _planner_on_random_map(seed=11, size=400):
    rng = np.random.default_rng(seed)
    costmap = random_costmap((size, size), RES, rng, walls=0, craters=1)
    geo = GridGeometry(RES, 0.0, 0.0, size, size)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geo)
    free = np.argwhere((costmap >= 0) & (costmap < 30))
    start = free[np.argmin(np.hypot(*(free - [20, 20]).T))]
    goal = free[np.argmin(np.hypot(*(free - [size - 20, size - 30]).T))]
    start_xy, goal_xy = geo.cell_centres(np.array([start, goal]))
    first = planner.plan(start_xy, goal_xy)
    assert first.ok
    return planner, costmap, geo, start_xy, goal_xy, first


def test_replan_keeps_plan_when_changes_miss_it():
    planner, costmap, geo, start_xy, _, first = _planner_on_random_map()
    changed = costmap.copy()
    on_path = np.zeros(costmap.shape, dtype=bool)
    on_path[first.cells[:, 0], first.cells[:, 1]] = True
    far = np.argwhere(~ndimage_dilate(on_path, 30))[0]
    changed[far[0] : far[0] + 5, far[1] : far[1] + 5] = LETHAL  # dearer off the path
    planner.set_costmap(changed, geo)
    again = planner.replan(start_xy)
    assert again.method == "kept"
    np.testing.assert_array_equal(again.cells, first.cells)
    # A cell off the path that became cheaper, too far away to help: still kept (exact bound).
    cheaper = changed.copy()
    cheaper[far[0] : far[0] + 5, far[1] : far[1] + 5] = 0
    cheaper[far[0] + 6, far[1] + 6] = 0
    planner.set_costmap(cheaper, geo)
    assert planner.replan(start_xy).cost == pytest.approx(first.cost)


def test_replan_repairs_blocked_stretch_locally():
    planner, costmap, geo, start_xy, goal_xy, first = _planner_on_random_map()
    mid = first.cells[len(first.cells) // 2]
    changed = costmap.copy()
    changed[mid[0] - 6 : mid[0] + 7, mid[1] - 6 : mid[1] + 7] = LETHAL  # a new rock on the path
    planner.set_costmap(changed, geo)
    repaired = planner.replan(start_xy)
    assert repaired.ok and repaired.method == "repaired"
    assert np.all(changed[repaired.cells[:, 0], repaired.cells[:, 1]] < LETHAL)
    assert repaired.expanded < first.expanded / 5
    full = GlobalPlanner()
    full.set_costmap(changed, geo)
    optimal = full.plan(start_xy, goal_xy)
    assert optimal.cost <= repaired.cost <= 1.05 * optimal.cost


def test_replan_from_off_path_position_plans_in_full():
    planner, _, geo, _, _, first = _planner_on_random_map()
    on_path = np.zeros(planner.factors.shape, dtype=bool)
    on_path[first.cells[:, 0], first.cells[:, 1]] = True
    near = ndimage_dilate(on_path, 20) & ~ndimage_dilate(on_path, 10) & np.isfinite(planner.factors)
    candidates = np.argwhere(near)
    off = candidates[np.argmin(np.hypot(*(candidates - first.cells[len(first.cells) // 3]).T))]
    off_xy = geo.cell_centres(off[None])[0]
    result = planner.replan(tuple(off_xy))
    assert result.ok and result.method == "full"
    assert np.hypot(*(result.points[0] - off_xy)) < 0.1


def test_replan_further_along_path_reuses_remaining_path():
    planner, _, geo, _, _, first = _planner_on_random_map()
    k = len(first.cells) // 2
    result = planner.replan(tuple(geo.cell_centres(first.cells[k][None])[0]))
    assert result.method == "kept"
    np.testing.assert_array_equal(result.cells, first.cells[k:])


def ndimage_dilate(mask, iterations):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=iterations)


def test_replan_follows_a_rolling_window_to_the_same_world_goal():
    costmap = np.zeros((200, 200), np.int8)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, GridGeometry(RES, -10.0, -10.0, 200, 200))
    assert planner.plan((0.0, 0.0), (8.0, 3.0)).ok
    # The window moves 2.5 m with the rover: same shape, new origin.
    planner.set_costmap(costmap, GridGeometry(RES, -7.5, -10.0, 200, 200))
    moved = planner.replan((1.0, 0.5))
    assert moved.ok
    np.testing.assert_allclose(moved.points[-1], (8.05, 3.05), atol=RES)
    np.testing.assert_allclose(moved.points[0], (1.05, 0.55), atol=RES)


def test_cover_grows_the_grid_with_unknown_cells_around_far_points():
    from rover_autonomy.planning.global_planner import cover

    costs = np.zeros((20, 30), np.int8)
    geo = GridGeometry(0.5, -5.0, -5.0, 20, 30, frame_id="map")
    same, same_geo = cover(costs, geo, [(1.0, 1.0)], margin=1.0)
    assert same is costs and same_geo == geo
    grown, grown_geo = cover(costs, geo, [(20.0, -9.0)], margin=1.0)
    assert grown_geo.frame_id == "map" and grown.shape == (grown_geo.height, grown_geo.width)
    assert grown_geo.to_cell(20.0, -9.0) is not None and grown_geo.to_cell(20.9, -9.9) is not None
    # Old cells keep their world position and values; new cells are unknown.
    row, col = grown_geo.to_cell(-4.9, -4.9)
    assert grown[row : row + 20, col : col + 30].tolist() == costs.tolist()
    assert (grown == -1).sum() == grown.size - costs.size
