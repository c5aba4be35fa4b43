"""Record and replay over DDS: the recorder, deterministic lockstep replays through a real node process,
reports, regression against expected outputs, and the CLI's answers to bad input."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from helpers.paths import NODES, REPO
from helpers.replay_bags import START_NS, mission_messages, write_bag
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import serialize_message

from rover_autonomy import cli
from rover_autonomy.bringup import graph
from rover_autonomy.contract import TOPICS
from rover_autonomy.replay import playlist
from rover_autonomy.replay.bag import BagWriter, open_bag
from rover_autonomy.replay.recorder_node import Recorder, message_class, recordable_topics
from rover_autonomy.ros_common import qos

ROOT = REPO
NODES_DIR = NODES


@pytest.fixture
def test_stack(monkeypatch):
    """Registers test/helpers/nodes/replay_stack_node.py as the replay profile's only node; returns a setter
    of its parameters."""
    monkeypatch.setitem(
        graph.EXECUTABLES,
        "replay_test_stack",
        graph.Executable("replay_stack_node:main", "replay_stack_node"),
    )
    monkeypatch.setitem(
        playlist.NODE_IO,
        "replay_test_stack",
        playlist.NodeIO(
            inputs=(*playlist.STEREO, "joint_states"),
            optional_inputs=("goal_pose",),
            outputs=("odom", "stereo/points", "terrain/costmap", "plan"),
            answers={"stereo/right/image_rect": "stereo/points", "joint_states": "odom"},
        ),
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(NODES_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
    )

    def configure(**parameters):
        entry = graph.NodeEntry(
            name="replay_test_stack",
            executable="replay_test_stack",
            profiles=frozenset({"replay"}),
            parameters=parameters,
        )
        monkeypatch.setattr(graph, "NODES", (*[n for n in graph.NODES if n.name != entry.name], entry))

    configure()
    return configure


@pytest.fixture(scope="module")
def mission_bag(tmp_path_factory):
    return write_bag(tmp_path_factory.mktemp("mission") / "mission", mission_messages(duration=1.2))


def replay(*argv):
    """The replay command on the test node alone (the stack's own nodes sit in the replay profile too)."""
    options = ["--nodes", "replay_test_stack", "--answer-timeout", "10", "--startup-timeout", "60"]
    return cli.main(["replay", *map(str, argv), *options])


# -- deterministic replay -----------------------------------------------------------------------


FOREIGN_PUBLISHER = """
import time, rclpy
from nav_msgs.msg import OccupancyGrid
rclpy.init()
node = rclpy.create_node("terrain_mapper")
pub = node.create_publisher(OccupancyGrid, "terrain/costmap", 10)
print("publishing", flush=True)
while True:
    pub.publish(OccupancyGrid())
    time.sleep(0.05)
"""


@pytest.fixture
def foreign_costmaps():
    """Another process publishing costmaps in the test session's domain, as a running stack would."""
    process = subprocess.Popen([sys.executable, "-c", FOREIGN_PUBLISHER], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "publishing"
    yield
    process.kill()
    process.wait(timeout=10)


def test_two_replays_are_bit_identical_and_match_the_expected_outputs(
    test_stack, mission_bag, tmp_path, capsys, foreign_costmaps
):
    # The node answers after a random delay of up to 15 ms: outputs must not depend on timing. A
    # foreign costmap publisher runs meanwhile: replays happen in a DDS domain of their own.
    test_stack(jitter_ms=15.0)
    expected = tmp_path / "expected"
    assert replay(mission_bag, "--report", tmp_path / "first", "--expected", expected, "--update") == 0
    assert (expected / "metadata.yaml").is_file() and (expected / "expected.mcap").is_file()
    assert replay(mission_bag, "--report", tmp_path / "second", "--expected", expected) == 0
    out = capsys.readouterr().out
    assert "regression passed" in out

    first = json.loads((tmp_path / "first" / "report.json").read_text())
    second = json.loads((tmp_path / "second" / "report.json").read_text())
    assert first["complete"] and second["complete"]
    assert first["lockstep"]["answer_timeouts"] == 0 and first["lockstep"]["groups"] == 60
    assert first["fingerprints"] == second["fingerprints"]
    assert {t: f["count"] for t, f in first["fingerprints"].items()} == {
        "stereo/points": 6,
        "odom": 60,
        "terrain/costmap": 3,
        "plan": 1,
    }
    assert second["regression"]["passed"] and second["regression"]["odom"]["max_position_diff_m"] == 0.0

    # The test node integrates the recorded wheel rates: its odometry follows the ground-truth arc
    # (0.35 m in 1.2 s) up to the wheel-rate noise of the recording.
    truth = first["odometry"]["vs_ground_truth"]
    assert truth["samples"] == 60
    assert truth["distance_m"] == pytest.approx(0.354, abs=0.01)
    assert 0 < truth["final_error_m"] < 0.01
    assert first["plan"]["lengths_m"][0] == pytest.approx(((4.0 - 0.15) ** 2 + 1.0) ** 0.5, abs=0.05)
    assert first["played"]["goal_pose"] == 1 and first["played"]["stereo/right/image_rect"] == 6

    # The outputs bag, as the independent mcap reader sees it.
    outputs = tmp_path / "second" / "outputs"
    info = yaml.safe_load((outputs / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["custom_data"]["rover_autonomy.replay.complete"] == "true"
    stamps = []
    with (outputs / "outputs.mcap").open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        for _, _, message, decoded in reader.iter_decoded_messages(topics=["/odom"]):
            stamps.append(decoded.header.stamp.sec * 10**9 + decoded.header.stamp.nanosec)
            assert message.log_time >= stamps[-1]  # logged at the sim time it arrived in
    assert stamps == [START_NS + i * 20_000_000 for i in range(60)]


def test_a_replay_node_that_dies_ends_the_replay_with_partial_outputs(
    test_stack, mission_bag, tmp_path, capsys
):
    test_stack(die_after_pairs=3)
    started = time.monotonic()
    assert replay(mission_bag, "--report", tmp_path) == 1
    assert time.monotonic() - started < 40
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "INCOMPLETE: replay_test_stack exited with code 3 0.400 s into the bag" in err[0]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"] is False and "exited with code 3" in report["failure_reason"]
    info = yaml.safe_load((tmp_path / "outputs" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["custom_data"]["rover_autonomy.replay.complete"] == "false"
    kept = open_bag(tmp_path / "outputs")
    assert 0 < kept.topics["odom"].count < 60
    assert "dying on purpose" in (tmp_path / "nodes.log").read_text()


# -- bad input --------------------------------------------------------------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_bags_and_arguments_are_answered_in_one_line(test_stack, mission_bag, tmp_path, capsys):
    truncated = tmp_path / "truncated"
    shutil.copytree(mission_bag, truncated)
    data = (truncated / "mission.mcap").read_bytes()
    (truncated / "mission.mcap").write_bytes(data[: len(data) // 3])
    empty = tmp_path / "empty"
    with BagWriter(empty) as writer:
        writer.add_topic("joint_states", "sensor_msgs/JointState")
    no_images = write_bag(
        tmp_path / "no_images",
        mission_messages(duration=0.2),
        skip=("stereo/left/image_rect", "stereo/right/image_rect"),
    )
    cases = [
        ((tmp_path / "nothing",), 1, "no such file or directory"),
        ((truncated,), 1, "truncated or corrupt"),
        ((empty,), 1, "holds no messages"),
        (
            (no_images,),
            1,
            "lacks topic(s) required by replay_test_stack: stereo/left/image_rect, stereo/right/image_rect",
        ),
        ((mission_bag, "--nodes", "nobody"), 2, "unknown replay node(s) nobody"),
        ((mission_bag, "--remap", "left"), 2, "expected FROM:=TO"),
        ((mission_bag, "--update"), 2, "--update needs --expected"),
        ((mission_bag, "--expected", tmp_path / "none"), 2, "no such bag"),
        ((mission_bag, "--report", "/proc/replay"), 2, "cannot write the report directory"),
        ((mission_bag, "--settle", "-1"), 2, "--settle -1.0"),
    ]
    for argv, code, message in cases:
        nodes = [] if "--nodes" in argv else ["--nodes", "replay_test_stack"]
        assert cli.main(["replay", *map(str, argv), *nodes]) == code, argv
        line = _one_line(capsys)
        assert message in line, (argv, line)
    assert not list(tmp_path.glob("replay-*"))


# -- recording --------------------------------------------------------------------------------------


def _publish_mission(ros, duration=1.0):
    """Publishes a synthetic mission's serialized messages (and its /clock) over DDS."""
    node = ros.node("fake_rover")
    publishers = {}
    for topic, _, _, msg in mission_messages(duration=duration):
        if topic not in publishers:
            qos_profile = qos.for_topic(topic if topic in TOPICS else "/clock")
            publishers[topic] = node.create_publisher(type(msg), "/" + topic.lstrip("/"), qos_profile)
    return node, publishers


def test_recorder_writes_what_it_receives_at_sim_time(ros, tmp_path):
    _, publishers = _publish_mission(ros)
    writer = BagWriter(tmp_path / "recorded")
    topics = recordable_topics(["joint_states", "stereo/left/image_rect", "ground_truth/odom"])
    recorder = ros.node(Recorder(writer, topics, use_sim_time=True, context=ros.context))
    assert ros.spin_until(
        lambda: all(p.get_subscription_count() for t, p in publishers.items() if t in topics), 20
    )
    sent = 0
    for topic, _, _, msg in mission_messages(duration=1.0):
        publishers[topic].publish(serialize_message(msg))
        sent += topic == "joint_states"
        ros.spin_for(0.002)
    assert ros.spin_until(lambda: recorder.received["joint_states"] == sent, 10)
    ros.spin_for(0.3)
    writer.close()
    bag = open_bag(tmp_path / "recorded")
    assert bag.topics["joint_states"].count == 50 and bag.topics["stereo/left/image_rect"].count == 5
    assert bag.topics["ground_truth/odom"].count == 50
    log_times = [m.log_time_ns for m in bag.messages({"joint_states"})]
    # Logged on the published /clock: sim time, within a few ticks of the data stamps.
    assert min(log_times) >= START_NS and max(log_times) <= START_NS + 1_100_000_000


def test_record_command_records_alongside_a_running_graph(ros, tmp_path):
    _, publishers = _publish_mission(ros)
    bag = tmp_path / "cli"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rover_autonomy.cli",
            "record",
            str(bag),
            "--clock",
            "sim",
            "--topics",
            "joint_states",
            "imu/data",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert ros.spin_until(lambda: publishers["joint_states"].get_subscription_count() > 0, 30)
        for topic, _, _, msg in mission_messages(duration=1.0):
            publishers[topic].publish(msg)
            ros.spin_for(0.002)
        ros.spin_for(0.5)
    finally:
        process.send_signal(2)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "wrote 100 messages" in output
    recorded = open_bag(bag)
    assert {t: s.count for t, s in recorded.topics.items()} == {"joint_states": 50, "imu/data": 50}


def test_record_command_refuses_bad_arguments(tmp_path, capsys):
    (tmp_path / "exists").mkdir()
    for argv, message in (
        ([str(tmp_path / "exists")], "already exists"),
        ([str(tmp_path / "x"), "--topics", "camera/image"], "not contract topics: camera/image"),
        ([str(tmp_path / "no" / "dir" / "x")], "is not a directory"),
    ):
        assert cli.main(["record", *argv]) == 2
        assert message in _one_line(capsys)


def test_every_contract_type_is_recordable():
    for topic, (msgtype, profile) in recordable_topics().items():
        assert message_class(msgtype).__name__ == msgtype.split("/")[-1], topic
        assert qos.profile(profile)
