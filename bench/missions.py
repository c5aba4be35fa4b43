"""Mission benchmark: the whole stack on fresh worlds, judged on ground truth.

For each planet and seed a world is generated (80 m, k = 0.07 unless --k), a goal is placed 26 m east of
the start (moved north or south by up to 3 m when it falls in a rock), and `rover-autonomy mission` runs
to its verdict. Prints one row per mission and a summary: success count, failure reasons, stack latency
and the mission wall time against the rover's driving time.

    PYTHONPATH=$PWD .venv/bin/python bench/missions.py --planets mars moon --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rover_autonomy.missions.cli import MissionArgumentError, check_goal
from rover_autonomy.worlds.world import load_world

CLI = [sys.executable, "-m", "rover_autonomy.cli"]


def goal_for(world, distance: float) -> tuple[float, float]:
    for dy in (0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0):
        goal = (world.start.x + distance, world.start.y + dy)
        try:
            check_goal(world, goal)
            return goal
        except MissionArgumentError:
            continue
    raise RuntimeError(f"no free goal {distance} m east of the start of {world!r}")


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planets", nargs="+", default=["mars", "moon"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--k", type=float, default=0.07)
    parser.add_argument("--distance", type=float, default=26.0)
    parser.add_argument("--timeout", type=float, default=400.0)
    parser.add_argument("--out", default=None, help="keep worlds and reports here")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="missions-"))
    rows = []
    header = f"{'world':<14}{'ok':>4} {'goal err':>9}{'dist':>7}{'sim s':>7}{'wall s':>8}{'wall/sim':>9}"
    header += f"{'lat med':>9}{'lat p95':>9}{'drift %':>9}{'body':>6}  reason"
    print(header, flush=True)
    for seed in args.seeds:  # planets alternate: an interrupted run still covers both
        for planet in args.planets:
            name = f"{planet}-{seed}"
            world_dir = out / name / "world"
            generate = ["world", "--planet", planet, "--seed", str(seed), "--rock-density", str(args.k)]
            subprocess.run([*CLI, *generate, "--out", str(world_dir)], check=True, capture_output=True)
            goal = goal_for(load_world(world_dir), args.distance)
            report_dir = out / name / "report"
            mission = ["mission", "--world", str(world_dir), "--goal", f"{goal[0]:g}", f"{goal[1]:g}"]
            mission += ["--timeout", str(args.timeout), "--report", str(report_dir)]
            subprocess.run([*CLI, *mission], capture_output=True, text=True)
            report = json.loads((report_dir / "report.json").read_text())
            rows.append(report)
            latency = report["latency_ms"]
            ratio = report["duration_wall_s"] / max(report["duration_sim_s"], 1e-9)
            print(
                f"{name:<14}{'yes' if report['success'] else 'no':>4} {report['goal_error_m']!s:>9}"
                f"{report['distance_travelled_m']:>7.1f}{report['duration_sim_s']:>7.0f}"
                f"{report['duration_wall_s']:>8.0f}{ratio:>9.2f}{_ms(latency['median']):>9}{_ms(latency['p95']):>9}"
                f"{report['odometry_drift_pct']!s:>9}{report['body_contacts']:>6}  {report['failure_reason'] or ''}",
                flush=True,
            )
    successes = sum(r["success"] for r in rows)
    reasons = Counter((r["failure_reason"] or "").split(":")[0] for r in rows if not r["success"])
    latencies = [r["latency_ms"]["median"] for r in rows if r["latency_ms"]["median"] is not None]
    ratios = [r["duration_wall_s"] / r["duration_sim_s"] for r in rows if r["duration_sim_s"] > 0]
    print(f"\nsuccess {successes}/{len(rows)}; failures: {dict(reasons) or 'none'}")
    if latencies:
        print(f"stack latency median of medians {statistics.median(latencies):.0f} ms (goal <= 250 ms)")
    if ratios:
        print(f"mission wall time / driving time, median {statistics.median(ratios):.2f} (goal <= 2)")
    print(f"worlds and reports: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
