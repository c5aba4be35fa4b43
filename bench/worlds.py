"""World generation speed and fidelity: a 100×100 m world at 5 cm ground-truth resolution (goal <= 10 s).

Prints, per planet: time to generate (relief, craters, rocks, hazards) and to write the directory
(compressed rasters, height field, scene, texture), wall-clock and CPU time (the CPU time of this
process, threads included, is what the machine's load does not inflate), rock and crater counts, the generated rocks'
cumulative fractional area against the Golombek–Rapp model, and the load average (the machine is
shared; timings under load are upper bounds). Run: ``python bench/worlds.py [--size 100] [--resolution 0.05]``.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.worlds import WorldSpec, generate, load_world, write_world
from rover_autonomy.worlds.rocks import cumulative_fractional_area

GOAL = 10.0  # [s] generate + write, 100 m at 0.05 m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=100.0)
    parser.add_argument("--resolution", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model = load_rover_model()
    generate(WorldSpec(planet="mars", seed=0, size=12.0, resolution=0.1), model)  # warm imports and caches
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    print(
        f"world {args.size:g} x {args.size:g} m at {args.resolution:g} m, seed {args.seed}, goal <= {GOAL:g} s"
    )
    header = (
        "planet  k      nodes     generate[s]  write[s]  total[s]  cpu[s]  /goal  rocks  folded  craters  MB"
    )
    print(header)
    rows = []
    for planet in ("moon", "mars"):
        spec = WorldSpec(planet=planet, seed=args.seed, size=args.size, resolution=args.resolution)
        c0, t0 = time.process_time(), time.perf_counter()
        world = generate(spec, model)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = write_world(world, Path(tmp) / planet, model=model)
            t2, c2 = time.perf_counter(), time.process_time()
            megabytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
            loaded = load_world(out)
        total = t2 - t0
        print(
            f"{planet:6s}  {world.spec.rock_density:<5g}  {world.terrain.size:>8d}  {t1 - t0:11.2f}  {t2 - t1:8.2f}"
            f"  {total:8.2f}  {c2 - c0:6.2f}  {total / GOAL:5.2f}  {len(world.rocks):5d}  {len(world.folded_rocks):6d}"
            f"  {len(world.craters):7d}  {megabytes:4.1f}"
        )
        rows.append(loaded)
    print("rock CFA, generated / Golombek-Rapp F_k(D) (folded rocks counted, start disc excluded):")
    for world in rows:
        diameters = world.all_rock_diameters()
        area = world.size**2 - math.pi * world.start_clear_radius**2
        ratios = []
        for d in (0.1, 0.2, 0.3, 0.5, 1.0):
            measured = (math.pi / 4 * diameters[diameters >= d] ** 2).sum() / area
            ratios.append(
                f"D>={d:g}: {measured / float(cumulative_fractional_area(world.rock_density, d)):.3f}"
            )
        ratio = world.craters["depth"] / world.craters["diameter"]
        print(
            f"  {world.planet:6s} " + "  ".join(ratios) + f"  crater d/D {ratio.min():.3f}..{ratio.max():.3f}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
