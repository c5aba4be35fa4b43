"""``rover-autonomy``: the command line of the stack.

The package's top: its own subcommands (``launch``, ``params``, ``demo``) live here; each capability adds
its own (``world``, ``sim``, ``mission``…) as a module with ``add_arguments(parser)`` and
``run(args) -> int``, registered in :data:`CAPABILITY_COMMANDS`. Bad arguments are answered with one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from rover_autonomy.bringup import graph, launcher, ros_profiles
from rover_autonomy.bringup.overrides import group_overrides, merge_overrides, parse_override
from rover_autonomy.missions import cli as mission_cli
from rover_autonomy.parameters import render_yaml
from rover_autonomy.resources import config_dir, config_path
from rover_autonomy.rover_model import RoverModelError

# subcommand -> module providing add_arguments(parser), run(args) and HELP (else its docstring's first line).
CAPABILITY_COMMANDS: dict[str, str] = {
    "world": "rover_autonomy.worlds.cli",
    "plan": "rover_autonomy.planning.cli",
    "mission": "rover_autonomy.missions.cli",
    "urdf": "rover_autonomy.description.cli",
    "sim": "rover_autonomy.sim.cli",
    "calibrate-slip": "rover_autonomy.odometry.cli",
    "record": "rover_autonomy.replay.record_cli",
    "replay": "rover_autonomy.replay.replay_cli",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def cmd_launch(args: argparse.Namespace) -> int:
    try:
        if args.world is not None and args.profile != "sim":
            raise ValueError("--world applies to the sim profile (use ros2 launch for gazebo worlds)")
        if args.profile == "sim":
            setup = ros_profiles.sim_setup(args.world or "mars")
            merge_overrides(setup.overrides, group_overrides(args.param))
            plan = setup.plan("sim", str(config_dir()))
        else:
            plan = graph.launch_plan(args.profile, str(config_dir()), group_overrides(args.param))
        launcher.Launcher(plan).check()
    except (ValueError, launcher.LaunchError) as err:
        print(f"rover-autonomy launch: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        for step in plan:
            if step["package"] == graph.PACKAGE:
                print(shlex.join(launcher.node_command(step)))
            else:
                command = [
                    "ros2",
                    "run",
                    step["package"],
                    step["executable"],
                    *launcher.foreign_arguments(step),
                ]
                print(shlex.join(command))
        return 0
    return launcher.run(plan)


def cmd_params(args: argparse.Namespace) -> int:
    if args.node not in graph.EXECUTABLES:
        known = ", ".join(sorted(graph.EXECUTABLES)) or "none yet"
        print(f"rover-autonomy params: unknown node {args.node!r} (known: {known})", file=sys.stderr)
        return 2
    title, specs = graph.node_parameters(args.node)
    text = render_yaml(args.node, specs, title)
    if args.write:
        path = config_path(f"{args.node}.yaml")
        path.write_text(text)
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """A mission on the shipped Mars world: 26 m east of the start, through the rock field."""
    world = mission_cli.resolve_world("mars")
    goal = (world.start.x + 26.0, world.start.y)
    argv = ["--world", "mars", "--goal", f"{goal[0]:g}", f"{goal[1]:g}", "--timeout", "300"]
    if args.report:
        argv += ["--report", args.report]
    parser = OneLineParser(prog="rover-autonomy demo")
    mission_cli.add_arguments(parser)
    return mission_cli.run(parser.parse_args(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rover-autonomy", description=__doc__.strip().splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    launch = sub.add_parser("launch", help="run a profile's nodes as child processes (no launch_ros needed)")
    launch.add_argument("profile", choices=graph.PROFILES)
    launch.add_argument(
        "--param",
        action="append",
        default=[],
        type=parse_override,
        metavar="NODE.NAME=VALUE",
        help="override a node parameter (repeatable)",
    )
    launch.add_argument(
        "--world", default=None, help="sim profile: moon, mars (default) or a world directory"
    )
    launch.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    launch.set_defaults(handler=cmd_launch)

    params = sub.add_parser("params", help="print (or --write) a node's documented config/<node>.yaml")
    params.add_argument("node")
    params.add_argument("--write", action="store_true")
    params.set_defaults(handler=cmd_params)

    demo = sub.add_parser(
        "demo", help="a 26 m mission on the Mars world in the simulator (what `make demo` runs)"
    )
    demo.add_argument("--report", default=None, help="report directory (default: reports/mission-<time>)")
    demo.set_defaults(handler=cmd_demo)

    for name, module_name in CAPABILITY_COMMANDS.items():
        module = importlib.import_module(module_name)
        help_text = getattr(module, "HELP", None) or (module.__doc__ or name).strip().splitlines()[0]
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RoverModelError as err:
        print(f"rover-autonomy {args.command}: invalid rover model: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
