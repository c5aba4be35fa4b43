"""Replay a recorded bag through the stack's nodes, deterministically, and report against the recording.

    rover-autonomy replay BAG                                   # every replay-profile node
    rover-autonomy replay BAG --nodes wheel_odometry --report out/odo
    rover-autonomy replay field_bag --remap left/image_rect:=stereo/left/image_rect ...
    rover-autonomy replay test/data/replay/NAME/input --expected test/data/replay/NAME/expected [--update]

Writes ``DIR/outputs`` (an MCAP bag of the nodes' outputs), ``DIR/nodes.log`` and
``DIR/report.json``: what was played, lockstep figures, odometry against the recorded ground truth,
costmaps and plans against the recorded ones, fingerprints of the outputs (equal fingerprints =
bit-identical replays) and, with ``--expected``, the regression verdict against committed outputs
(tolerances in docs/replay.md). ``--update`` replaces the expected outputs with this replay's.
Exit code 0 when the replay completed (and the regression passed), 1 otherwise, 2 for bad arguments,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rover_autonomy.bringup import graph
from rover_autonomy.bringup.overrides import parse_override
from rover_autonomy.replay import compare
from rover_autonomy.replay.bag import BagError, open_bag, parse_remaps
from rover_autonomy.replay.playlist import NODE_IO, plan_playlist

PROG = "rover-autonomy replay"
FINGERPRINTED = ("stereo/points", "visual_odometry/odom", "odom", "terrain/costmap", "plan")


def default_nodes() -> list[str]:
    """The replay profile's nodes that have a replay description (perception, mapping, odometry, planning)."""
    return [n.name for n in graph.nodes_for("replay") if n.ours and n.name in NODE_IO]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="rosbag2 directory (MCAP or sqlite3) or .mcap file")
    parser.add_argument("--report", type=Path, help="report directory (default: ./replay-<bag name>)")
    parser.add_argument(
        "--nodes", nargs="+", metavar="NODE", help="nodes to replay (default: the replay profile)"
    )
    parser.add_argument(
        "--remap", action="append", default=[], metavar="FROM:=TO", help="rename a bag topic (repeatable)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        type=parse_override,
        metavar="NODE.NAME=VALUE",
        help="override a node parameter (repeatable); wins over the parameters stored in the bag",
    )
    parser.add_argument("--expected", type=Path, help="committed expected outputs (a bag) to compare with")
    parser.add_argument("--update", action="store_true", help="replace --expected with this replay's outputs")
    parser.add_argument(
        "--answer-timeout", type=float, default=10.0, help="wall time to wait for a node's answer [s]"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.005,
        help="after each message, wait for this long a window with idle nodes and no output [s]",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="longest wall time the nodes may stay busy after a message (a first-call JIT compile) [s]",
    )
    parser.add_argument(
        "--domain-id",
        type=int,
        help="DDS domain of the replay (default: a free one, so that nothing else feeds the nodes)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="wall time for the nodes to come up [s]"
    )


def startup_parameters(nodes: list[str], overrides: dict[str, dict[str, object]]) -> dict[str, dict]:
    """The parameters each node will start with: its files under config/, then the overrides (the
    launch plan's order). The playlist needs those that switch an input off."""
    import yaml

    from rover_autonomy.resources import config_dir

    values: dict[str, dict] = {}
    for step in graph.launch_plan("replay", str(config_dir()), overrides):
        if step["name"] not in nodes:
            continue
        merged: dict = {}
        for source in step["parameters"]:
            if isinstance(source, dict):
                merged.update(source)
                continue
            content = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
            for key in ("/**", step["name"], f"/{step['name']}"):
                merged.update((content.get(key) or {}).get("ros__parameters", {}))
        values[step["name"]] = merged
    return values


def _fail(message: str, code: int = 1) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def _check(args: argparse.Namespace) -> str | None:
    for name in ("answer_timeout", "startup_timeout", "settle_timeout"):
        if not 0 < getattr(args, name) <= 3600:
            return f"--{name.replace('_', '-')} {getattr(args, name)}: must lie in (0, 3600] s"
    if not 0 <= args.settle <= 60:
        return f"--settle {args.settle}: must lie in [0, 60] s"
    if args.domain_id is not None and not 0 <= args.domain_id <= 232:
        return f"--domain-id {args.domain_id}: must lie in 0 … 232"
    if args.update and args.expected is None:
        return "--update needs --expected DIR (the expected outputs to replace)"
    if args.expected is not None and not args.update and not args.expected.exists():
        return f"--expected {args.expected}: no such bag (record it with --update)"
    return None


def _prepare_report_dir(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        return f"cannot write the report directory {path}: {err.strerror or err}"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    try:
        remaps = parse_remaps(args.remap)
    except ValueError as err:
        problem = problem or str(err)
    nodes = args.nodes or default_nodes()
    unknown = [n for n in nodes if n not in NODE_IO or n not in {e.name for e in graph.nodes_for("replay")}]
    if not problem and unknown:
        known = ", ".join(default_nodes()) or "none yet"
        problem = f"unknown replay node(s) {', '.join(unknown)} (replay profile: {known})"
    if not problem and not nodes:
        problem = "the replay profile has no nodes yet (the stack's nodes have not landed)"
    if problem:
        return _fail(problem, 2)

    try:
        bag = open_bag(args.bag, remaps)
    except (BagError, ValueError) as err:
        return _fail(str(err))
    overrides = {name: dict(params) for name, params in bag.parameters.items() if name in nodes}
    for node, name, value in args.param:
        if node not in nodes:
            return _fail(f"--param {node}.{name}: {node} is not replayed (nodes: {', '.join(nodes)})", 2)
        overrides.setdefault(node, {})[name] = value
    try:
        playlist = plan_playlist(bag, nodes, parameters=startup_parameters(nodes, overrides))
    except (BagError, ValueError) as err:
        return _fail(str(err))
    report_dir = args.report or Path.cwd() / f"replay-{args.bag.resolve().name}"
    problem = _prepare_report_dir(report_dir)
    if problem:
        return _fail(problem, 2)
    for warning in playlist.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)

    from rover_autonomy.bringup.launcher import LaunchError
    from rover_autonomy.replay.domain_node import prefer_large_data_transport
    from rover_autonomy.replay.player_node import LockstepTiming
    from rover_autonomy.replay.session import replay

    prefer_large_data_transport()

    started = time.monotonic()
    print(
        f"replaying {bag.path} ({bag.message_count} messages, "
        f"{(bag.end_stamp_ns - bag.start_stamp_ns) * 1e-9:.1f} s) through {', '.join(nodes)}",
        flush=True,
    )
    try:
        result = replay(
            bag,
            playlist,
            report_dir / "outputs",
            report_dir / "nodes.log",
            overrides=overrides,
            timing=LockstepTiming(
                answer_timeout=args.answer_timeout,
                settle=args.settle,
                settle_timeout=args.settle_timeout,
                startup_timeout=args.startup_timeout,
            ),
            domain_id=args.domain_id,
            progress=_progress(bag) if sys.stderr.isatty() else None,
        )
    except (LaunchError, BagError) as err:
        return _fail(str(err))
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    report = build_report(bag, playlist, result, time.monotonic() - started)
    report["parameters"] = overrides

    code = 0 if result.complete else 130 if result.failure_reason.startswith("interrupted") else 1
    if args.expected is not None and result.complete:
        if args.update:
            _store_expected(result.outputs, args.expected)
            report["regression"] = {"updated": str(args.expected)}
        else:
            try:
                expected = open_bag(args.expected)
            except BagError as err:
                return _fail(f"expected outputs: {err}")
            report["regression"] = compare.regression(expected, open_bag(result.outputs))
            code = 0 if report["regression"]["passed"] else 1
    (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(verdict(report, report_dir), file=sys.stdout if code == 0 else sys.stderr, flush=True)
    return code


def _progress(bag):
    """A progress line on the terminal, refreshed at most twice a second."""
    total = max(bag.end_stamp_ns - bag.start_stamp_ns, 1)
    shown = [0.0]

    def show(stats) -> None:
        now = time.monotonic()
        if now - shown[0] < 0.5 or stats.sim_end_ns is None:
            return
        shown[0] = now
        done = (stats.sim_end_ns - bag.start_stamp_ns) / total
        print(
            f"\r  {100 * done:5.1f} %  {(stats.sim_end_ns - bag.start_stamp_ns) * 1e-9:7.2f} s of "
            f"{total * 1e-9:.2f} s  {stats.messages} messages  {stats.answer_timeouts} answer timeouts",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return show


def _store_expected(source: Path, target: Path) -> None:
    """Replace the expected outputs with this replay's compared topics (odom, costmap, plan)."""
    from rover_autonomy.contract import TOPICS
    from rover_autonomy.replay.bag import BagWriter

    outputs = open_bag(source)
    if target.exists() and not (target / "metadata.yaml").is_file():
        raise BagError(f"{target} exists and is not a bag: refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = [t for t in compare.REGRESSION_TOPICS if t in outputs.topics]
    with BagWriter(target, overwrite=True) as writer:
        for topic in kept:
            writer.add_topic(topic, TOPICS[topic].type, TOPICS[topic].qos)
        for message in outputs.messages(set(kept)):
            writer.write(message.topic, message.log_time_ns, message.raw)
        writer.set_custom_data(
            "rover_autonomy.replay.source", outputs.custom_data.get("rover_autonomy.replay.source", "")
        )


def build_report(bag, playlist, result, wall_s: float) -> dict:
    stats = result.stats
    report: dict = {
        "bag": str(bag.path),
        "storage": bag.storage,
        "nodes": list(playlist.nodes),
        "complete": result.complete,
        "failure_reason": result.failure_reason,
        "duration_wall_s": round(wall_s, 3),
        "duration_sim_s": (stats.sim_end_ns - stats.sim_start_ns) * 1e-9
        if stats.sim_start_ns is not None
        else 0.0,
        "played": stats.published,
        "outputs": {k.lstrip("/"): v for k, v in result.output_counts.items()},
        "lockstep": {
            "groups": stats.groups,
            "messages": stats.messages,
            "answer_timeouts": stats.answer_timeouts,
            "missed_answers": stats.missed,
            "settle_timeouts": stats.settle_timeouts,
            "settle_windows": stats.settle_windows,
            "busy_windows": stats.busy_windows,
            "relayed": stats.relayed,
            "play_wall_s": round(stats.wall_s, 3),
        },
        "warnings": [*playlist.warnings, *result.warnings],
    }
    try:
        outputs = open_bag(result.outputs)
    except BagError:
        report["fingerprints"] = {}
        return report  # nothing was recorded
    report["fingerprints"] = compare.fingerprints(
        outputs, [t for t in FINGERPRINTED if t in playlist.outputs]
    )
    if "odom" in outputs.topics:
        odom = compare.poses(outputs, "odom")
        report["odometry"] = {"samples": len(odom)}
        if "ground_truth/odom" in bag.topics:
            report["odometry"]["vs_ground_truth"] = compare.odometry_vs_truth(
                odom, compare.poses(bag, "ground_truth/odom")
            )
        if "odom" in bag.topics and "odom" not in playlist.played:
            report["odometry"]["vs_recorded"] = compare.odometry_vs_odometry(odom, compare.poses(bag, "odom"))
    if "terrain/costmap" in outputs.topics:
        recorded = compare.grids(bag, "terrain/costmap") if "terrain/costmap" in bag.topics else []
        report["costmap"] = compare.costmaps_vs(compare.grids(outputs, "terrain/costmap"), recorded)
    if "plan" in outputs.topics:
        recorded = compare.paths(bag, "plan") if "plan" in bag.topics else []
        report["plan"] = compare.plans_vs(compare.paths(outputs, "plan"), recorded)
    return report


def verdict(report: dict, report_dir: Path) -> str:
    if not report["complete"]:
        return (
            f"replay: INCOMPLETE: {report['failure_reason']} (see {report_dir / 'nodes.log'}); "
            f"partial outputs kept in {report_dir / 'outputs'}"
        )
    parts = [f"replay: complete, {report['lockstep']['groups']} stamps in {report['duration_wall_s']:.1f} s"]
    truth = report.get("odometry", {}).get("vs_ground_truth", {})
    if truth.get("samples"):
        parts.append(
            f"odometry final error {truth['final_error_m']:.3f} m (RMS {truth['rms_error_m']:.3f} m)"
        )
    if "costmap" in report:
        parts.append(f"{report['costmap']['replayed']} costmaps")
    if "plan" in report:
        parts.append(f"{report['plan']['replayed']} plans")
    if report["lockstep"]["answer_timeouts"]:
        parts.append(f"{report['lockstep']['answer_timeouts']} answer timeouts")
    regression = report.get("regression")
    if regression and "passed" in regression:
        parts.append(
            "regression "
            + ("passed" if regression["passed"] else "FAILED: " + "; ".join(regression["failures"]))
        )
    elif regression:
        parts.append(f"expected outputs updated in {regression['updated']}")
    return "; ".join(parts) + f"; report in {report_dir / 'report.json'}"
