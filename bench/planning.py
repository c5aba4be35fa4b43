"""Planning benchmark: global planner vs scikit-image MCP_Geometric, replanning, follower decisions.

Grids are synthetic rover-centre costmaps (rock fields, craters, walls with gaps, unknown patches:
``rover_autonomy.harness.costmaps``), 1000 × 1000 cells at 0.1 m. Both planners solve the same
problem (MCP gets our traversal factors) and both paths are scored with the one edge-cost function.

    PYTHONPATH=$PWD .venv/bin/python bench/planning.py [--grids 4] [--pairs 5] [--seed 0]

Figures:
- plan: our A* per start/goal pair (costmap already taken), and with the costmap update included
  (factors, components, heuristic block minima) — what the first plan on a new costmap costs;
- MCP_Geometric: constructor + find_costs (stopping at the goal) + traceback;
- replan after a small local change on the path (a new 0.3 m rock) vs a full plan on the changed map,
  both including the costmap update;
- "no path" answer time for a map split by a closed wall;
- follower: one arc decision (21 arcs × 40 samples) at poses along a plan;
- the shipped Mars world (k = 0.07) with its ground-truth rover-centre costmap: goals 20–30 m from the
  start, planned and driven by the follower on a kinematic rover; reached, and hazard nodes under the
  wheel footprint along the way;
- the same in the embedded MuJoCo simulator (``--sim-goals``, default 2): ground-truth costmap, the
  follower's twist through ``kinematics.wheel_commands`` to the simulated wheels, pose from the
  simulator's ground truth; reached, and contacts of rover parts other than wheels (``sim/contacts``).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from skimage.graph import MCP_Geometric

from rover_autonomy.geometry import GridGeometry, quaternion_to_yaw
from rover_autonomy.harness.costmaps import add_closed_wall, random_costmap
from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig
from rover_autonomy.planning.costs import LETHAL, path_cost
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.planning.ground_truth import footprint_radii, world_costmap
from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.worlds import load_world

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
    parser.add_argument("--sim-goals", type=int, default=2, help="goals driven in the MuJoCo simulator")
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

    mars_drives(rng)
    if args.sim_goals > 0:
        mars_sim_drives(rng, args.sim_goals)


def mars_drives(rng: np.random.Generator, goals: int = 8, dt: float = 0.1) -> None:
    model = load_rover_model()
    world = load_world("mars")
    costmap, geo = world_costmap(world, model)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geo)
    inscribed, _ = footprint_radii(model)
    half_base = max(abs(w.x) for w in model.wheels) + model.wheel_radius
    u, v = (
        a.ravel()
        for a in np.meshgrid(np.linspace(-half_base, half_base, 9), np.linspace(-inscribed, inscribed, 7))
    )
    start = world.start
    reached, touching, times, lengths = 0, 0, [], []
    for _ in range(goals):
        while True:
            distance, bearing = rng.uniform(20, 30), rng.uniform(-math.pi / 2, math.pi / 2)
            goal = (start.x + distance * math.cos(bearing), start.y + distance * math.sin(bearing))
            cell = geo.to_cell(*goal)
            if cell is not None and costmap[cell] < 30:
                break
        result = planner.plan((start.x, start.y), goal)
        if not result.ok:
            print(f"  mars goal {goal[0]:.1f}, {goal[1]:.1f}: {result.reason}")
            continue
        follower = ArcFollower(FollowerConfig.from_rover_model(model))
        follower.set_plan(result.points)
        x, y, yaw = start.x, start.y, start.yaw
        poses = []
        for _ in range(int(600 / dt)):
            decision = follower.decide((x, y, yaw), costmap, geo)
            if decision.status in ("reached", "blocked"):
                break
            yaw += decision.wz * dt
            x += decision.vx * math.cos(yaw) * dt
            y += decision.vx * math.sin(yaw) * dt
            poses.append((x, y, yaw))
        trail = np.array(poses)
        c, s = np.cos(trail[:, 2:3]), np.sin(trail[:, 2:3])
        under = world.grid.bilinear(
            world.hazard.astype(float), trail[:, 0:1] + c * u - s * v, trail[:, 1:2] + s * u + c * v
        )
        reached += decision.status == "reached"
        touching += int(np.any(under > 0))
        times.append(len(poses) * dt)
        lengths.append(float(np.sum(np.hypot(*np.diff(trail[:, :2], axis=0).T))))
    print(
        f"mars (k=0.07) ground truth:      {reached}/{goals} goals 20-30 m reached, {touching} drives with a hazard "
        f"node under the wheels; median {np.median(times):.0f} s, {np.median(lengths):.1f} m driven"
    )


def mars_sim_drives(rng: np.random.Generator, goals: int, control_period: float = 0.1) -> None:
    from rover_autonomy.kinematics import wheel_commands
    from rover_autonomy.sim.engine import RoverSim
    from rover_autonomy.sim.scene import resolve_world

    model = load_rover_model()
    world = load_world("mars")
    costmap, geo = world_costmap(world, model)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geo)
    reached, with_contact, sim_times, walls = 0, 0, [], []
    for _ in range(goals):
        sim = RoverSim(resolve_world("mars"), model)
        gt = sim.ground_truth()
        start = (float(gt.position[0]), float(gt.position[1]))
        while True:
            distance, bearing = rng.uniform(20, 30), rng.uniform(-math.pi / 2, math.pi / 2)
            goal = (start[0] + distance * math.cos(bearing), start[1] + distance * math.sin(bearing))
            cell = geo.to_cell(*goal)
            if cell is not None and costmap[cell] < 30 and planner.plan(start, goal).ok:
                break
        result = planner.plan(start, goal)
        follower = ArcFollower(FollowerConfig.from_rover_model(model))
        follower.set_plan(result.points)
        steps = round(control_period / sim.config.timestep)
        body = set()
        t0 = time.perf_counter()
        ticks = 0
        while ticks < int(300 / control_period):
            gt = sim.ground_truth()
            decision = follower.decide(
                (gt.position[0], gt.position[1], quaternion_to_yaw(gt.quaternion)), costmap, geo
            )
            if decision.status in ("reached", "blocked"):
                break
            command = wheel_commands(model, decision.vx, decision.wz)
            sim.command_drive(command.drive)
            sim.command_steer(command.steer)
            sim.step(steps)
            body.update((c.part, c.other) for c in sim.contacts() if not c.wheel)
            ticks += 1
        walls.append(time.perf_counter() - t0)
        sim_times.append(ticks * control_period)
        sim.close()
        reached += decision.status == "reached"
        with_contact += bool(body)
        print(
            f"  sim goal {distance:.1f} m: {decision.status}, {ticks * control_period:.0f} s, body contacts {sorted(body)}"
        )
    print(
        f"mars (k=0.07) MuJoCo sim:        {reached}/{goals} goals 20-30 m reached, {with_contact} drives with body "
        f"contact; median {np.median(sim_times):.0f} s simulated in {np.median(walls):.1f} s"
    )


if __name__ == "__main__":
    main()
