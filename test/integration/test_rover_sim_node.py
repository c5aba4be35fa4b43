"""rover_sim over real DDS: wheel commands in, ground truth, joint states, IMU, slip, contacts out.

Cameras are off except in the camera and lockstep tests; the simulator runs as fast as it can on sim
time, in short wall-time chunks so the test's subscriptions are served between them.
"""

import itertools
import math
import signal
import subprocess
import sys

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import MarkerArray

from rover_autonomy.geometry import quaternion_to_yaw
from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import image_to_array, ns_to_stamp, stamp_to_ns
from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.sim.engine import RoverSim, SimConfig
from rover_autonomy.sim.scene import resolve_world

MODEL = load_rover_model()


class Stack:
    """The test's side of the wire: command publishers and subscriptions recording what arrives."""

    def __init__(self, ros, topics):
        self.ros = ros
        self.node = ros.node("test_stack")
        self.drive = self.node.create_publisher(
            Float64MultiArray, "drive_controller/commands", qos.for_topic("drive_controller/commands")
        )
        self.steer = self.node.create_publisher(
            Float64MultiArray, "steer_controller/commands", qos.for_topic("steer_controller/commands")
        )
        self.received = {}
        for topic in ("ground_truth/odom", *topics):
            msg_type = TYPES[topic]
            self.received[topic] = []
            self.node.create_subscription(msg_type, topic, self.received[topic].append, qos.for_topic(topic))

    def last(self, topic):
        return self.received[topic][-1] if self.received[topic] else None

    def sim_time(self):
        """Stamp of the newest ground truth received [s]: poses and times are read from one stream."""
        odom = self.last("ground_truth/odom")
        return 0.0 if odom is None else stamp_to_ns(odom.header.stamp) * 1e-9

    def synced(self):
        """The newest (ground truth, joint_states) pair with the same stamp (both come from one tick)."""
        joints = {stamp_to_ns(m.header.stamp): m for m in self.received["joint_states"][-200:]}
        for odom in reversed(self.received["ground_truth/odom"]):
            match = joints.get(stamp_to_ns(odom.header.stamp))
            if match is not None:
                return odom, match
        raise AssertionError("no joint_states with the stamp of a received ground truth")

    def command(self, vx, wz, wait=True):
        """Send the wheel commands of a body twist; wait until the simulator's wheels follow them.

        The simulator runs many times faster than real time, so sim time passes while a command
        travels; tests measure from the moment the wheels answer.
        """
        cmd = wheel_commands(MODEL, vx, wz)
        self.steer.publish(Float64MultiArray(data=cmd.steer.tolist()))
        self.drive.publish(Float64MultiArray(data=cmd.drive.tolist()))
        if wait:
            target = np.concatenate([cmd.drive, cmd.steer])

            def following():
                joints = self.last("joint_states")
                now = np.concatenate([joints.velocity[:6], joints.position[6:10]])
                return np.all(np.abs(now - target) < 0.3 * np.abs(target) + 0.05)

            assert self.ros.spin_until(following, timeout=10, step=0.001)
        return cmd

    def run_until(self, sim_seconds, timeout=30.0):
        assert self.ros.spin_until(lambda: self.sim_time() >= sim_seconds, timeout=timeout, step=0.001), (
            f"sim time stuck at {self.sim_time()} s"
        )

    def pose(self):
        odom = self.last("ground_truth/odom")
        p = odom.pose.pose.position
        o = odom.pose.pose.orientation
        return np.array([p.x, p.y, p.z]), quaternion_to_yaw(np.array([o.x, o.y, o.z, o.w]))


TYPES = {
    "ground_truth/odom": Odometry,
    "joint_states": JointState,
    "imu/data": Imu,
    "sim/slip": Float64MultiArray,
    "sim/contacts": MarkerArray,
    "/clock": Clock,
    "diagnostics": DiagnosticArray,
    **{f"stereo/{s}/image_rect": Image for s in ("left", "right")},
    **{f"stereo/{s}/camera_info": CameraInfo for s in ("left", "right")},
}


def _ros_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(f"'{v}'" if isinstance(v, str) else str(v) for v in value) + "]"
    return str(value)


@pytest.fixture
def simulator():
    """Starts rover_sim in its own process, as a launch would; stops it at the end of the test."""
    processes = []

    def launch(ros, topics=(), **params):
        values = {"world": "flat", "cameras": False, "real_time_factor": 4.0, **params}
        args = [sys.executable, "-m", "rover_autonomy.sim.node", "--ros-args"]
        for key, value in values.items():
            args += ["-p", f"{key}:={_ros_value(value)}"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        stack = Stack(ros, topics)

        def started():
            return process.poll() is not None or all(stack.received.values())

        if not ros.spin_until(started, timeout=40):
            pytest.fail(f"rover_sim did not publish {[t for t, m in stack.received.items() if not m]}")
        assert process.poll() is None, process.stderr.read()
        return stack

    yield launch
    for process in processes:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_straight_drive_moves_3_m_and_joint_states_follow(ros, simulator):
    stack = simulator(ros, topics=("joint_states", "sim/slip", "sim/contacts"))
    stack.run_until(0.3)
    cmd = stack.command(0.3, 0.0)
    odom0, joints0 = stack.synced()
    t0 = stack.sim_time()
    stack.run_until(t0 + 10.0)
    odom1, joints = stack.synced()
    assert stamp_to_ns(odom1.header.stamp) - stamp_to_ns(odom0.header.stamp) > 9.5e9
    start, end = odom0.pose.pose, odom1.pose.pose
    moved = np.array([end.position.x - start.position.x, end.position.y - start.position.y])
    assert moved[0] == pytest.approx(3.0, rel=0.15)
    assert abs(moved[1]) < 0.1 and abs(end.orientation.z - start.orientation.z) < 0.015
    assert list(joints.name) == MODEL.drive_joints + MODEL.steer_joints + MODEL.suspension_joints
    turned = np.array(joints.position[:6]) - np.array(joints0.position[:6])
    # Wheel rotation covers the distance plus the slip; rates match the command in steady state.
    assert turned * MODEL.wheel_radius == pytest.approx(np.full(6, moved[0]), rel=0.1)
    assert np.array(joints.velocity[:6]) == pytest.approx(cmd.drive, rel=0.05)
    assert np.abs(joints.position[6:]).max() < 0.02  # steering straight, suspension level
    slip = np.array(stack.last("sim/slip").data)
    assert slip.shape == (6,) and np.all((slip > 0.0) & (slip < 0.1))
    wheel_markers = [m for m in stack.last("sim/contacts").markers if m.ns == "wheel"]
    assert len(wheel_markers) >= 6 and all(m.text.startswith("wheel_") for m in wheel_markers)
    assert all(m.header.frame_id == "map" for m in wheel_markers)
    assert not [m for m in stack.last("sim/contacts").markers if m.ns == "body"]


def test_imu_measures_the_planets_gravity_at_rest(ros, simulator):
    stack = simulator(ros, topics=("imu/data",), world="flat:moon", real_time_factor=2.0)
    assert ros.spin_until(lambda: len(stack.received["imu/data"]) >= 50, timeout=20)
    samples = stack.received["imu/data"][-50:]
    assert len(samples) == 50 and samples[-1].header.frame_id == MODEL.imu.frame
    accel = np.array(
        [[s.linear_acceleration.x, s.linear_acceleration.y, s.linear_acceleration.z] for s in samples]
    )
    assert np.linalg.norm(accel.mean(axis=0)) == pytest.approx(1.62, abs=0.06)
    gyro = np.array([[s.angular_velocity.x, s.angular_velocity.y, s.angular_velocity.z] for s in samples])
    assert np.abs(gyro.mean(axis=0)).max() < 0.01
    assert samples[-1].orientation_covariance[0] == -1.0


def _yaw_rate(stack, seconds):
    t0 = stack.sim_time()
    _, yaw0 = stack.pose()
    stack.run_until(t0 + seconds)
    _, yaw1 = stack.pose()
    return math.remainder(yaw1 - yaw0, 2 * math.pi) / (stack.sim_time() - t0)


def test_arc_gives_the_commanded_yaw_rate_and_a_point_turn_turns_in_place(ros, simulator):
    stack = simulator(ros, topics=("joint_states",))
    stack.run_until(0.2)
    stack.command(0.3, 0.15)
    stack.run_until(stack.sim_time() + 1.0)  # wheels settle on the arc
    assert _yaw_rate(stack, 6.0) == pytest.approx(0.15, rel=0.2)
    cmd = stack.command(0.0, 0.0)
    stack.run_until(stack.sim_time() + 1.0)
    cmd = stack.command(0.0, -0.3)
    assert cmd.point_turn
    (p0, _) = stack.pose()
    rate = _yaw_rate(stack, 5.0)
    (p1, _) = stack.pose()
    assert rate == pytest.approx(-0.3, rel=0.3)
    assert np.linalg.norm(p1[:2] - p0[:2]) < 0.15


def test_climbs_and_descends_a_10_degree_slope(ros, simulator):
    stack = simulator(ros, topics=("joint_states", "sim/slip"), world="slope:10")
    stack.run_until(0.2)
    stack.command(0.3, 0.0)
    (p0, _) = stack.pose()
    stack.run_until(stack.sim_time() + 10.0)
    (p1, _) = stack.pose()
    climbed = p1 - p0
    assert climbed[0] > 1.8  # ≥ 60 % of the 3 m commanded: sand on 10° slips ~20 %
    assert climbed[2] == pytest.approx(climbed[0] * math.tan(math.radians(10)), rel=0.1)
    slip = np.array(stack.last("sim/slip").data)
    assert np.all(slip > 0.05)
    stack.command(-0.3, 0.0)
    stack.run_until(stack.sim_time() + 10.0)
    (p2, _) = stack.pose()
    assert p2[2] < p1[2] - 0.4 and p2[0] < p1[0] - 2.5  # downhill the wheels skid a little, never stall


def test_slips_measurably_on_a_25_degree_slope(ros, simulator):
    stack = simulator(ros, topics=("joint_states", "sim/slip"), world="slope:25")
    stack.run_until(0.2)
    stack.command(0.3, 0.0, wait=False)
    (p0, _) = stack.pose()
    stack.run_until(stack.sim_time() + 5.0)
    slips = np.array([m.data for m in stack.received["sim/slip"][-100:]])
    (p1, _) = stack.pose()
    assert np.all(slips.mean(axis=0) > 0.5)  # the wheels spin: sim/slip says so
    assert p1[0] - p0[0] < 0.5 * 1.5  # far less than the 1.5 m the wheels turned


INVALID = [
    ("drive_controller/commands", [math.nan] * 6),
    ("drive_controller/commands", [0.5] * 5),
    ("drive_controller/commands", [1e9] * 6),
    ("steer_controller/commands", [math.inf, 0.0, 0.0, 0.0]),
]


def test_invalid_commands_stop_the_rover(ros, simulator):
    stack = simulator(ros, topics=("joint_states", "diagnostics"))
    for count, (topic, values) in enumerate(INVALID, start=1):
        stack.command(0.3, 0.0)
        stack.run_until(stack.sim_time() + 1.0)
        assert stack.last("ground_truth/odom").twist.twist.linear.x > 0.25
        publisher = stack.drive if topic.startswith("drive") else stack.steer
        publisher.publish(Float64MultiArray(data=values))

        # The node keeps serving and says why on diagnostics.
        def reported(count=count, topic=topic):
            return any(
                s.level == DiagnosticStatus.WARN
                and topic in s.message
                and {v.key: v.value for v in s.values}.get("rejected_commands") == str(count)
                for m in stack.received["diagnostics"][-3:]
                for s in m.status
            )

        assert ros.spin_until(reported, timeout=5)
        # Measured from the rejection: the free-running simulator gets far ahead of a delayed message.
        stack.run_until(stack.sim_time() + 1.5)
        assert abs(stack.last("ground_truth/odom").twist.twist.linear.x) < 0.02, topic


def test_stereo_pair_matches_its_camera_info_and_depth(ros, simulator):
    import cv2

    topics = [f"stereo/{s}/{w}" for s in ("left", "right") for w in ("image_rect", "camera_info")]
    stack = simulator(ros, topics=topics, cameras=True, real_time_factor=1.0)
    assert ros.spin_until(lambda: stack.received["stereo/right/camera_info"], timeout=20)
    left_msg, right_msg = (
        stack.received["stereo/left/image_rect"][0],
        stack.received["stereo/right/image_rect"][0],
    )
    info_l, info_r = (
        stack.received["stereo/left/camera_info"][0],
        stack.received["stereo/right/camera_info"][0],
    )
    assert left_msg.header.stamp == right_msg.header.stamp == info_r.header.stamp
    assert left_msg.header.frame_id == MODEL.stereo.left_frame
    assert right_msg.header.frame_id == info_r.header.frame_id == MODEL.stereo.right_frame
    f, baseline = MODEL.stereo.focal_px, MODEL.stereo.baseline
    assert np.array(info_l.k) == pytest.approx(MODEL.stereo.intrinsics().reshape(9))
    assert info_r.p[3] == pytest.approx(-f * baseline) and info_l.p[3] == 0.0
    left = cv2.cvtColor(image_to_array(left_msg), cv2.COLOR_RGB2GRAY)
    right = cv2.cvtColor(image_to_array(right_msg), cv2.COLOR_RGB2GRAY)
    assert left.shape == (MODEL.stereo.height, MODEL.stereo.width)
    matcher = cv2.StereoSGBM_create(
        minDisparity=0, numDisparities=128, blockSize=7, P1=8 * 49, P2=32 * 49, uniquenessRatio=5
    )
    disparity = matcher.compute(left, right).astype(np.float32) / 16.0
    valid = disparity > 0.5
    assert valid.mean() > 0.6
    # Depth from disparity with the published geometry agrees with MuJoCo's depth buffer of the same
    # scene: the simulator is deterministic, so a core simulator here holds the rover's settled pose.
    twin = RoverSim(resolve_world("flat"), MODEL, SimConfig(cameras=True))
    twin.step(stamp_to_ns(left_msg.header.stamp) // twin.step_ns)
    assert np.array_equal(image_to_array(left_msg), twin.render_stereo()[0])
    depth = twin.render_depth("left")
    twin.close()
    stereo_depth = -info_r.p[3] / disparity[valid]
    relative = np.abs(stereo_depth - depth[valid]) / depth[valid]
    assert np.median(relative) < 0.03
    assert np.mean(relative < 0.1) > 0.9


def _lockstep_on_cmd_vel(ros, simulator, timeout: float):
    """A simulator with cameras, in lockstep on cmd_vel, as fast as it can."""
    return simulator(
        ros,
        topics=("stereo/left/image_rect",),
        cameras=True,
        lockstep=True,
        lockstep_topics=["cmd_vel:geometry_msgs/msg/TwistStamped"],
        lockstep_timeout=timeout,
        real_time_factor=0.0,
    )


def test_lockstep_holds_sim_time_until_the_stack_answers(ros, simulator):
    stack = _lockstep_on_cmd_vel(ros, simulator, timeout=30.0)
    answer = stack.node.create_publisher(TwistStamped, "cmd_vel", qos.for_topic("cmd_vel"))
    images = stack.received["stereo/left/image_rect"]
    # Held: sim time stays at the newest frame while the stack "thinks" (wall time passes).
    ros.spin_for(1.0)
    frame = images[-1].header.stamp
    assert stack.sim_time() == pytest.approx(stamp_to_ns(frame) * 1e-9)
    stale = TwistStamped()
    stale.header.stamp = ns_to_stamp(stamp_to_ns(frame) - 100_000_000)  # answers an older frame
    answer.publish(stale)
    ros.spin_for(0.5)
    assert stack.sim_time() == pytest.approx(stamp_to_ns(frame) * 1e-9)
    msg = TwistStamped()
    msg.header.stamp = frame
    count = len(images)
    answer.publish(msg)
    assert ros.spin_until(lambda: len(images) > count, timeout=5)
    assert stamp_to_ns(images[-1].header.stamp) - stamp_to_ns(frame) == 500_000_000


def test_lockstep_continues_after_the_timeout_without_an_answer(ros, simulator):
    stack = _lockstep_on_cmd_vel(ros, simulator, timeout=0.3)
    images = stack.received["stereo/left/image_rect"]
    # Nobody answers: each frame is held for the timeout (the stepping timer is cancelled meanwhile and
    # the hold check resumes it), then the next frame comes 0.5 s of sim time later.
    assert ros.spin_until(lambda: len(images) >= 3, timeout=20)
    stamps = [stamp_to_ns(m.header.stamp) for m in images[-3:]]
    assert all(b - a == 500_000_000 for a, b in itertools.pairwise(stamps))
