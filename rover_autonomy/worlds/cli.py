"""``rover-autonomy world``: generate a Moon/Mars world directory (see docs/worlds.md).

Registered by ``rover_autonomy/cli.py`` through ``add_arguments(parser)`` and ``run(args)``; also runs on its
own as ``python -m rover_autonomy.worlds.cli``. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from rover_autonomy.description.sdf_check import check_world_sdf
from rover_autonomy.description.sdf_world import export_sdf
from rover_autonomy.rover_model import RoverModelError
from rover_autonomy.worlds.generator import MAX_K, WorldSpec, WorldSpecError, generate
from rover_autonomy.worlds.planets import PLANETS
from rover_autonomy.worlds.rocks import DEFAULT_FOLD_DIAMETER
from rover_autonomy.worlds.world import WorldError
from rover_autonomy.worlds.writer import write_world

HELP = "generate a Moon/Mars world: terrain, rocks, craters, ground truth and a MuJoCo scene"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--planet", required=True, help=f"one of: {', '.join(sorted(PLANETS))}")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same world)")
    parser.add_argument(
        "--rock-density",
        type=float,
        default=None,
        metavar="K",
        help=f"Golombek-Rapp k in (0, {MAX_K}] (default: Moon 0.02, Mars 0.07)",
    )
    parser.add_argument(
        "--size", type=float, default=80.0, metavar="METRES", help="side of the square world [m]"
    )
    parser.add_argument(
        "--resolution", type=float, default=0.05, metavar="R", help="ground-truth grid spacing [m]"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output world directory (replaced atomically)"
    )
    parser.add_argument("--preview", action="store_true", help="also write preview.png")
    parser.add_argument(
        "--gazebo",
        action="store_true",
        help="also export the world to Gazebo SDF in DIR/gazebo (docs/gazebo.md)",
    )
    parser.add_argument(
        "--easy",
        action="store_true",
        help="CI world: k=0.01 unless given, half the relief, few degraded craters",
    )
    parser.add_argument("--polar", action="store_true", help="Moon only: lunar polar low sun (long shadows)")
    parser.add_argument(
        "--sun-azimuth", type=float, default=None, metavar="DEG", help="from north towards east"
    )
    parser.add_argument("--sun-elevation", type=float, default=None, metavar="DEG", help="above the horizon")
    parser.add_argument(
        "--fold-diameter",
        type=float,
        default=DEFAULT_FOLD_DIAMETER,
        metavar="M",
        help="rocks smaller than this are folded into the terrain raster [m]",
    )


def run(args: argparse.Namespace) -> int:
    spec = WorldSpec(
        planet=args.planet.lower(),
        seed=args.seed,
        rock_density=args.rock_density,
        size=args.size,
        resolution=args.resolution,
        sun_azimuth=args.sun_azimuth,
        sun_elevation=args.sun_elevation,
        polar=args.polar,
        easy=args.easy,
        fold_diameter=args.fold_diameter,
    )
    try:
        start = time.perf_counter()
        world = generate(spec)
        path = write_world(world, args.out, preview=args.preview, command=command_line(world.spec, args.out))
    except (WorldSpecError, WorldError, RoverModelError) as err:
        print(f"rover-autonomy world: error: {err}", file=sys.stderr)
        return 2
    if args.gazebo:
        try:
            sdf = export_sdf(path, Path(path) / "gazebo")
        except ValueError as err:
            print(f"rover-autonomy world: error: Gazebo export failed: {err}", file=sys.stderr)
            return 2
        problems = check_world_sdf(sdf)
        if problems:
            print(f"rover-autonomy world: error: Gazebo export: {problems[0]}", file=sys.stderr)
            return 2
        print(f"Gazebo SDF: {sdf}")
    print(
        f"{path}: {world.spec.planet} seed {world.spec.seed}, k={world.spec.rock_density:g}, "
        f"{world.spec.size:g} m at {world.spec.resolution:g} m: {len(world.rocks)} rocks "
        f"(+{len(world.folded_rocks)} folded), {len(world.craters)} craters, "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


def command_line(spec: WorldSpec, out: str) -> str:
    """The command that regenerates a world of this (validated) spec."""
    words = [
        "rover-autonomy",
        "world",
        "--planet",
        spec.planet,
        "--seed",
        str(spec.seed),
        "--rock-density",
        f"{spec.rock_density:g}",
        "--size",
        f"{spec.size:g}",
        "--resolution",
        f"{spec.resolution:g}",
        "--sun-azimuth",
        f"{spec.sun_azimuth:g}",
        "--sun-elevation",
        f"{spec.sun_elevation:g}",
        "--fold-diameter",
        f"{spec.fold_diameter:g}",
    ]
    words += ["--easy"] * spec.easy + ["--out", str(out)]
    return " ".join(shlex.quote(w) for w in words)


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line (no usage block) with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(prog="rover-autonomy world", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
