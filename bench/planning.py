"""Planning benchmark: global planner vs scikit-image MCP_Geometric, replanning, follower decisions.

Grids are synthetic rover-centre costmaps (rock fields, craters, walls with gaps, unknown patches:
``rover_autonomy.planning.synthetic_costmaps``), 1000 × 1000 cells at 0.1 m. Both planners solve the same
problem (MCP gets our traversal factors) and both paths are scored with the one edge-cost function.

    PYTHONPATH=$PWD .venv/bin/python bench/planning.py [--grids 4] [--pairs 5] [--seed 0]

Figures:
- plan: our A* per start/goal pair (costmap already taken), and with the costmap update included
  (factors, components, heuristic block minima) — what the first plan on a new costmap costs;
- MCP_Geometric: constructor + find_costs (stopping at the goal) + traceback;
- replan after a small local change on the path (a new 0.3 m rock) vs a full plan on the changed map,
  both including the costmap update;
- "no path" answer time for a map split by a closed wall;
- follower: one arc decision (21 arcs × 40 samples) at poses along a plan.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from skimage.graph import MCP_Geometric

from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig
from rover_autonomy.planning.costs import LETHAL, path_cost
from rover_autonomy.planning.global_planner import GlobalPlanner, GridGeometry
from rover_autonomy.planning.synthetic_costmaps import add_closed_wall, random_costmap
from rover_autonomy.rover_model import load_rover_model

SIZE = 1000
RES = 0.1
GEO = GridGeometry(RES, -50.0, -50.0, SIZE, SIZE)


def pick_pairs(planner: GlobalPlanner, rng: np.random.Generator, count: int, min_distance: float):
    """Start/goal cells at least ``min_distance`` apart, in the same connected component."""
    labels = planner._labels
    free = np.argwhere(np.isfinite(planner.factors))
    pairs = []
    while len(pairs) < count:
        a, b = free[rng.integers(len(free), size=2)]
        if math.hypot(*(a - b)) * RES >= min_distance and labels[tuple(a)] == labels[tuple(b)]:
            pairs.append((tuple(int(v) for v in a), tuple(int(v) for v in b)))
    return pairs


def mcp_plan(factors, start, goal):
    mcp = MCP_Geometric(np.where(np.isfinite(factors), factors, -1.0), fully_connected=True)
    mcp.find_costs([start], [goal])
    return np.array(mcp.traceback(goal))


def new_rock(costmap: np.ndarray, centre, rock_radius=0.3, inflate=0.5, margin=0.6) -> np.ndarray:
    """A copy of ``costmap`` with one more rock in rover-centre cost space (lethal disc + ramp)."""
    out = costmap.copy()
    reach = int((rock_radius + inflate + margin) / RES) + 1
    r0, c0 = centre[0] - reach, centre[1] - reach
    rows, cols = np.ogrid[r0 : centre[0] + reach + 1, c0 : centre[1] + reach + 1]
    d = np.hypot(rows - centre[0], cols - centre[1]) * RES - rock_radius
    ramp = np.clip(np.rint(99 * (1 - (d - inflate) / margin)), 0, 99)
    ramp[d <= inflate] = LETHAL
    window = out[r0 : centre[0] + reach + 1, c0 : centre[1] + reach + 1]
    np.maximum(window, ramp.astype(np.int8), out=window, where=window >= 0)
    window[ramp >= LETHAL] = LETHAL
    return out


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=4, help="number of random grids")
    parser.add_argument("--pairs", type=int, default=5, help="start/goal pairs per grid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    # Warm up the numba kernels (compiled once and cached on disk).
    warm = GlobalPlanner()
    warm.set_costmap(np.zeros((64, 64), np.int8), GridGeometry(RES, 0, 0, 64, 64))
    warm.plan((0.5, 0.5), (5.0, 5.0))

    ours, ours_with_update, mcp, ratios, speedups = [], [], [], [], []
    replan, full, replan_cost = [], [], []
    decisions = []
    config = FollowerConfig.from_rover_model(load_rover_model())
    for g in range(args.grids):
        costmap = random_costmap((SIZE, SIZE), RES, rng)
        planner = GlobalPlanner()
        _, update = timed(planner.set_costmap, costmap, GEO)
        for start, goal in pick_pairs(planner, rng, args.pairs, 40.0):
            start_xy, goal_xy = GEO.cell_centres(np.array([start, goal]))
            result, t_plan = timed(planner.plan, start_xy, goal_xy)
            reference, t_mcp = timed(mcp_plan, planner.factors, start, goal)
            assert result.ok, result.reason
            ratio = path_cost(planner.factors, result.cells) / path_cost(planner.factors, reference)
            ours.append(t_plan)
            ours_with_update.append(t_plan + update)
            mcp.append(t_mcp)
            ratios.append(ratio)
            speedups.append(t_plan / t_mcp)

            # A new rock on the middle of the path, then replan vs full plan on the changed map.
            mid = result.cells[len(result.cells) // 2]
            changed = new_rock(costmap, tuple(int(v) for v in mid))
            replanner = GlobalPlanner()
            replanner.set_costmap(costmap, GEO)
            replanner.plan(start_xy, goal_xy)
            t0 = time.perf_counter()
            replanner.set_costmap(changed, GEO)
            repaired = replanner.replan(start_xy)
            t_replan = time.perf_counter() - t0
            fresh = GlobalPlanner()
            t0 = time.perf_counter()
            fresh.set_costmap(changed, GEO)
            optimal = fresh.plan(start_xy, goal_xy)
            t_full = time.perf_counter() - t0
            assert repaired.ok and optimal.ok
            replan.append(t_replan)
            full.append(t_full)
            replan_cost.append(repaired.cost / optimal.cost)

            # Follower decisions at poses along the plan (heading along the path).
            follower = ArcFollower(config)
            follower.set_plan(result.points)
            pts = result.points
            for k in range(0, len(pts) - 10, max(len(pts) // 20, 1)):
                heading = math.atan2(pts[k + 10, 1] - pts[k, 1], pts[k + 10, 0] - pts[k, 0])
                _, t = timed(follower.decide, (pts[k, 0], pts[k, 1], heading), costmap, GEO)
                decisions.append(t)
        print(f"grid {g}: costmap update {update * 1e3:.1f} ms, lethal {np.mean(costmap == LETHAL):.1%}")

    walled = add_closed_wall(random_costmap((SIZE, SIZE), RES, rng, walls=0), SIZE // 2, horizontal=False)
    blocked = GlobalPlanner()
    t0 = time.perf_counter()
    blocked.set_costmap(walled, GEO)
    answer = blocked.plan((-40.0, 0.0), (40.0, 0.0))
    t_no_path = time.perf_counter() - t0
    assert not answer.ok

    ms = lambda values: np.median(values) * 1e3  # noqa: E731
    n = len(ours)
    print(f"\n{n} pairs >= 40 m apart on {args.grids} grids of {SIZE}x{SIZE} at {RES} m")
    print(f"plan (A*):                       median {ms(ours):6.1f} ms   max {max(ours) * 1e3:6.1f} ms")
    print(f"plan incl. costmap update:       median {ms(ours_with_update):6.1f} ms")
    print(f"MCP_Geometric:                   median {ms(mcp):6.1f} ms   max {max(mcp) * 1e3:6.1f} ms")
    print(f"time ratio ours/MCP:             median {np.median(speedups):.2f}   max {max(speedups):.2f}")
    print(f"path cost ratio ours/MCP:        median {np.median(ratios):.5f}   max {max(ratios):.5f}")
    print(f"replan after a new rock:         median {ms(replan):6.1f} ms   (incl. costmap update)")
    print(f"full plan on the changed map:    median {ms(full):6.1f} ms   (incl. costmap update)")
    print(f"replan / full:                   median {np.median(np.array(replan) / np.array(full)):.2f}")
    print(
        f"repaired cost / optimal:         median {np.median(replan_cost):.4f}   max {max(replan_cost):.4f}"
    )
    print(f"'no path' (closed wall):         {t_no_path * 1e3:6.1f} ms   ({answer.reason})")
    d = np.array(decisions) * 1e3
    print(
        f"follower decision:               median {np.median(d):5.2f} ms   p99 {np.percentile(d, 99):5.2f} ms"
    )


if __name__ == "__main__":
    main()
