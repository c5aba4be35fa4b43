"""``rover-autonomy calibrate-slip``: fit wheel_odometry's slip-versus-slope model to a recorded drive.

The drive is a rosbag2 (MCAP or sqlite3, read with ``rosbags``) holding ``joint_states``, ``imu/data`` and
a ground truth ``ground_truth/odom`` (the simulator's; on a real rover an RTK/total-station or visual
odometry reference): drive up and down slopes of the terrain to calibrate (5–20°), in one or several
bags. The odometry runs over
it with the slope correction off; its climb angle and the true slip ``1 − v_true / v_wheel`` are paired in
time windows and the coefficients (a1, a2, b1) of ``rover_autonomy/odometry/slip.py`` fitted by least
squares, then written to ``config/slip_model.yaml`` (wheel_odometry's ``slip_model_file``).
``--sim PLANET`` instead drives the embedded simulator's test slopes (through the base controller
core) and calibrates on its ground truth. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from rover_autonomy.odometry.calibration import TRUTH, calibrate_drives
from rover_autonomy.odometry.inputs import IMU, JOINTS
from rover_autonomy.odometry.parameters import PARAMETERS, config_from, slip_model_path
from rover_autonomy.odometry.slip import save_slip_model
from rover_autonomy.rover_model import RoverModelError, load_rover_model

HELP = "fit wheel_odometry's slip-versus-slope model to a recorded drive with ground truth"
DEFAULTS = {spec.name: spec.default for spec in PARAMETERS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bags", nargs="*", metavar="BAG", help="rosbag2 directories (or .mcap files) of calibration drives"
    )
    parser.add_argument(
        "--sim",
        metavar="PLANET",
        default=None,
        help="instead of bags: drive up and down the embedded simulator's test slopes on PLANET (mars, moon)",
    )
    parser.add_argument(
        "--slopes",
        type=float,
        nargs="+",
        default=[5.0, 10.0, 15.0],
        metavar="DEG",
        help="test slopes of --sim [deg] (default: 5 10 15)",
    )
    parser.add_argument(
        "--drive-time", type=float, default=20.0, metavar="S", help="--sim: seconds up, then as many down"
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help=f"where to write the model (default: the package's config/{DEFAULTS['slip_model_file']})",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    parser.add_argument(
        "--gravity", type=float, default=3.711, help="planet gravity of the recorded drive [m/s^2] (Mars)"
    )
    parser.add_argument("--window", type=float, default=1.0, help="averaging window of the slip pairs [s]")
    parser.add_argument(
        "--rover-model", default=None, metavar="FILE", help="rover.yaml (default: the package's)"
    )
    parser.add_argument("--joint-topic", default="joint_states")
    parser.add_argument("--imu-topic", default="imu/data")
    parser.add_argument("--truth-topic", default="ground_truth/odom")


def _stamp(header) -> float:
    return (int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)) * 1e-9


def read_bag(path: Path, topics: dict[str, str]):
    """(topic kind, stamp [s], payload) events of a bag; ``topics`` maps bag topic -> JOINTS/IMU/TRUTH."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    wanted = {name.lstrip("/"): kind for name, kind in topics.items()}
    events = []
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        connections = [c for c in reader.connections if c.topic.lstrip("/") in wanted]
        present = {c.topic.lstrip("/") for c in connections}
        missing = [name for name in wanted if name not in present]
        if missing:
            raise ValueError(f"{path}: no messages on {', '.join(missing)}")
        for connection, _, raw in reader.messages(connections=connections):
            kind = wanted[connection.topic.lstrip("/")]
            msg = reader.deserialize(raw, connection.msgtype)
            if kind == JOINTS:
                payload = (list(msg.name), list(map(float, msg.position)), list(map(float, msg.velocity)))
            elif kind == IMU:
                w, a = msg.angular_velocity, msg.linear_acceleration
                payload = (np.array([w.x, w.y, w.z]), np.array([a.x, a.y, a.z]))
            else:
                payload = float(msg.twist.twist.linear.x)
            events.append((kind, _stamp(msg.header), payload))
    return events


def run(args: argparse.Namespace) -> int:
    prog = "rover-autonomy calibrate-slip"
    bags = [Path(b) for b in args.bags]
    if bool(bags) == bool(args.sim):
        print(f"{prog}: give either recorded drives (BAG ...) or --sim PLANET", file=sys.stderr)
        return 2
    if args.sim:
        return _run_sim(args, prog)
    for bag in bags:
        if not bag.exists():
            print(f"{prog}: no such bag: {bag}", file=sys.stderr)
            return 2
    if not (
        math.isfinite(args.gravity) and args.gravity > 0 and math.isfinite(args.window) and args.window > 0
    ):
        print(f"{prog}: --gravity and --window must be positive numbers", file=sys.stderr)
        return 2
    try:
        model = load_rover_model(args.rover_model)
        topics = {args.joint_topic: JOINTS, args.imu_topic: IMU, args.truth_topic: TRUTH}
        config = config_from(model, {**DEFAULTS, "gravity": args.gravity})
        drives = []
        for bag in bags:
            try:
                drives.append(read_bag(bag, topics))
            except ValueError:
                raise
            except Exception as err:  # rosbags raises its own errors for unreadable bags
                raise ValueError(f"cannot read {bag}: {err}") from err
        fit = calibrate_drives(model, config, drives, window=args.window)
    except (RoverModelError, ValueError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    return _report_and_write(args, prog, fit, ", ".join(str(b) for b in bags), args.gravity)


def _report_and_write(args: argparse.Namespace, prog: str, fit, source: str, gravity: float) -> int:
    a1, a2, b1 = fit.model.coefficients
    lo, hi = (math.degrees(v) for v in fit.climb_range)
    print(f"slip model: a1 {a1:.4f} /rad, a2 {a2:.4f} /rad^2, b1 {b1:.4f} /rad")
    print(f"from {fit.samples} windows over climbs {lo:.1f}..{hi:.1f} deg, rms error {fit.rms_error:.3f}")
    for degrees in (5, 10, 15, 20):
        print(f"  {degrees:2d} deg uphill: slip {fit.model.slip(math.radians(degrees)):.2f}")
    if args.dry_run:
        return 0
    out = Path(args.out) if args.out else slip_model_path(DEFAULTS["slip_model_file"])
    try:
        save_slip_model(out, fit, source=source, gravity=gravity)
    except OSError as err:
        print(f"{prog}: cannot write {out}: {err.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _run_sim(args: argparse.Namespace, prog: str) -> int:
    from rover_autonomy.harness.sim_drive import calibration_drives, sim_available

    if not sim_available():
        print(
            f"{prog}: --sim needs the embedded simulator (rover_autonomy.sim), not installed", file=sys.stderr
        )
        return 2
    if not (all(0 < s <= 30 for s in args.slopes) and 5 <= args.drive_time <= 600 and args.window > 0):
        print(
            f"{prog}: --slopes must lie in (0, 30] deg, --drive-time in [5, 600] s, --window > 0",
            file=sys.stderr,
        )
        return 2
    try:
        from rover_autonomy.sim.scene import GRAVITY

        if args.sim not in GRAVITY:
            raise ValueError(f"unknown planet {args.sim!r} (choose one of: {', '.join(sorted(GRAVITY))})")
        model = load_rover_model(args.rover_model)
        config = config_from(model, {**DEFAULTS, "gravity": GRAVITY[args.sim]})
        drives = calibration_drives(model, config, args.sim, tuple(args.slopes), args.drive_time)
        fit = calibrate_drives(model, config, drives, window=args.window)
    except (RoverModelError, ValueError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    slopes = "/".join(f"{s:g}" for s in args.slopes)
    source = f"rover_sim {args.sim} test slopes {slopes} deg"
    return _report_and_write(args, prog, fit, source, GRAVITY[args.sim])


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(prog="rover-autonomy calibrate-slip", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
