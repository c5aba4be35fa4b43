"""Bag cores: MCAP writing read back by the independent mcap reader, CDR compatibility with rclpy,
stamp order, sqlite3 bags, remapping, playlists, report figures and every kind of bad bag."""

import math
import shutil

import numpy as np
import pytest
import yaml
from helpers.replay_bags import START_NS, mission_messages, write_bag
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Float32

from rover_autonomy.contract import TOPICS
from rover_autonomy.replay import compare
from rover_autonomy.replay.bag import (
    TYPESTORE,
    BagError,
    BagWriter,
    cdr_stamp_ns,
    decode,
    open_bag,
    parse_remaps,
    ros_type,
)
from rover_autonomy.replay.playlist import NODE_IO, Answer, plan_playlist
from rover_autonomy.replay.replay_cli import startup_parameters
from rover_autonomy.ros_common.conversions import ns_to_stamp


@pytest.fixture(scope="module")
def mission(tmp_path_factory):
    return write_bag(tmp_path_factory.mktemp("bags") / "mission", mission_messages(duration=1.0))


# -- writing: what ros2 bag and the independent mcap reader expect -----------------------------------


def test_written_bag_reads_with_the_independent_mcap_reader(mission):
    info = yaml.safe_load((mission / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["mission.mcap"]
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    imu = topics["/imu/data"]
    assert imu["message_count"] == 50
    assert imu["topic_metadata"]["type"] == "sensor_msgs/msg/Imu"
    assert imu["topic_metadata"]["serialization_format"] == "cdr"
    assert imu["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "reliable"
    assert topics["/goal_pose"]["topic_metadata"]["offered_qos_profiles"][0]["depth"] == 10
    assert info["message_count"] == sum(t["message_count"] for t in topics.values())

    with (mission / "mission.mcap").open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        seen = {}
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
            seen.setdefault(channel.topic, []).append((message.log_time, decoded))
    imu_msgs = seen["/imu/data"]
    assert len(imu_msgs) == 50
    log_time, first = imu_msgs[0]
    assert (first.header.stamp.sec, first.header.stamp.nanosec) == divmod(START_NS + 5_000_000, 10**9)
    assert log_time == START_NS + 6_000_000
    assert math.isclose(first.linear_acceleration.z, 3.711)
    image = seen["/stereo/left/image_rect"][0][1]
    assert (image.width, image.height, image.encoding) == (320, 240, "mono8") and len(image.data) == 320 * 240


@pytest.mark.parametrize("frame", ["", "odom", "imu_link"])
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_rclpy_cdr_and_rosbags_cdr_agree_on_every_contract_type(topic, frame):
    """Bytes from rclpy's serializer decode in rosbags and back, for every message type of the contract.

    Fast CDR pads empty float64 sequences to 8-byte alignment, which rosbags does not expect; a
    trailing one is tolerated by ``decode``. A JointState whose position, velocity and effort are all
    empty still fails to decode (docs/replay.md, limits): joint states as the contract defines them
    carry positions and velocities, and replay never decodes what it plays.
    """
    from rover_autonomy.replay.recorder_node import message_class

    msgtype = ros_type(TOPICS[topic].type)
    msg = message_class(msgtype)()
    if hasattr(msg, "header"):
        msg.header.stamp = ns_to_stamp(1_234_567_891_011)
        msg.header.frame_id = frame
    if topic == "joint_states":
        msg.name, msg.position, msg.velocity = ["a", "b"], [1.0, 2.0], [0.5, -0.5]
    if topic.endswith("commands") or topic == "sim/slip":
        msg.data = [1.0, -2.0]
    for sample in (msg, message_class(msgtype)()) if topic != "joint_states" else (msg,):
        raw = serialize_message(sample)
        decoded = decode(TYPESTORE, raw, msgtype)
        again = bytes(TYPESTORE.serialize_cdr(decoded, msgtype))
        assert 0 <= len(raw) - len(again) < 8  # alignment padding only
        assert deserialize_message(again, type(sample)) == sample
    if hasattr(msg, "header"):
        assert cdr_stamp_ns(serialize_message(msg)) == 1_234_567_891_011


def test_writer_refuses_to_overwrite_what_is_not_a_bag(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("precious")
    with pytest.raises(BagError, match="already exists"):
        BagWriter(tmp_path / "notes")
    with pytest.raises(BagError, match="not a bag"):
        BagWriter(tmp_path / "notes", overwrite=True)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "precious"


# -- reading: stamps and order ---------------------------------------------------------------------


def test_messages_come_in_stamp_then_topic_order_despite_receive_latency(mission):
    bag = open_bag(mission)
    assert bag.storage == "mcap" and bag.message_count == 50 * 4 + 5 * 4 + 1
    messages = list(bag.messages())
    keys = [(m.stamp_ns, m.topic) for m in messages]
    assert keys == sorted(keys)
    # Images are logged 30 ms after exposure: by log time they would come after later joint states.
    first_image = next(i for i, m in enumerate(messages) if m.topic == "stereo/left/image_rect")
    assert messages[first_image].stamp_ns == START_NS
    assert [m.topic for m in messages[:7]] == [
        "/clock",
        "ground_truth/odom",
        "joint_states",
        "stereo/left/camera_info",
        "stereo/left/image_rect",
        "stereo/right/camera_info",
        "stereo/right/image_rect",
    ]
    assert bag.topics["imu/data"].first_stamp_ns == START_NS + 5_000_000


def test_headerless_messages_are_ordered_by_receive_time(tmp_path):
    with BagWriter(tmp_path / "plain") as writer:
        writer.add_topic("odom/slip", "std_msgs/Float32")
        for log_ns, value in ((300, 0.3), (100, 0.1), (200, 0.2)):
            writer.write("odom/slip", log_ns, serialize_message(Float32(data=value)))
    bag = open_bag(tmp_path / "plain")
    assert bag.topics["odom/slip"].stamped is False
    values = [deserialize_message(m.raw, Float32).data for m in bag.messages()]
    assert values == pytest.approx([0.1, 0.2, 0.3])


def test_sqlite3_bags_read_like_mcap_bags(tmp_path):
    messages = mission_messages(duration=0.5, clock=False)
    mcap_bag = open_bag(write_bag(tmp_path / "a", messages))
    sqlite_bag = open_bag(write_bag(tmp_path / "b", messages, storage="sqlite3"))
    assert sqlite_bag.storage == "sqlite3"
    # Compared decoded: rclpy leaves padding bytes uninitialised, so two serialisations may differ there.
    assert [(m.stamp_ns, m.topic, compare.canonical(m, sqlite_bag)) for m in sqlite_bag.messages()] == [
        (m.stamp_ns, m.topic, compare.canonical(m, mcap_bag)) for m in mcap_bag.messages()
    ]


def test_a_bare_mcap_file_reads_too(mission):
    assert open_bag(mission / "mission.mcap").message_count == open_bag(mission).message_count


def test_remapping_renames_field_topics(tmp_path):
    messages = [
        (topic.replace("stereo/", "cam/"), s, log, msg)
        for topic, s, log, msg in mission_messages(duration=0.3)
        if topic.startswith("stereo/")
    ]
    path = tmp_path / "field"
    with BagWriter(path) as writer:
        for topic, _, log, msg in sorted(messages, key=lambda m: (m[2], m[0])):
            writer.add_topic(topic, TOPICS[topic.replace("cam/", "stereo/")].type)
            writer.write(topic, log, serialize_message(msg))
    with pytest.raises(
        BagError, match=r"lacks topic\(s\) required by stereo_processor: stereo/left/camera_info"
    ):
        plan_playlist(open_bag(path), ["stereo_processor"])
    remaps = parse_remaps(
        [f"/cam/{s}/{k}:=stereo/{s}/{k}" for s in ("left", "right") for k in ("image_rect", "camera_info")]
    )
    bag = open_bag(path, remaps)
    playlist = plan_playlist(bag, ["stereo_processor"])
    assert set(playlist.played) == set(NODE_IO["stereo_processor"].inputs)
    assert bag.topics["stereo/left/image_rect"].bag_name == "cam/left/image_rect"
    with pytest.raises(ValueError, match="expected FROM:=TO"):
        parse_remaps(["left/image_rect=stereo/left/image_rect"])


# -- playlists -------------------------------------------------------------------------------------


def test_playlist_plays_what_the_selected_nodes_do_not_produce(mission, tmp_path):
    bag = open_bag(mission)
    whole = plan_playlist(bag, ["stereo_processor", "wheel_odometry", "terrain_mapper", "path_planner"])
    assert set(whole.played) == {*NODE_IO["stereo_processor"].inputs, "joint_states", "imu/data", "goal_pose"}
    assert whole.answers == {
        "stereo/right/image_rect": (Answer("stereo/points", ()), Answer("stereo/disparity", ())),
        "joint_states": (Answer("odom", ("joint_states", "imu/data")),),
    }
    assert "ground_truth/odom" in whole.reference
    # The mapper alone needs the recorded clouds and odometry, which this bag lacks: both are named.
    with pytest.raises(BagError, match=r"required by terrain_mapper: odom, stereo/points"):
        plan_playlist(bag, ["terrain_mapper"])
    no_goal = open_bag(write_bag(tmp_path / "nogoal", mission_messages(duration=0.3, goal=False)))
    planner = plan_playlist(no_goal, ["stereo_processor", "wheel_odometry", "terrain_mapper", "path_planner"])
    assert any("no goal_pose in the bag: path_planner will run without it" in w for w in planner.warnings)


def test_visual_odometry_answers_a_frame_once_its_disparity_is_in_and_feeds_wheel_odometry(mission, tmp_path):
    bag = open_bag(mission)
    chain = plan_playlist(bag, ["stereo_processor", "visual_odometry", "wheel_odometry"])
    # The disparity is relayed to visual_odometry, its increments to wheel_odometry; the left image is
    # answered once the disparity of its stamp has been relayed too.
    assert chain.forwarded == {
        "stereo/disparity": "stereo_processor",
        "visual_odometry/odom": "visual_odometry",
    }
    assert chain.answers["stereo/left/image_rect"] == (
        Answer("visual_odometry/odom", ("stereo/left/image_rect", "stereo/disparity")),
    )
    # Both image consumers must have subscribed before the first image goes out.
    assert chain.consumers["stereo/left/image_rect"] == 2 and chain.consumers["stereo/right/image_rect"] == 1
    # Without stereo_processor, the recorded disparity plays before the image of its stamp.
    recorded = plan_playlist(
        open_bag(write_bag(tmp_path / "disparity", mission_messages(duration=0.3) + _disparities())),
        ["visual_odometry"],
    )
    assert "stereo/disparity" in recorded.played and not recorded.forwarded
    assert recorded.answers["stereo/left/image_rect"] == chain.answers["stereo/left/image_rect"]


def test_wheel_odometry_replays_with_recorded_visual_odometry_or_without(tmp_path):
    no_stereo = open_bag(write_bag(tmp_path / "wheels", mission_messages(duration=0.3), skip=STEREO_TOPICS))
    alone = plan_playlist(no_stereo, ["wheel_odometry"])
    assert set(alone.played) == {"joint_states", "imu/data"}
    assert "no visual_odometry/odom in the bag: wheel_odometry will run without it" in alone.warnings
    recorded = open_bag(write_bag(tmp_path / "vo", mission_messages(duration=0.3) + _visual_odometry()))
    assert set(plan_playlist(recorded, ["wheel_odometry"]).played) == {
        "joint_states",
        "imu/data",
        "visual_odometry/odom",
    }
    # Switched off, nobody would subscribe: neither played nor relayed (a relay would never match).
    off = {"wheel_odometry": {"use_visual_odometry": False}}
    assert "visual_odometry/odom" not in plan_playlist(recorded, ["wheel_odometry"], parameters=off).played
    chain = plan_playlist(recorded, ["stereo_processor", "visual_odometry", "wheel_odometry"], parameters=off)
    assert "visual_odometry/odom" not in chain.forwarded and "visual_odometry/odom" in chain.outputs
    # The replay reads the switch from the node's parameter file, under the overrides.
    assert startup_parameters(["wheel_odometry"], {})["wheel_odometry"]["use_visual_odometry"] is True
    assert startup_parameters(["wheel_odometry"], off)["wheel_odometry"]["use_visual_odometry"] is False


STEREO_TOPICS = tuple(f"stereo/{s}/{k}" for s in ("left", "right") for k in ("image_rect", "camera_info"))


def _disparities():
    """A DisparityImage per camera frame of mission_messages(duration=0.3)."""
    from stereo_msgs.msg import DisparityImage

    from rover_autonomy.ros_common.conversions import array_to_image

    out = []
    for stamp in (START_NS, START_NS + 200_000_000):
        msg = DisparityImage(f=200.0, t=0.3, min_disparity=0.0, max_disparity=64.0)
        msg.image = array_to_image(
            np.full((240, 320), 6.0, np.float32), "32FC1", stamp, "stereo_left_optical_frame"
        )
        msg.header = msg.image.header
        out.append(("stereo/disparity", stamp, stamp + 60_000_000, msg))
    return out


def _visual_odometry():
    """visual_odometry/odom as recorded: one per camera frame, the first unmeasured."""
    from nav_msgs.msg import Odometry

    out = []
    for i, stamp in enumerate((START_NS, START_NS + 200_000_000)):
        msg = Odometry(child_frame_id="base_link")
        msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp), "visual_odom"
        msg.pose.pose.position.x, msg.pose.pose.orientation.w = 0.06 * i, 1.0
        msg.pose.covariance[0] = -1.0 if i == 0 else 1e-6
        out.append(("visual_odometry/odom", stamp, stamp + 300_000_000, msg))
    return out


# -- bad bags --------------------------------------------------------------------------------------


def test_missing_bag_is_named(tmp_path):
    with pytest.raises(BagError, match=r"cannot read bag .*nothing: no such file or directory"):
        open_bag(tmp_path / "nothing")


def test_truncated_bag_is_refused_in_one_line(mission, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(mission, broken)
    data = (broken / "mission.mcap").read_bytes()
    (broken / "mission.mcap").write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match="unreadable, truncated or corrupt") as err:
        open_bag(broken)
    assert "\n" not in str(err.value)


def test_garbage_is_refused(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text("this: [is not a bag")
    with pytest.raises(BagError, match="cannot read bag"):
        open_bag(tmp_path / "junk")
    (tmp_path / "file.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\0" * 64)
    with pytest.raises(BagError, match="cannot read bag"):
        open_bag(tmp_path / "file.mcap")


def test_empty_bag_is_refused(tmp_path):
    with BagWriter(tmp_path / "empty") as writer:
        writer.add_topic("imu/data", "sensor_msgs/Imu")
    with pytest.raises(BagError, match="holds no messages"):
        open_bag(tmp_path / "empty")


def test_wrong_and_unknown_types_are_named(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_types_from_msg

    store = type(TYPESTORE)()
    store.register(TYPESTORE.fielddefs and {k: v for k, v in TYPESTORE.fielddefs.items()})
    store.register(get_types_from_msg("float64 level\nstring note", "field_msgs/msg/Battery"))
    with Writer(tmp_path / "odd", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        battery = writer.add_connection("/battery", "field_msgs/msg/Battery", typestore=store)
        joints = writer.add_connection("/joint_states", "std_msgs/msg/Float32", typestore=store)
        imu = writer.add_connection("/imu/data", "sensor_msgs/msg/Imu", typestore=store)
        for i in range(3):
            writer.write(
                battery,
                10 + i,
                bytes(
                    store.serialize_cdr(
                        store.types["field_msgs/msg/Battery"](0.5, "ok"), "field_msgs/msg/Battery"
                    )
                ),
            )
            writer.write(joints, 10 + i, serialize_message(Float32(data=1.0)))
            writer.write(imu, 10 + i, serialize_message(_imu(10 + i)))
    bag = open_bag(tmp_path / "odd")
    assert bag.topics["battery"].msgtype == "field_msgs/msg/Battery" and bag.topics["battery"].known
    with pytest.raises(
        BagError,
        match=r"topic joint_states has type std_msgs/msg/Float32, wheel_odometry expect sensor_msgs/msg/JointState",
    ):
        plan_playlist(bag, ["wheel_odometry"])


def test_topics_without_definitions_are_ignored_not_fatal(tmp_path):
    """An old field bag: a custom type stored without its definition (and a bogus hash)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    with Writer(tmp_path / "field", version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        battery = writer.add_connection(
            "/battery", "field_msgs/msg/Battery", msgdef="", rihs01="RIHS01_" + "0" * 64
        )
        imu = writer.add_connection("/imu/data", "sensor_msgs/msg/Imu", typestore=TYPESTORE)
        joints = writer.add_connection(
            "/joint_states", "field_msgs/msg/Battery", msgdef="", rihs01="RIHS01_" + "0" * 64
        )
        for i in range(3):
            writer.write(battery, 10 + i, b"\0\1\0\0" + bytes(8))
            writer.write(joints, 10 + i, b"\0\1\0\0" + bytes(8))
            writer.write(imu, 10 + i, serialize_message(_imu(10 + i)))
    bag = open_bag(tmp_path / "field")
    assert not bag.topics["battery"].known and bag.topics["imu/data"].known
    assert bag.topics["battery"].first_stamp_ns == 10  # no header known: stamped by log time
    assert [m.topic for m in bag.messages({"imu/data"})] == ["imu/data"] * 3
    assert list(bag.messages({"nothing/here"})) == []
    with pytest.raises(
        BagError, match=r"joint_states has type field_msgs/msg/Battery, wheel_odometry expect"
    ):
        plan_playlist(bag, ["wheel_odometry"])


def _imu(stamp_ns):
    from sensor_msgs.msg import Imu

    msg = Imu()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    return msg


def test_stamps_going_backwards_are_named(tmp_path):
    messages = [m for m in mission_messages(duration=0.3) if m[0] in ("joint_states", "imu/data")]
    topic, stamp, _, msg = messages[10]
    assert topic == "joint_states"
    msg.header.stamp = ns_to_stamp(stamp - 50_000_000)  # a stamp 50 ms in the past
    bag = open_bag(write_bag(tmp_path / "backwards", messages))
    assert bag.topics["joint_states"].backwards == 1
    with pytest.raises(
        BagError,
        match=r"stamps of joint_states go backwards 1 time\(s\), first 1000\.080000 s -> 1000\.050000 s",
    ):
        plan_playlist(bag, ["wheel_odometry"])


# -- report figures ---------------------------------------------------------------------------------


def test_odometry_errors_against_truth_are_measured_in_the_start_frame():
    t = np.linspace(0.0, 10.0, 101)
    # Truth drives 1 m/s along +y from (5, 5) heading +90°; odometry starts at its own origin heading 0
    # and overestimates the distance by 2 %.
    truth = np.column_stack(
        (t, np.full_like(t, 5.0), 5.0 + t, np.zeros_like(t), np.full_like(t, math.pi / 2))
    )
    odom = np.column_stack((t, 1.02 * t, np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)))
    result = compare.odometry_vs_truth(odom, truth)
    assert result["samples"] == 101
    assert result["distance_m"] == pytest.approx(10.0)
    assert result["final_error_m"] == pytest.approx(0.2)
    assert result["drift_pct"] == pytest.approx(2.0)
    assert result["rms_error_m"] == pytest.approx(0.02 * math.sqrt(np.mean(t**2)))


def test_grid_differences_count_cells():
    a = compare.Grid(1, 0.1, (0.0, 0.0), np.zeros((4, 5), np.int8))
    b = compare.Grid(1, 0.1, (0.0, 0.0), a.cells.copy())
    b.cells[1, 2], b.cells[3, 4] = 40, -1
    diff = compare.grid_difference(a, b)
    assert (diff["cells_differing"], diff["known_in_one_only"], diff["max_cost_difference"]) == (2, 1, 40)
    assert diff["fraction_differing"] == pytest.approx(0.1)
    moved = compare.Grid(1, 0.1, (0.1, 0.0), a.cells)
    assert compare.grid_difference(a, moved)["geometry_differs"]
