"""End to end: the whole stack drives the simulated rover to a goal; failures and Ctrl-C are clean."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "rover_autonomy.cli"]


@pytest.fixture(scope="module")
def easy_world(tmp_path_factory):
    """The CI world: a hazard-free corridor running 17 m east of the start at (-9, 0)."""
    out = tmp_path_factory.mktemp("worlds") / "easy"
    args = ["world", "--planet", "mars", "--easy", "--seed", "0", "--size", "30", "--resolution", "0.1"]
    subprocess.run([*CLI, *args, "--out", str(out)], check=True, capture_output=True, timeout=120)
    return out


def _mission(world, goal, report, *extra, timeout=600):
    argv = [
        *CLI,
        "mission",
        "--world",
        str(world),
        "--goal",
        *map(str, goal),
        "--report",
        str(report),
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(900)
def test_mission_reaches_a_goal_15_m_away(easy_world, tmp_path):
    result = _mission(easy_world, (6.0, 0.0), tmp_path / "report", "--timeout", "180")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert result.returncode == 0, f"{report['failure_reason']}\n{result.stdout}\n{result.stderr[-3000:]}"
    assert report["success"] and report["failure_reason"] is None
    assert report["goal_error_m"] <= 1.0 and report["body_contacts"] == 0
    assert report["distance_travelled_m"] >= 14.0 and report["straight_line_m"] == pytest.approx(
        15.0, abs=0.1
    )
    assert report["latency_ms"]["samples"] > 0 and report["replans"] >= 0
    assert (tmp_path / "report" / "mission.png").stat().st_size > 10_000
    assert "SUCCESS" in result.stdout


@pytest.mark.timeout(300)
def test_mission_that_runs_out_of_time_says_so_and_its_recording_reads_back(easy_world, tmp_path):
    from mcap.reader import make_reader

    bag = tmp_path / "bag"
    result = _mission(easy_world, (6.0, 0.0), tmp_path / "report", "--timeout", "4", "--record", str(bag))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert result.returncode == 1
    assert not report["success"] and report["failure_reason"].startswith("timeout")
    assert "FAILURE: timeout" in result.stdout
    # The bag is a rosbag2 MCAP bag an independent reader understands.
    assert (bag / "metadata.yaml").is_file()
    counts = {}
    for path in bag.glob("*.mcap"):
        with path.open("rb") as stream:
            for _, channel, _ in make_reader(stream).iter_messages():
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
    for topic in ("/joint_states", "/imu/data", "/stereo/left/image_rect", "/ground_truth/odom", "/odom"):
        assert counts.get(topic, 0) > 0, (topic, counts)


@pytest.mark.timeout(300)
def test_ctrl_c_leaves_no_process_behind(easy_world, tmp_path):
    argv = [*CLI, "mission", "--world", str(easy_world), "--goal", "6", "0", "--report", str(tmp_path / "r")]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "r" / "nodes.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.is_file() and "rover_sim" in log.read_text()):
        time.sleep(0.5)
    children = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children, "the stack did not start"
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["failure_reason"] == "interrupted"
    for pid in children:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text(), f"child {pid} survived"
