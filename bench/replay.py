"""Replay benchmark: bag I/O and the cost of deterministic lockstep.

Bag I/O: a synthetic 10 s drive (320x240 mono8 stereo pairs at 5 Hz with camera info, joint states,
IMU and ground truth at 50 Hz: 2.0k messages, ~16 MB) written with ``BagWriter`` and read in (stamp,
topic) order with ``open_bag``; the reference is the independent ``mcap`` reader iterating the same
file's raw records, in the same run.

Lockstep: the same 2 s drive replayed through the deterministic test node
(``test/helpers/nodes/replay_stack_node.py``) with the full barrier (answers + quiescence, the default) and,
as the reference, with answers only (``--settle 0``, not guaranteed deterministic). Figures: play wall
time, real-time factor, wall time per barrier.

    PYTHONPATH=$PWD .venv/bin/python bench/replay.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "test"), str(ROOT / "test" / "helpers" / "nodes")]
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from mcap.reader import make_reader  # noqa: E402
from replay_bags import mission_messages, write_bag  # noqa: E402

from rover_autonomy import cli  # noqa: E402
from rover_autonomy.bringup import graph  # noqa: E402
from rover_autonomy.replay import playlist  # noqa: E402
from rover_autonomy.replay.bag import open_bag  # noqa: E402


def bag_io(folder: Path) -> None:
    messages = mission_messages(duration=10.0)
    started = time.perf_counter()
    path = write_bag(folder / "drive", messages)
    write_s = time.perf_counter() - started
    size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    started = time.perf_counter()
    bag = open_bag(path)
    count = sum(1 for _ in bag.messages())
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    with (path / "drive.mcap").open("rb") as stream:
        reference = sum(1 for _ in make_reader(stream).iter_messages())
    reference_s = time.perf_counter() - started
    assert count == reference == len(messages)
    print(f"bag: {count} messages, {size:.1f} MB")
    print(f"  write (serialise + MCAP)           {write_s * 1e3:7.0f} ms  {size / write_s:6.1f} MB/s")
    print(f"  scan + read in (stamp, topic) order {ours_s * 1e3:7.0f} ms  {size / ours_s:6.1f} MB/s")
    print(
        f"  mcap reader, raw records (ref.)    {reference_s * 1e3:7.0f} ms  ratio {ours_s / reference_s:.1f}"
    )


def register_test_node() -> None:
    graph.EXECUTABLES["replay_test_stack"] = graph.Executable("replay_stack_node:main", "replay_stack_node")
    graph.NODES = (
        *graph.NODES,
        graph.NodeEntry(
            name="replay_test_stack", executable="replay_test_stack", profiles=frozenset({"replay"})
        ),
    )
    playlist.NODE_IO["replay_test_stack"] = playlist.NodeIO(
        inputs=(*playlist.STEREO, "joint_states"),
        optional_inputs=("goal_pose",),
        outputs=("odom", "stereo/points", "terrain/costmap", "plan"),
        answers={"stereo/right/image_rect": "stereo/points", "joint_states": "odom"},
    )
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "test" / "helpers" / "nodes"), str(ROOT)])


def lockstep(folder: Path) -> None:
    register_test_node()
    bag = write_bag(folder / "short", mission_messages(duration=2.0))
    rows = []
    for label, settle in (("answers + quiescence (default)", "0.005"), ("answers only (reference)", "0")):
        report_dir = folder / f"replay-{settle}"
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(
                [
                    "replay",
                    str(bag),
                    "--report",
                    str(report_dir),
                    "--nodes",
                    "replay_test_stack",
                    "--settle",
                    settle,
                ]
            )
        report = json.loads((report_dir / "report.json").read_text())
        assert code == 0, report["failure_reason"]
        lock = report["lockstep"]
        barriers = lock["groups"] + lock["messages"]
        rows.append((label, lock["play_wall_s"], report["duration_sim_s"], barriers))
    print("lockstep: 2 s drive, 141 messages at 100 stamps, through the test node")
    for label, wall, sim, barriers in rows:
        print(
            f"  {label:32s} play {wall:5.2f} s  real-time factor {sim / wall:5.2f}"
            f"  {wall / barriers * 1e3:5.1f} ms per barrier"
        )
    print(f"  cost of quiescence: x{rows[0][1] / rows[1][1]:.1f} play time")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        bag_io(Path(folder))
        lockstep(Path(folder))


if __name__ == "__main__":
    main()
