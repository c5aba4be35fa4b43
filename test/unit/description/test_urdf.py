"""The URDF generated from the rover model: structure, joints, kinematics, inertia, Gazebo tags, CLI."""

import copy
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

from rover_autonomy.description.gazebo_config import bridge_yaml, controllers_yaml
from rover_autonomy.description.urdf import (
    GZ_TOPICS,
    SUSPENSION_MAX_RATE,
    UrdfError,
    build_urdf,
    rods_inertial,
)
from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.resources import config_path
from rover_autonomy.rover_model import load_rover_model, parse_rover_model

MODEL = load_rover_model()
CONTROLLERS = "/opt/share/rover_autonomy/config/ros2_controllers.yaml"


@pytest.fixture(scope="module")
def urdf():
    return ET.fromstring(build_urdf(MODEL, controllers_file=CONTROLLERS).split("\n", 2)[2])


def _vec(text, default="0 0 0"):
    return np.array([float(v) for v in (text or default).split()])


def _origin(element):
    origin = element.find("origin")
    if origin is None:
        return np.eye(4)
    transform = np.eye(4)
    transform[:3, :3] = rpy_to_matrix(*_vec(origin.get("rpy")))
    transform[:3, 3] = _vec(origin.get("xyz"))
    return transform


def _axis_rotation(axis, angle):
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    transform = np.eye(4)
    transform[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
    return transform


def forward_kinematics(robot, angles=None):
    """4x4 pose in base_link of every link, honouring <mimic> (what robot_state_publisher computes)."""
    angles = dict(angles or {})
    joints = {j.get("name"): j for j in robot.findall("joint")}
    for name, joint in joints.items():
        mimic = joint.find("mimic")
        if mimic is not None:
            angles[name] = float(mimic.get("multiplier", 1)) * angles.get(mimic.get("joint"), 0.0) + float(
                mimic.get("offset", 0)
            )
    child_joint = {j.find("child").get("link"): j for j in joints.values()}
    poses = {}

    def pose(link):
        if link not in poses:
            joint = child_joint.get(link)
            if joint is None:
                poses[link] = np.eye(4)
            else:
                transform = pose(joint.find("parent").get("link")) @ _origin(joint)
                if joint.get("type") != "fixed":
                    axis = _vec(joint.find("axis").get("xyz"))
                    transform = transform @ _axis_rotation(axis, angles.get(joint.get("name"), 0.0))
                poses[link] = transform
        return poses[link]

    for link in robot.findall("link"):
        pose(link.get("name"))
    return poses


# -- structure -------------------------------------------------------------------------------------


def test_urdf_is_a_tree_with_unique_names(urdf):
    links = [link.get("name") for link in urdf.findall("link")]
    joints = urdf.findall("joint")
    names = [j.get("name") for j in joints]
    assert len(set(links)) == len(links) and len(set(names)) == len(names)
    assert not set(links) & set(names), "Gazebo needs link and joint names to differ"
    children = [j.find("child").get("link") for j in joints]
    assert len(set(children)) == len(children), "a link with two parents"
    for joint in joints:
        assert joint.find("parent").get("link") in links and joint.find("child").get("link") in links
    roots = set(links) - set(children)
    assert roots == {"base_link"}
    assert len(forward_kinematics(urdf)) == len(links)  # every link reachable from the root


def test_joints_match_the_rover_model(urdf):
    joints = {j.get("name"): j for j in urdf.findall("joint")}
    for name in MODEL.drive_joints:
        joint = joints[name]
        assert joint.get("type") == "continuous"
        assert np.allclose(_vec(joint.find("axis").get("xyz")), [0, 1, 0])
        limit = joint.find("limit")
        assert float(limit.get("velocity")) == MODEL.wheel_max_rate
        assert float(limit.get("effort")) == MODEL.wheel_max_torque
    for name in MODEL.steer_joints:
        joint = joints[name]
        assert joint.get("type") == "revolute"
        assert np.allclose(_vec(joint.find("axis").get("xyz")), [0, 0, 1])
        limit = joint.find("limit")
        assert float(limit.get("lower")) == MODEL.steering.min_angle
        assert float(limit.get("upper")) == MODEL.steering.max_angle
        assert float(limit.get("velocity")) == MODEL.steering.max_rate
        assert float(limit.get("effort")) == MODEL.actuators.steer_max_torque
    for pivot in (*MODEL.rockers, *MODEL.bogies):
        joint = joints[pivot.name]
        assert joint.get("type") == "revolute"
        assert np.allclose(_vec(joint.find("axis").get("xyz")), [0, 1, 0])
        limit = joint.find("limit")
        assert (float(limit.get("lower")), float(limit.get("upper"))) == (pivot.min_angle, pivot.max_angle)
        assert float(joint.find("dynamics").get("damping")) == MODEL.actuators.pivot_damping
    movable = {n for n, j in joints.items() if j.get("type") != "fixed"}
    assert movable == {*MODEL.drive_joints, *MODEL.steer_joints, *MODEL.suspension_joints}
    mimic = joints[MODEL.rockers[1].name].find("mimic")
    assert mimic.get("joint") == MODEL.rockers[0].name and float(mimic.get("multiplier")) == -1.0
    assert all(joints[p.name].find("mimic") is None for p in (MODEL.rockers[0], *MODEL.bogies))


def test_suspension_rates_are_far_above_what_terrain_drives():
    levers = [
        float(np.hypot(*(np.array([w.x, w.y, MODEL.wheel_radius]) - np.array(p.pivot))[[0, 2]]))
        for p in (*MODEL.rockers, *MODEL.bogies)
        for w in MODEL.wheels
        if w.mount == p.name
    ]
    assert 5 * MODEL.limits.max_speed / min(levers) < SUSPENSION_MAX_RATE


@pytest.mark.parametrize(
    "angles",
    [
        {},
        {"rocker_left": 0.2, "bogie_left": -0.3, "bogie_right": 0.25},
        {"rocker_left": -0.4, "bogie_right": -0.5},
    ],
)
def test_wheel_centres_follow_the_model_suspension_geometry(urdf, angles):
    poses = forward_kinematics(urdf, angles)
    centres = np.array([poses[f"{w.name}_wheel_link"][:3, 3] for w in MODEL.wheels])
    # The model mirrors a missing right rocker angle (the differential), as the URDF's <mimic> does.
    assert np.allclose(centres, MODEL.wheel_centres(angles), atol=1e-9)


def test_steering_turns_the_wheel_axle_about_z(urdf):
    name = MODEL.steerable_wheels[0].name
    poses = forward_kinematics(urdf, {f"steer_{name}": 0.5})
    axle = poses[f"{name}_wheel_link"][:3, :3] @ np.array([0.0, 1.0, 0.0])
    assert np.allclose(axle, [-math.sin(0.5), math.cos(0.5), 0.0])


def test_camera_and_imu_frames_match_the_model(urdf):
    poses = forward_kinematics(urdf)
    for side, frame in (("left", MODEL.stereo.left_frame), ("right", MODEL.stereo.right_frame)):
        assert np.allclose(poses[frame], MODEL.stereo.camera_to_base(side), atol=1e-12)
    imu = np.eye(4)
    imu[:3, :3] = rpy_to_matrix(*MODEL.imu.rpy)
    imu[:3, 3] = MODEL.imu.position
    assert np.allclose(poses[MODEL.imu.frame], imu)


def test_masses_sum_to_the_rover_and_inertias_are_physical(urdf):
    total = 0.0
    for link in urdf.findall("link"):
        inertial = link.find("inertial")
        if inertial is None:
            continue
        mass = float(inertial.find("mass").get("value"))
        i = inertial.find("inertia")
        tensor = np.array(
            [
                [float(i.get("ixx")), float(i.get("ixy")), float(i.get("ixz"))],
                [float(i.get("ixy")), float(i.get("iyy")), float(i.get("iyz"))],
                [float(i.get("ixz")), float(i.get("iyz")), float(i.get("izz"))],
            ]
        )
        principal = np.linalg.eigvalsh(tensor)
        assert mass > 0 and principal.min() > 0, link.get("name")
        assert principal[0] + principal[1] >= principal[2] * (1 - 1e-9), (
            f"{link.get('name')}: triangle inequality"
        )
        total += mass
    assert total == pytest.approx(MODEL.total_mass)
    wheel = next(link for link in urdf.findall("link") if link.get("name") == "middle_left_wheel_link")
    iyy = float(wheel.find("inertial/inertia").get("iyy"))
    assert iyy == pytest.approx(MODEL.masses["wheel"] * MODEL.wheel_radius**2 / 2)


def test_beam_inertia_matches_the_parallel_axis_theorem():
    # Two equal beams of 1 m along +x and -x from the origin: one 2 m beam centred on the origin.
    inertial = rods_inertial(np.zeros(3), [np.array([1.0, 0, 0]), np.array([-1.0, 0, 0])], 3.0, 0.1)
    assert np.allclose(inertial.com, 0)
    expected = 3.0 / 12 * np.diag([2 * 0.01, 4 + 0.01, 4 + 0.01])
    assert np.allclose(inertial.inertia, expected)


# -- Gazebo tags -----------------------------------------------------------------------------------


def test_ros2_control_block_drives_wheels_by_velocity_and_steers_by_position(urdf):
    control = urdf.find("ros2_control")
    assert control.find("hardware/plugin").text == "gz_ros2_control/GazeboSimSystem"
    interfaces = {
        j.get("name"): [c.get("name") for c in j.findall("command_interface")]
        for j in control.findall("joint")
    }
    assert [n for n, c in interfaces.items() if c == ["velocity"]] == MODEL.drive_joints
    assert [n for n, c in interfaces.items() if c == ["position"]] == MODEL.steer_joints
    assert [n for n, c in interfaces.items() if not c] == [r.name for r in MODEL.rockers]
    plugin = urdf.find("gazebo/plugin[@filename='gz_ros2_control-system']")
    assert plugin.find("parameters").text == CONTROLLERS


def test_sensors_carry_the_model_figures(urdf):
    for side in ("left", "right"):
        sensor = urdf.find(f"gazebo[@reference='stereo_{side}_link']/sensor")
        assert sensor.get("type") == "camera"
        assert float(sensor.find("camera/horizontal_fov").text) == pytest.approx(MODEL.stereo.hfov)
        assert int(sensor.find("camera/image/width").text) == MODEL.stereo.width
        assert int(sensor.find("camera/image/height").text) == MODEL.stereo.height
        assert sensor.find("gz_frame_id").text == getattr(MODEL.stereo, f"{side}_frame")
        assert sensor.find("topic").text == GZ_TOPICS[f"{side}_image"]
    imu = urdf.find(f"gazebo[@reference='{MODEL.imu.frame}']/sensor")
    assert float(imu.find("update_rate").text) == MODEL.imu.rate
    stddev = float(imu.find("imu/angular_velocity/x/noise/stddev").text)
    assert stddev == pytest.approx(MODEL.imu.gyro_noise_density * math.sqrt(MODEL.imu.rate))
    bias = float(imu.find("imu/linear_acceleration/z/noise/bias_stddev").text)
    assert bias == pytest.approx(MODEL.imu.accel_bias_sigma)


def test_hardware_urdf_has_no_simulator_tags():
    robot = ET.fromstring(build_urdf(MODEL, gazebo=False).split("\n", 2)[2])
    assert robot.find("gazebo") is None and robot.find("ros2_control") is None
    assert {j.get("name") for j in robot.findall("joint") if j.get("type") != "fixed"} == {
        *MODEL.drive_joints,
        *MODEL.steer_joints,
        *MODEL.suspension_joints,
    }


needs_ign = pytest.mark.skipif(shutil.which("ign") is None, reason="ign (libsdformat) not installed")


@needs_ign
def test_libsdformat_parses_the_urdf_and_converts_it_for_gazebo(tmp_path):
    path = tmp_path / "rover.urdf"
    path.write_text(build_urdf(MODEL, controllers_file=CONTROLLERS))
    check = subprocess.run(["ign", "sdf", "-k", str(path)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "Valid." in check.stdout, check.stdout + check.stderr
    printed = subprocess.run(["ign", "sdf", "-p", str(path)], capture_output=True, text=True, timeout=120)
    sdf = ET.fromstring(printed.stdout)
    model = sdf.find("model")
    joints = {j.get("name"): j for j in model.findall("joint")}
    assert set(joints) == {*MODEL.drive_joints, *MODEL.steer_joints, *MODEL.suspension_joints}
    # Fixed links are merged into base_link by the conversion; the sensors keep their mounting.
    base = model.find("link[@name='base_link']")
    sensors = {s.get("name"): s for s in base.findall("sensor")}
    assert set(sensors) == {"stereo_left", "stereo_right", "imu"}
    pose = _vec(sensors["stereo_left"].find("pose").text)
    camera_body = MODEL.stereo.camera_to_base("left")[:3, 3]
    assert np.allclose(pose[:3], camera_body, atol=1e-6)
    assert np.allclose(pose[3:], MODEL.stereo.rpy, atol=1e-6)
    mass = sum(float(m.text) for m in model.iter("mass"))
    assert mass == pytest.approx(MODEL.total_mass)


# -- bad rover models ------------------------------------------------------------------------------


def _raw_model():
    return yaml.safe_load(config_path("rover.yaml").read_text())


def test_three_rockers_with_a_differential_is_refused_in_one_line():
    data = _raw_model()
    extra = copy.deepcopy(data["suspension"]["rockers"][0])
    extra["name"] = "rocker_middle"
    data["suspension"]["rockers"].append(extra)
    with pytest.raises(UrdfError, match=r"differential needs exactly two rockers.*set differential: false"):
        build_urdf(parse_rover_model(data), controllers_file=CONTROLLERS)


def test_names_that_collide_or_are_invalid_are_refused():
    data = _raw_model()
    data["imu"]["frame"] = "chassis"
    with pytest.raises(UrdfError, match="names collide in the URDF: chassis"):
        build_urdf(parse_rover_model(data), gazebo=False)
    data = _raw_model()
    data["stereo"]["left_frame"] = "left camera"
    with pytest.raises(UrdfError, match=r"'left camera'.*not a valid ROS/URDF name"):
        build_urdf(parse_rover_model(data), gazebo=False)
    with pytest.raises(UrdfError, match="camera rate"):
        build_urdf(MODEL, camera_rate=math.nan, controllers_file=CONTROLLERS)
    with pytest.raises(UrdfError, match=r"ros2_controllers\.yaml"):
        build_urdf(MODEL)


# -- generated configuration and CLI ---------------------------------------------------------------


def test_shipped_controller_and_bridge_configs_are_generated_from_the_model():
    assert config_path("ros2_controllers.yaml").read_text() == controllers_yaml(MODEL), (
        "regenerate: rover-autonomy urdf --write-config"
    )
    assert config_path("gz_bridge.yaml").read_text() == bridge_yaml()
    controllers = yaml.safe_load(controllers_yaml(MODEL))
    assert controllers["drive_controller"]["ros__parameters"]["joints"] == MODEL.drive_joints
    assert controllers["steer_controller"]["ros__parameters"]["joints"] == MODEL.steer_joints
    manager = controllers["controller_manager"]["ros__parameters"]
    assert manager["drive_controller"]["type"] == "forward_command_controller/ForwardCommandController"


def _cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "rover_autonomy.cli", "urdf", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_prints_and_writes_the_urdf(tmp_path):
    printed = _cli("--hardware")
    assert printed.returncode == 0 and "<robot name=" in printed.stdout
    out = tmp_path / "rover.urdf"
    written = _cli("--out", str(out), "--camera-rate", "5")
    assert written.returncode == 0 and written.stdout == ""
    assert "<update_rate>5</update_rate>" in out.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--camera-rate", "0"], "--camera-rate 0.0: must be a positive frame rate"),
        (["--rover", "/nonexistent/rover.yaml"], "cannot read rover model"),
        (["--out", "/nonexistent/dir/rover.urdf"], "cannot write /nonexistent/dir/rover.urdf"),
    ],
)
def test_cli_answers_bad_input_in_one_line(argv, message):
    result = _cli(*argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_cli_names_an_inexpressible_model(tmp_path):
    data = _raw_model()
    data["suspension"]["rockers"].append({**data["suspension"]["rockers"][0], "name": "rocker_middle"})
    path = tmp_path / "rover.yaml"
    path.write_text(yaml.safe_dump(data))
    result = _cli("--rover", str(path))
    assert result.returncode == 2 and "differential needs exactly two rockers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_gazebo_rates_default_to_the_embedded_simulators():
    from rover_autonomy.description.urdf import GROUND_TRUTH_RATE

    sim = yaml.safe_load(config_path("rover_sim.yaml").read_text())["rover_sim"]["ros__parameters"]
    assert sim["camera_rate"] == MODEL.stereo.rate and sim["ground_truth_rate"] == GROUND_TRUTH_RATE


@needs_ign
def test_converted_urdf_uses_only_sdf_elements_besides_gz_frame_id(tmp_path):
    """libsdformat copies unknown elements silently: a misspelt sensor tag would be ignored by Gazebo."""
    from rover_autonomy.description.sdf_check import element_paths, spec_paths

    path = tmp_path / "rover.urdf"
    path.write_text(build_urdf(MODEL, controllers_file=CONTROLLERS))
    printed = subprocess.run(["ign", "sdf", "-p", str(path)], capture_output=True, text=True, timeout=120)
    known = spec_paths("1.9")
    unknown = {p for p, _ in element_paths(ET.fromstring(printed.stdout)) if p not in known}
    # gz-sensors' frame id element, which SDF 1.9 does not describe (Gazebo Harmonic reads it).
    assert unknown == {"/sdf/model/link/sensor/gz_frame_id"}
