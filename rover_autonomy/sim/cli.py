"""Run the embedded simulator (node rover_sim) standalone in a world.

    rover-autonomy sim --world mars                  # real time, cameras on
    rover-autonomy sim --world moon --rtf 0 --no-cameras
    rover-autonomy sim --world out/mars3 --lockstep  # hold after each frame for cmd_vel

Every option maps onto a node parameter (docs/simulator.md); ``--ros-args`` passes the rest to ROS.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--world",
        default="mars",
        help="moon, mars, a world directory, or a test terrain flat[:planet] / slope:<deg>[:planet]",
    )
    parser.add_argument("--rtf", type=float, default=1.0, help="real-time factor; 0 = as fast as possible")
    parser.add_argument("--no-cameras", action="store_true", help="do not render the stereo pair")
    parser.add_argument("--camera-rate", type=float, default=2.0, help="stereo frame rate [Hz]")
    parser.add_argument("--mono", action="store_true", help="publish mono8 instead of rgb8 images")
    parser.add_argument(
        "--lockstep", action="store_true", help="hold after each frame until cmd_vel answers it"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sensor noise")
    parser.add_argument(
        "--start", type=float, nargs=3, metavar=("X", "Y", "YAW"), help="start pose in map [m, m, rad]"
    )


def _check(args: argparse.Namespace) -> str | None:
    if not 0.0 <= args.rtf <= 1000.0:
        return f"--rtf {args.rtf}: must lie in 0 … 1000"
    if not 0.1 <= args.camera_rate <= 30.0:
        return f"--camera-rate {args.camera_rate}: must lie in 0.1 … 30 Hz"
    if not 0 <= args.seed < 2**31:
        return f"--seed {args.seed}: must lie in 0 … 2^31 - 1"
    from rover_autonomy.sim.scene import WorldError, resolve_world  # on use: MuJoCo, ~0.7 s

    try:
        resolve_world(args.world)
    except WorldError as err:
        return str(err)
    return None


def run(args: argparse.Namespace, ros_args_extra: list[str] | None = None) -> int:
    problem = _check(args)
    if problem:
        print(f"rover-autonomy sim: {problem}", file=sys.stderr)
        return 2
    from rover_autonomy.sim import node  # on use: rclpy and MuJoCo

    values = {
        "world": args.world,
        "real_time_factor": float(args.rtf),
        "cameras": not args.no_cameras,
        "camera_rate": float(args.camera_rate),
        "image_encoding": "mono8" if args.mono else "rgb8",
        "lockstep": bool(args.lockstep),
        "seed": int(args.seed),
    }
    if args.start:
        values["start_pose"] = [float(v) for v in args.start]
    ros_args = ["--ros-args", *(a for k, v in values.items() for a in ("-p", f"{k}:={_ros_value(v)}"))]
    return node.main([sys.argv[0], *ros_args, *(ros_args_extra or [])])


def _ros_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        return "[" + ",".join(_ros_value(v) for v in value) + "]"
    return repr(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rover-autonomy sim", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args, rest = parser.parse_known_args(argv)
    if rest and rest[0] != "--ros-args":
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    return run(args, rest or None)


if __name__ == "__main__":
    sys.exit(main())
