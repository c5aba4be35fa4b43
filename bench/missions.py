"""Mission benchmark: the whole stack on fresh worlds, judged on ground truth.

For each planet, rock density k and seed a world is generated (80 m), a goal is placed ``--distance`` m
from the start (east, or at a random bearing and a random distance up to ``--distance-max`` with
``--bearing random``; moved sideways by up to 3 m when it falls in a rock), and `rover-autonomy mission`
runs to its verdict. Prints one row per mission and a summary: success per planet and k, failure
reasons, stuck recoveries, progress towards the goal, stack latency and the mission wall time against
the rover's driving time. Rows are also written to OUT/missions.json.

    PYTHONPATH=$PWD .venv/bin/python bench/missions.py --planets mars moon --seeds 0 1 2
    PYTHONPATH=$PWD .venv/bin/python bench/missions.py --planets mars --k 0.07 0.12 0.15 0.2 \
        --seeds 40 41 42 --bearing random --distance 25 --distance-max 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rover_autonomy.missions.cli import MissionArgumentError, check_goal
from rover_autonomy.replay.domain_node import quiet_domain
from rover_autonomy.worlds.world import load_world

CLI = [sys.executable, "-m", "rover_autonomy.cli"]


def goal_for(world, distance: float, bearing: float = 0.0) -> tuple[float, float]:
    """A free goal ``distance`` m from the start at ``bearing`` [rad from east, counter-clockwise],
    moved sideways by up to 3 m when it falls in a rock."""
    along = (math.cos(bearing), math.sin(bearing))
    for side in (0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0):
        goal = (
            world.start.x + distance * along[0] - side * along[1],
            world.start.y + distance * along[1] + side * along[0],
        )
        try:
            check_goal(world, goal)
            return goal
        except MissionArgumentError:
            continue
    raise RuntimeError(f"no free goal {distance} m from the start of {world!r} at bearing {bearing:.2f} rad")


def stuck_recoveries(report: dict) -> int:
    """How often the follower backed up: entries of ``recovering`` in the navigation states."""
    return sum(1 for entry in report["navigation_states"] if entry.split(" ", 1)[1].startswith("recovering"))


def progress_rate(report: dict) -> float:
    """Metres made good towards the goal per minute of sim time."""
    made_good = report["straight_line_m"] - (report["goal_error_m"] or 0.0)
    return 60.0 * made_good / max(report["duration_sim_s"], 1e-9)


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planets", nargs="+", default=["mars", "moon"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--k", nargs="+", type=float, default=[0.07], help="rock densities (Golombek-Rapp k)")
    parser.add_argument("--distance", type=float, default=26.0, help="goal distance from the start [m]")
    parser.add_argument("--distance-max", type=float, default=None, help="random distances up to this [m]")
    parser.add_argument("--bearing", choices=("east", "random"), default="east")
    parser.add_argument("--timeout", type=float, default=400.0)
    parser.add_argument("--out", default=None, help="keep worlds and reports here")
    parser.add_argument(
        "--domain-id", type=int, default=None, help="DDS domain of the missions (default: a free one)"
    )
    args = parser.parse_args()
    if args.distance_max is not None and args.distance_max < args.distance:
        parser.error(f"--distance-max {args.distance_max} is below --distance {args.distance}")
    out = Path(args.out or tempfile.mkdtemp(prefix="missions-"))
    out.mkdir(parents=True, exist_ok=True)
    # A domain of its own: a second stack on the same domain (another bench, a test run) feeds this
    # mission's nodes its stamps and corrupts both.
    domain = args.domain_id if args.domain_id is not None else quiet_domain()
    os.environ.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    print(f"DDS domain {domain}", flush=True)
    rows = []
    header = f"{'world':<20}{'ok':>4} {'goal err':>9}{'dist':>7}{'sim s':>7}{'wall s':>8}{'wall/sim':>9}"
    header += f"{'lat med':>9}{'lat p95':>9}{'drift %':>9}{'body':>6}{'stuck':>6}{'m/min':>7}  reason"
    print(header, flush=True)
    for seed in args.seeds:  # planets and densities alternate: an interrupted run still covers them all
        for k in args.k:
            for planet in args.planets:
                name = f"{planet}-{seed}" if len(args.k) == 1 else f"{planet}-k{k:g}-{seed}"
                report = _run(args, out / name, planet, k, seed)
                report.update(name=name, planet=planet, k=k, seed=seed)
                report["stuck_recoveries"] = stuck_recoveries(report)
                report["progress_m_per_min"] = round(progress_rate(report), 2)
                rows.append(report)
                _print_row(report)
                (out / "missions.json").write_text(json.dumps(rows, indent=1))  # kept if interrupted
    _print_summary(rows)
    print(f"worlds and reports: {out}")
    return 0


def _run(args, folder: Path, planet: str, k: float, seed: int) -> dict:
    world_dir = folder / "world"
    generate = ["world", "--planet", planet, "--seed", str(seed), "--rock-density", str(k)]
    subprocess.run([*CLI, *generate, "--out", str(world_dir)], check=True, capture_output=True)
    rng = random.Random(f"{planet}-{k}-{seed}")  # the same goal for the same world, run after run
    bearing = 0.0 if args.bearing == "east" else rng.uniform(-math.pi, math.pi)
    distance = args.distance if args.distance_max is None else rng.uniform(args.distance, args.distance_max)
    goal = goal_for(load_world(world_dir), distance, bearing)
    report_dir = folder / "report"
    mission = ["mission", "--world", str(world_dir), "--goal", f"{goal[0]:g}", f"{goal[1]:g}"]
    mission += ["--timeout", str(args.timeout), "--report", str(report_dir)]
    result = subprocess.run([*CLI, *mission], capture_output=True, text=True)
    try:
        return json.loads((report_dir / "report.json").read_text())
    except (OSError, ValueError):
        return _crashed(result)


def _crashed(result: subprocess.CompletedProcess) -> dict:
    """The row of a mission that left no report: a failure, with the CLI's last words as the reason."""
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return {
        "success": False,
        "failure_reason": f"crashed: exit code {result.returncode}: {last}",
        "goal_error_m": None,
        "straight_line_m": 0.0,
        "distance_travelled_m": 0.0,
        "duration_sim_s": 0.0,
        "duration_wall_s": 0.0,
        "latency_ms": {"median": None, "p95": None},
        "odometry_drift_pct": None,
        "body_contacts": 0,
        "navigation_states": [],
    }


def _print_row(report: dict) -> None:
    latency = report["latency_ms"]
    ratio = report["duration_wall_s"] / max(report["duration_sim_s"], 1e-9)
    print(
        f"{report['name']:<20}{'yes' if report['success'] else 'no':>4} {report['goal_error_m']!s:>9}"
        f"{report['distance_travelled_m']:>7.1f}{report['duration_sim_s']:>7.0f}"
        f"{report['duration_wall_s']:>8.0f}{ratio:>9.2f}{_ms(latency['median']):>9}{_ms(latency['p95']):>9}"
        f"{report['odometry_drift_pct']!s:>9}{report['body_contacts']:>6}{report['stuck_recoveries']:>6}"
        f"{report['progress_m_per_min']:>7.1f}  {report['failure_reason'] or ''}",
        flush=True,
    )


def _print_summary(rows: list[dict]) -> None:
    successes = sum(r["success"] for r in rows)
    reasons = Counter((r["failure_reason"] or "").split(":")[0] for r in rows if not r["success"])
    latencies = [r["latency_ms"]["median"] for r in rows if r["latency_ms"]["median"] is not None]
    ratios = [r["duration_wall_s"] / r["duration_sim_s"] for r in rows if r["duration_sim_s"] > 0]
    print(f"\nsuccess {successes}/{len(rows)}; failures: {dict(reasons) or 'none'}")
    for planet, k in sorted({(r["planet"], r["k"]) for r in rows}):
        group = [r for r in rows if (r["planet"], r["k"]) == (planet, k)]
        stuck = sum(r["stuck_recoveries"] for r in group) / len(group)
        progress = statistics.median(r["progress_m_per_min"] for r in group)
        print(
            f"  {planet} k={k:g}: {sum(r['success'] for r in group)}/{len(group)} reached,"
            f" {stuck:.1f} stuck recoveries a mission, progress median {progress:.1f} m/min"
        )
    if latencies:
        print(f"stack latency median of medians {statistics.median(latencies):.0f} ms (goal <= 250 ms)")
    if ratios:
        print(f"mission wall time / driving time, median {statistics.median(ratios):.2f} (goal <= 2)")


if __name__ == "__main__":
    sys.exit(main())
