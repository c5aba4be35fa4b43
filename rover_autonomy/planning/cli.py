"""``rover-autonomy plan``: plan (and optionally drive) to a goal on a world's ground-truth costmap.

Registered by ``rover_autonomy/cli.py`` through ``add_arguments(parser)`` and ``run(args)``. Uses the same cores
as the nodes: the costmap is the world's hazard layer in rover-centre cost space
(:mod:`planning.ground_truth`), the plan comes from :class:`GlobalPlanner` and ``--drive`` runs the
:class:`ArcFollower` on a kinematic rover. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from rover_autonomy.rover_model import load_rover_model

HELP = "plan (and --drive) to a goal on a world's ground-truth costmap; print cost, length, timing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--world", default="mars", help="shipped world name (moon, mars) or a world directory"
    )
    parser.add_argument(
        "--goal", nargs=2, type=float, required=True, metavar=("X", "Y"), help="goal in map [m]"
    )
    parser.add_argument(
        "--start",
        nargs=2,
        type=float,
        default=None,
        metavar=("X", "Y"),
        help="start in map [m] (default: the world's)",
    )
    parser.add_argument(
        "--cost-weight", type=float, default=0.02, help="edge cost = length × (1 + weight × cost)"
    )
    parser.add_argument(
        "--drive", action="store_true", help="also drive the plan with the arc follower (kinematic)"
    )
    parser.add_argument(
        "--png", metavar="FILE", help="write the costmap with the plan (and the drive) to FILE"
    )


def run(args: argparse.Namespace) -> int:
    # On use: the planning cores compile numba kernels and every rover-autonomy command imports this module.
    from rover_autonomy.planning.costs import CostModel
    from rover_autonomy.planning.global_planner import GlobalPlanner
    from rover_autonomy.planning.ground_truth import world_costmap
    from rover_autonomy.worlds import WorldError, load_world

    def fail(message: str) -> int:
        print(f"rover-autonomy plan: error: {message}", file=sys.stderr)
        return 2

    try:
        model_weight = CostModel(weight=args.cost_weight)
    except ValueError as err:
        return fail(str(err))
    try:
        world = load_world(args.world)
    except (WorldError, OSError) as err:
        return fail(str(err))
    model = load_rover_model()
    costmap, geometry = world_costmap(world, model)
    start = tuple(args.start) if args.start else (world.start.x, world.start.y)
    goal = tuple(args.goal)
    if not all(math.isfinite(v) for v in (*start, *goal)):
        return fail("start and goal must be finite numbers")
    planner = GlobalPlanner(model_weight)
    planner.set_costmap(costmap, geometry)
    t0 = time.perf_counter()
    result = planner.plan(start, goal)
    elapsed = time.perf_counter() - t0
    if not result.ok:
        print(f"rover-autonomy plan: no plan: {result.reason}", file=sys.stderr)
        return 1
    length = float(np.sum(np.hypot(*np.diff(result.points, axis=0).T)))
    print(
        f"plan {start[0]:.2f}, {start[1]:.2f} -> {goal[0]:.2f}, {goal[1]:.2f} on {args.world}: "
        f"{length:.1f} m, cost {result.cost:.1f}, {len(result.cells)} cells, "
        f"{result.expanded} expanded in {elapsed * 1e3:.0f} ms"
    )
    trail = None
    if args.drive:
        trail, status = _drive(model, costmap, geometry, result.points, (*start, world.start.yaw))
        driven = float(np.sum(np.hypot(*np.diff(trail[:, :2], axis=0).T))) if len(trail) > 1 else 0.0
        print(f"drive: {status}, {driven:.1f} m in {len(trail) * 0.1:.0f} s")
    if args.png:
        if not _write_png(args.png, costmap, geometry, result.points, trail):
            return fail(f"cannot write {args.png}")
        print(f"wrote {args.png}")
    return 0


def _drive(model, costmap, geometry, points, pose, dt=0.1, limit=1200.0):
    from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig  # on use, as in run()

    follower = ArcFollower(FollowerConfig.from_rover_model(model))
    follower.set_plan(points)
    x, y, yaw = pose
    poses = [(x, y, yaw)]
    status = "timeout"
    for _ in range(int(limit / dt)):
        decision = follower.decide((x, y, yaw), costmap, geometry)
        if decision.status in ("reached", "blocked"):
            status = f"{decision.status} ({decision.reason})"
            break
        yaw += decision.wz * dt
        x += decision.vx * math.cos(yaw) * dt
        y += decision.vx * math.sin(yaw) * dt
        poses.append((x, y, yaw))
    return np.array(poses), status


def _write_png(path, costmap, geometry, points, trail) -> bool:
    import cv2

    gray = np.where(costmap < 0, 128, 255 - np.clip(costmap, 0, 100) * 2.55).astype(np.uint8)
    image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)

    def pixels(xy):
        col = (xy[:, 0] - geometry.origin_x) / geometry.resolution
        row = (xy[:, 1] - geometry.origin_y) / geometry.resolution
        return np.column_stack([col, row]).round().astype(np.int32)

    cv2.polylines(image, [pixels(points)], False, (0, 0, 255), 1)
    if trail is not None and len(trail) > 1:
        cv2.polylines(image, [pixels(trail[:, :2])], False, (255, 128, 0), 1)
    # Rows grow northwards in the map; images grow downwards.
    try:
        return bool(cv2.imwrite(str(path), np.ascontiguousarray(image[::-1])))
    except cv2.error:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rover-autonomy plan", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
