"""The real-ROS profiles: bridge and views on the contract, launch setup from the graph, Docker image."""

import ast
import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml
from helpers.paths import REPO

from rover_autonomy import contract
from rover_autonomy.bringup import graph, ros_profiles
from rover_autonomy.description.gazebo_config import BRIDGE
from rover_autonomy.description.urdf import GZ_TOPICS, build_urdf
from rover_autonomy.resources import config_path, worlds_dir
from rover_autonomy.rover_model import load_rover_model

ROOT = REPO
MODEL = load_rover_model()


def _contract_type(ros_type: str) -> str:
    package, _, name = ros_type.split("/")
    return f"{package}/{name}"


# -- Gazebo bridge ---------------------------------------------------------------------------------


def test_every_bridged_topic_is_a_contract_topic_of_the_same_type():
    for entry in BRIDGE:
        assert entry.ros_topic in contract.TOPICS, entry.ros_topic
        assert _contract_type(entry.ros_type) == contract.TOPICS[entry.ros_topic].type, entry.ros_topic
    bridged = {e.ros_topic for e in BRIDGE}
    needed = {
        "/clock",
        "stereo/left/image_rect",
        "stereo/right/image_rect",
        "stereo/left/camera_info",
        "stereo/right/camera_info",
        "imu/data",
        "joint_states",
    }
    assert needed <= bridged


def test_shipped_bridge_file_lists_the_bridge_entries():
    entries = yaml.safe_load(config_path("gz_bridge.yaml").read_text())
    assert [e["ros_topic_name"] for e in entries] == [b.ros_topic for b in BRIDGE]
    assert all(e["direction"] == "GZ_TO_ROS" for e in entries)


def test_every_gazebo_sensor_topic_of_the_urdf_is_bridged():
    robot = ET.fromstring(build_urdf(MODEL, controllers_file="/c.yaml").split("\n", 2)[2])
    published = {t.text for t in robot.iter("topic")} | {t.text for t in robot.iter("odom_topic")}
    gz_bridged = {e.gz_topic for e in BRIDGE}
    assert published <= gz_bridged, published - gz_bridged
    # Gazebo publishes a camera's CameraInfo beside its image topic.
    for side in ("left", "right"):
        image, info = GZ_TOPICS[f"{side}_image"], GZ_TOPICS[f"{side}_info"]
        assert info == image.rsplit("/", 1)[0] + "/camera_info"


# -- graph description of the real-ROS profiles ------------------------------------------------------


def test_gazebo_profile_has_the_foreign_nodes_with_install_hints():
    nodes = {n.name: n for n in graph.nodes_for("gazebo")}
    for name, package in (
        ("robot_state_publisher", "robot_state_publisher"),
        ("gz_bridge", "ros_gz_bridge"),
        ("spawn_rover", "ros_gz_sim"),
        ("controller_spawner", "controller_manager"),
        ("map_to_odom", "tf2_ros"),
    ):
        assert nodes[name].package == package and nodes[name].install_hint.startswith("apt install")
    controllers = yaml.safe_load(config_path("ros2_controllers.yaml").read_text())
    spawned = [a for a in nodes["controller_spawner"].arguments if not a.startswith("-") and not a.isdigit()]
    assert spawned[:2] == ["drive_controller", "steer_controller"]
    assert set(spawned[:2]) <= set(controllers)
    assert nodes["gz_bridge"].config_parameters == {"config_file": "gz_bridge.yaml"}


def test_launch_plan_resolves_config_files_and_arguments():
    plan = graph.launch_plan("gazebo", "/share/config", arguments={"map_to_odom": ["--x", "1.5"]})
    steps = {s["name"]: s for s in plan}
    assert steps["gz_bridge"]["parameters"][-1]["config_file"] == "/share/config/gz_bridge.yaml"
    assert steps["map_to_odom"]["arguments"] == [
        "--frame-id",
        "map",
        "--child-frame-id",
        "odom",
        "--x",
        "1.5",
    ]
    with pytest.raises(ValueError, match="arguments for nodes not in profile 'sim': map_to_odom"):
        graph.launch_plan("sim", "/c", arguments={"map_to_odom": []})


@pytest.mark.parametrize(
    ("launch_file", "profile"),
    [
        ("gazebo", "gazebo"),
        ("hardware", "hardware"),
        ("rover", "hardware"),
        ("sim", "sim"),
        ("replay", "replay"),
    ],
)
def test_launch_files_build_their_nodes_from_the_graph(launch_file, profile):
    tree = ast.parse((ROOT / "launch" / f"{launch_file}.launch.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "generate"]
    assert len(calls) == 1 and calls[0].args[0].value == profile
    # No node is described in a launch file: the only source is the graph.
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"]


def test_launch_description_builds_nodes_only_from_launch_plans():
    source = (ROOT / "rover_autonomy" / "bringup" / "launch_description.py").read_text()
    node_calls = re.findall(r"Node\(\*\*", source)
    assert len(node_calls) == 1 and "_nodes(prepared.plan(" in source and "graph.launch_plan(" in source


# -- gazebo launch setup ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gazebo():
    return ros_profiles.gazebo_setup("mars", "/share/config", 2.0, gui=False)


def test_gazebo_setup_serves_the_urdf_and_spawns_at_the_world_start(gazebo):
    meta = yaml.safe_load((worlds_dir() / "mars" / "gazebo" / "gazebo.yaml").read_text())
    start = meta["start"]
    steps = {s["name"]: s for s in gazebo.plan("gazebo", "/share/config")}
    description = steps["robot_state_publisher"]["parameters"][-1]["robot_description"]
    assert description == build_urdf(
        MODEL, camera_rate=2.0, controllers_file="/share/config/ros2_controllers.yaml"
    )
    spawn = steps["spawn_rover"]["arguments"]
    values = dict(zip(spawn[::2], spawn[1::2], strict=True))
    assert values["-topic"] == "robot_description"
    assert float(values["-x"]) == start["x"] and float(values["-y"]) == start["y"]
    assert float(values["-z"]) == pytest.approx(start["z"] + ros_profiles.SPAWN_DROP)
    assert float(values["-Y"]) == start["yaw"]
    tf = steps["map_to_odom"]["arguments"]
    assert tf[tf.index("--x") + 1 :: 2][:3] == [
        repr(float(start["x"])),
        repr(float(start["y"])),
        repr(float(start["yaw"])),
    ]
    assert gazebo.gz_args.startswith("-r -s --headless-rendering") and gazebo.gz_args.endswith(
        "gazebo/world.sdf"
    )
    assert "--physics-engine gz-physics-dartsim-plugin" in gazebo.gz_args
    featherstone = ros_profiles.gazebo_setup("moon", "/c", 2.0, physics="bullet-featherstone")
    assert "--physics-engine gz-physics-bullet-featherstone-plugin" in featherstone.gz_args
    with pytest.raises(ros_profiles.ProfileError, match="physics: 'ode' is not one of"):
        ros_profiles.gazebo_setup("moon", "/c", 2.0, physics="ode")
    assert all(s["parameters"][-1]["use_sim_time"] for s in steps.values())


def test_gazebo_setup_gives_the_stereo_node_the_baseline_and_the_nodes_the_start(gazebo):
    steps = {s["name"]: s for s in gazebo.plan("gazebo", "/share/config")}
    if "stereo_processor" in steps:
        assert steps["stereo_processor"]["parameters"][-1]["baseline"] == MODEL.stereo.baseline
    meta = yaml.safe_load((worlds_dir() / "mars" / "gazebo" / "gazebo.yaml").read_text())["start"]
    for node in graph.nodes_for("gazebo"):
        if node.ours and "map_to_odom" in ros_profiles.node_parameter_names(node.executable):
            assert steps[node.name]["parameters"][-1]["map_to_odom"] == [meta["x"], meta["y"], meta["yaw"]]


def test_a_world_without_gazebo_export_is_refused_in_one_line(tmp_path):
    with pytest.raises(ros_profiles.ProfileError) as caught:
        ros_profiles.resolve_gazebo_world(str(tmp_path))
    message = str(caught.value)
    assert "\n" not in message and "has no Gazebo export" in message and "sdf_world" in message
    assert ros_profiles.resolve_gazebo_world("moon") == worlds_dir() / "moon" / "gazebo"


def test_missing_packages_are_named_with_what_to_install(monkeypatch):
    monkeypatch.setenv("ROS_DISTRO", "kilted")
    plan = graph.launch_plan("gazebo", "/c")
    assert ros_profiles.missing_packages(plan, lambda package: True) == []
    lines = ros_profiles.missing_packages(
        plan, lambda package: package not in ("ros_gz_sim", "ros_gz_bridge")
    )
    assert lines == [
        "ROS package ros_gz_bridge is not installed: apt install ros-kilted-ros-gz",
        "ROS package ros_gz_sim is not installed: apt install ros-kilted-ros-gz",
    ]


def test_a_missing_gazebo_install_is_one_line(monkeypatch):
    monkeypatch.setenv("ROS_DISTRO", "jazzy")
    assert ros_profiles.gazebo_missing(lambda package: True) is None
    line = ros_profiles.gazebo_missing(lambda package: package == "ros_gz_sim")
    assert line == (
        "Gazebo packages missing (ros_gz_bridge, gz_ros2_control, forward_command_controller): "
        "apt install ros-jazzy-ros-gz ros-jazzy-gz-ros2-control ros-jazzy-ros2-controllers"
    )


# -- hardware launch setup -------------------------------------------------------------------------


def _hardware(**changes):
    values = yaml.safe_load(config_path("hardware.yaml").read_text())
    values.update(changes)
    return ros_profiles.hardware_setup(values)


def test_hardware_defaults_are_the_contract_topics():
    setup = _hardware()
    assert setup.our_remappings == [] and {"rectify_left", "rectify_right"} <= setup.skip
    steps = {s["name"]: s for s in setup.plan("hardware", "/c")}
    assert "rectify_left" not in steps
    assert all(not s["parameters"][-1]["use_sim_time"] for s in steps.values())
    description = steps["robot_state_publisher"]["parameters"][-1]["robot_description"]
    assert "<gazebo" not in description and "<robot name=" in description


def test_hardware_remaps_our_nodes_onto_the_drivers():
    setup = _hardware(
        imu="/vn100/imu",
        left_info="/nav/left/camera_info",
        joint_states="/motors/joint_states",
        start_x=3.0,
        start_yaw=1.0,
    )
    steps = {s["name"]: s for s in setup.plan("hardware", "/c")}
    assert steps["robot_state_publisher"]["remappings"] == [("joint_states", "/motors/joint_states")]
    for step in steps.values():
        if step["package"] == graph.PACKAGE:
            assert ("imu/data", "/vn100/imu") in step["remappings"]
            assert ("stereo/left/camera_info", "/nav/left/camera_info") in step["remappings"]
        else:
            assert ("imu/data", "/vn100/imu") not in step["remappings"]
    tf = steps["map_to_odom"]["arguments"]
    assert tf[-6:] == ["--x", "3.0", "--y", "0.0", "--yaw", "1.0"]


def test_hardware_rectification_modes():
    setup = _hardware(
        rectify="image_proc", left_image="/nav/left/image_raw", right_image="/nav/right/image_raw"
    )
    steps = {s["name"]: s for s in setup.plan("hardware", "/c")}
    assert ("image", "/nav/left/image_raw") in steps["rectify_left"]["remappings"]
    assert ("image_rect", "stereo/left/image_rect") in steps["rectify_left"]["remappings"]
    ours = [s for s in steps.values() if s["package"] == graph.PACKAGE]
    assert all(("stereo/left/image_rect", "/nav/left/image_raw") not in s["remappings"] for s in ours)
    with pytest.raises(
        ros_profiles.ProfileError, match="image_proc needs left_image to name the driver's raw"
    ):
        _hardware(rectify="image_proc")
    if any(n.name == "stereo_processor" for n in graph.nodes_for("hardware")):
        own = _hardware(rectify="stereo_node", left_image="/nav/left/image_raw")
        steps = {s["name"]: s for s in own.plan("hardware", "/c")}
        assert steps["stereo_processor"]["parameters"][-1]["rectify"] is True
        assert ("stereo/left/image_rect", "/nav/left/image_raw") in steps["stereo_processor"]["remappings"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rectify": "opencv"}, "rectify: 'opencv' is not one of none, image_proc, stereo_node"),
        ({"start_x": "east"}, "start_x/start_y/start_yaw must be numbers"),
        ({"start_yaw": "nan"}, "must be finite"),
        ({"imu": ""}, "imu: '' is not a topic name"),
        ({"lidar": "/scan"}, "unknown keys lidar"),
    ],
)
def test_hardware_bad_settings_are_one_line(changes, message):
    with pytest.raises(ros_profiles.ProfileError, match=re.escape(message)):
        _hardware(**changes)


def test_hardware_config_documents_every_setting():
    text = config_path("hardware.yaml").read_text()
    values = yaml.safe_load(text)
    assert set(values) == {*ros_profiles.DRIVER_TOPICS, "rectify", "start_x", "start_y", "start_yaw"}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"hardware.yaml: no comment above {line}"


# -- RViz and Foxglove views -----------------------------------------------------------------------


def _rviz_topics(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("Topic") and isinstance(value, dict) and "Value" in value:
                found.append(value)
            else:
                _rviz_topics(value, found)
    elif isinstance(node, list):
        for item in node:
            _rviz_topics(item, found)
    return found


def test_rviz_config_names_only_contract_topics_with_their_qos():
    config = yaml.safe_load(config_path("rover.rviz").read_text())
    topics = _rviz_topics(config, [])
    names = {t["Value"].lstrip("/") for t in topics}
    assert names <= set(contract.TOPICS), names - set(contract.TOPICS)
    for topic in topics:
        name = topic["Value"].lstrip("/")
        if name in contract.TOPICS:
            qos = contract.QOS_PROFILES[contract.TOPICS[name].qos]
            assert topic["Reliability Policy"].lower().replace(" ", "_") == qos.reliability, name
            assert topic["Durability Policy"].lower().replace(" ", "_") == qos.durability, name
    classes = {d["Class"].split("/")[1] for d in config["Visualization Manager"]["Displays"]}
    assert {"Image", "PointCloud2", "Map", "Path", "Odometry", "RobotModel"} <= classes
    shown = {
        "stereo/left/image_rect",
        "stereo/points",
        "terrain/elevation",
        "terrain/costmap",
        "plan",
        "odom",
    }
    assert shown <= names


def _foxglove_topics(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "topics" and isinstance(value, dict):
                found.update(value)
            elif key in ("imageTopic", "topicPath", "topicToRender", "poseTopic"):
                found.add(value)
            elif key == "paths":
                found.update(p["value"] for p in value)
            else:
                _foxglove_topics(value, found)
    elif isinstance(node, list):
        for item in node:
            _foxglove_topics(item, found)
    return found


def test_foxglove_layout_names_only_contract_topics():
    layout = json.loads(config_path("foxglove_layout.json").read_text())
    paths = _foxglove_topics(layout, set())
    # Message paths are topic + field path (/odom.twist.twist.linear.x); topics may contain dots never.
    topics = {p.split(".")[0].lstrip("/") for p in paths}
    assert topics <= set(contract.TOPICS), topics - set(contract.TOPICS)
    assert {"stereo/left/image_rect", "terrain/costmap", "plan", "odom", "goal_pose"} <= topics
    panels = set(layout["configById"])
    assert set(re.findall(r'"([A-Za-z0-9]+![A-Za-z0-9]+)"', json.dumps(layout["layout"]))) == panels


# -- container image -------------------------------------------------------------------------------


def test_dockerfile_builds_on_ros_jazzy_with_rosdep_pip_and_colcon():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG ROS_DISTRO=jazzy$", text, re.M) and "FROM ros:${ROS_DISTRO}" in text
    assert "rosdep install --from-paths ." in text
    assert "venv --system-site-packages" in text and 'pip" install -r requirements.txt' in text
    assert "colcon build --packages-select rover_autonomy" in text
    for copied in re.findall(r"^COPY (\S+) ", text, re.M):
        assert copied == "." or (ROOT / copied).is_file(), copied
