"""Record the contract's topics into a rosbag2 MCAP bag, alongside any running profile.

    rover-autonomy record BAG                          # every contract topic, until Ctrl-C
    rover-autonomy record BAG --topics joint_states imu/data --duration 30
    rover-autonomy record BAG --clock sim --sim-duration 10     # 10 s of a simulation

The bag is a rosbag2 directory (metadata.yaml + MCAP file) that ``ros2 bag info`` and
``ros2 bag play`` read. Log times are sim time when a ``/clock`` is being published, wall time
otherwise (``--clock`` forces the choice).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "rover-autonomy record"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="bag directory to create (must not exist)")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="contract topics (default: all of them)")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this wall time [s] (0: Ctrl-C)"
    )
    parser.add_argument(
        "--sim-duration", type=float, default=0.0, help="stop after this much sim time [s] (0: no limit)"
    )
    parser.add_argument(
        "--clock",
        choices=("auto", "sim", "wall"),
        default="auto",
        help="log-time source: sim time (/clock), wall time, or sim when /clock is published (default)",
    )


def _check(args: argparse.Namespace) -> str | None:
    if args.bag.exists():
        return f"{args.bag} already exists"
    if not args.bag.resolve().parent.is_dir():
        return f"cannot write {args.bag}: {args.bag.parent} is not a directory"
    if args.duration < 0:
        return f"--duration {args.duration}: must be ≥ 0"
    if args.sim_duration < 0:
        return f"--sim-duration {args.sim_duration}: must be ≥ 0"
    if args.sim_duration > 0 and args.clock == "wall":
        return "--sim-duration needs sim time: drop --clock wall"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem is None:
        from rover_autonomy.replay.recorder_node import recordable_topics

        try:
            topics = recordable_topics(args.topics)
        except ValueError as err:
            problem = str(err)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    from rover_autonomy.replay.recorder_node import record

    return record(args.bag, topics, args.duration, args.clock, prog=PROG, sim_duration=args.sim_duration)
