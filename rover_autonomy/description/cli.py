"""Print or write the rover's URDF, generated from the rover model (config/rover.yaml).

``rover-autonomy urdf`` prints the Gazebo URDF (ros2_control, sensors, system plugins);
``--hardware`` the plain kinematic/visual description for the real rover; ``--out FILE`` writes it;
``--write-config`` regenerates ``config/ros2_controllers.yaml`` and ``config/gz_bridge.yaml``.
Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from rover_autonomy.description.gazebo_config import bridge_yaml, controllers_yaml
from rover_autonomy.description.urdf import UrdfError, build_urdf
from rover_autonomy.resources import config_path
from rover_autonomy.rover_model import RoverModelError, load_rover_model

CONTROLLERS_FILE = "ros2_controllers.yaml"
BRIDGE_FILE = "gz_bridge.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE", help="write the URDF to FILE instead of printing it")
    parser.add_argument(
        "--rover", metavar="FILE", help="rover model (default: the package's config/rover.yaml)"
    )
    parser.add_argument(
        "--hardware", action="store_true", help="no Gazebo tags: the description for the real rover"
    )
    parser.add_argument(
        "--camera-rate",
        type=float,
        default=None,
        metavar="HZ",
        help="Gazebo stereo frame rate [Hz] (default: the rover model's stereo.rate)",
    )
    parser.add_argument(
        "--controllers",
        metavar="FILE",
        help=f"ros2_controllers.yaml handed to gz_ros2_control (default: the package's config/{CONTROLLERS_FILE})",
    )
    parser.add_argument(
        "--write-config",
        action="store_true",
        help=f"also regenerate config/{CONTROLLERS_FILE} and config/{BRIDGE_FILE} from the rover model",
    )


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"rover-autonomy urdf: {message}", file=sys.stderr)
        return 2

    if args.camera_rate is not None and not (math.isfinite(args.camera_rate) and args.camera_rate > 0):
        return fail(f"--camera-rate {args.camera_rate}: must be a positive frame rate [Hz]")
    try:
        model = load_rover_model(args.rover)
        controllers = Path(args.controllers) if args.controllers else config_path(CONTROLLERS_FILE)
        text = build_urdf(
            model,
            gazebo=not args.hardware,
            camera_rate=args.camera_rate,
            controllers_file=str(controllers.resolve()),
        )
    except (RoverModelError, UrdfError) as err:
        return fail(str(err))
    if args.write_config:
        for name, content in ((CONTROLLERS_FILE, controllers_yaml(model)), (BRIDGE_FILE, bridge_yaml())):
            path = config_path(name)
            path.write_text(content)
            print(f"wrote {path}", file=sys.stderr)
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as err:
            return fail(f"cannot write {args.out}: {err.strerror}")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="rover-autonomy urdf", description=__doc__.strip().splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
