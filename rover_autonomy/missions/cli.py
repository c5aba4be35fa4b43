"""``rover-autonomy mission``: drive to a goal with the whole stack in the simulator, then judge it.

Arguments are checked before anything starts; a bad one is answered with one line and exit code 2.
Exit code 0 means success (judged on ground truth), 1 a failed mission.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HELP = "drive to a goal with the whole stack in the simulator; verdict, report.json and mission.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", default="mars", help="moon, mars (shipped defaults) or a world directory")
    parser.add_argument(
        "--goal", nargs=2, type=float, required=True, metavar=("X", "Y"), help="goal in map [m]"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="mission time limit [s of sim time]")
    parser.add_argument(
        "--wall-timeout", type=float, default=None, help="wall-clock limit [s]; default 4 x timeout + 120"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        help="goal tolerance judged on ground truth [m]; the rover aims for half of it by odometry",
    )
    parser.add_argument("--report", default=None, help="report directory (default: reports/mission-<time>)")
    parser.add_argument("--camera-rate", type=float, default=2.0, help="stereo rate [Hz]")
    parser.add_argument(
        "--record", default=None, metavar="BAG", help="record the contract's topics to a rosbag2 MCAP bag"
    )


class MissionArgumentError(ValueError):
    pass


def resolve_world(name: str):
    """A loaded world from ``moon``/``mars`` or a directory; MissionArgumentError names the problem."""
    from rover_autonomy.resources import worlds_dir
    from rover_autonomy.worlds.world import WorldError, load_world

    path = worlds_dir() / name if name in ("moon", "mars") else Path(name)
    if not path.is_dir():
        raise MissionArgumentError(f"unknown world {name!r}: not moon, mars or a world directory")
    try:
        return load_world(path)
    except WorldError as err:
        raise MissionArgumentError(f"world {name!r} cannot be loaded: {err}") from err


def check_goal(world, goal: tuple[float, float], margin: float = 1.0) -> None:
    """The goal must lie inside the world (with a margin) and not inside a rock."""
    x, y = goal
    xmin, xmax, ymin, ymax = world.extent
    if not (xmin + margin <= x <= xmax - margin and ymin + margin <= y <= ymax - margin):
        raise MissionArgumentError(
            f"goal ({x:g}, {y:g}) is outside the world ({xmin:g} … {xmax:g}, {ymin:g} … {ymax:g} m,"
            f" {margin:g} m margin)"
        )
    rocks = world.rocks
    if len(rocks):
        inside = np.hypot(rocks["x"] - x, rocks["y"] - y) < rocks["diameter"] / 2
        if inside.any():
            rock = rocks[np.argmax(inside)]
            raise MissionArgumentError(
                f"goal ({x:g}, {y:g}) is inside a rock (at {rock['x']:.2f}, {rock['y']:.2f},"
                f" {rock['diameter']:.2f} m across)"
            )


def writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as err:
        raise MissionArgumentError(
            f"report directory {str(path)!r} is not writable ({err.strerror})"
        ) from err
    return path


def build_spec(args: argparse.Namespace):
    from rover_autonomy.missions.run import MissionSpec

    for name in ("timeout", "tolerance", "camera_rate"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise MissionArgumentError(f"--{name.replace('_', '-')} must be a positive number, got {value:g}")
    if args.wall_timeout is not None and not args.wall_timeout > 0:
        raise MissionArgumentError(f"--wall-timeout must be a positive number, got {args.wall_timeout:g}")
    world = resolve_world(args.world)
    goal = (float(args.goal[0]), float(args.goal[1]))
    if not all(math.isfinite(v) for v in goal):
        raise MissionArgumentError("--goal must be two finite numbers")
    check_goal(world, goal)
    report = Path(args.report) if args.report else Path("reports") / time.strftime("mission-%Y%m%d-%H%M%S")
    record = Path(args.record) if args.record else None
    if record is not None and record.exists():
        raise MissionArgumentError(f"--record {record}: already exists (choose a new bag path)")
    return MissionSpec(
        world=world,
        goal=goal,
        timeout=args.timeout,
        wall_timeout=args.wall_timeout or 4 * args.timeout + 120.0,
        goal_tolerance=args.tolerance,
        report_dir=writable_dir(report),
        camera_rate=args.camera_rate,
        record=record,
    )


def run(args: argparse.Namespace) -> int:
    try:
        spec = build_spec(args)
    except MissionArgumentError as err:
        print(f"rover-autonomy mission: {err}", file=sys.stderr)
        return 2
    from rover_autonomy.missions.run import run_mission

    # SIGTERM (a CI timeout, `kill`) ends the mission like Ctrl-C: children stopped, report written.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    start = spec.world.start
    print(
        f"mission on {spec.world!r}: from ({start.x:.1f}, {start.y:.1f}) to ({spec.goal[0]:.1f}, {spec.goal[1]:.1f}),"
        f" timeout {spec.timeout:.0f} s"
    )
    report = run_mission(spec)
    if report["success"]:
        verdict = (
            f"SUCCESS: reached the goal within {report['goal_error_m']:.2f} m after {report['distance_travelled_m']:.1f} m"
            f" in {report['duration_sim_s']:.0f} s (wall {report['duration_wall_s']:.0f} s), no body contact"
        )
    else:
        verdict = f"FAILURE: {report['failure_reason']} (goal error {report['goal_error_m']} m)"
    print(verdict)
    print(f"report: {spec.report_dir / 'report.json'}, picture: {spec.report_dir / 'mission.png'}")
    return 0 if report["success"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rover-autonomy mission", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
