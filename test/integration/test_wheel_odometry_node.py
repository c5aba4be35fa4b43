"""wheel_odometry over DDS: real rclpy nodes exchanging joint_states, imu/data, odom and diagnostics."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from helpers.odometry import slope_law
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float32

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.harness.drives import PlaneTerrain, Segment, joint_message, replay, synthesise
from rover_autonomy.odometry.estimator import WheelOdometry
from rover_autonomy.odometry.node import PARAMETERS, WheelOdometryNode, config_from
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import matrix_to_pose, odometry_to_data, sec_to_stamp
from rover_autonomy.rover_model import load_rover_model


class Rover:
    """Plays a synthetic drive onto joint_states and imu/data; records odom, odom/slip, diagnostics."""

    def __init__(self, ros):
        self.ros = ros
        self.model = load_rover_model()
        # No slope model: the synthetic drive does not slip (the calibrated model is for Mars sand).
        overrides = [Parameter("slip_model_file", value="")]
        self.odometry = ros.node(WheelOdometryNode(context=ros.context, parameter_overrides=overrides))
        self.node = ros.node("rover_double")
        self.odom, self.slip, self.status = [], [], []
        sensors = qos.profile("sensors")
        self.node.create_subscription(Odometry, "odom", self.odom.append, sensors)
        self.node.create_subscription(Float32, "odom/slip", lambda m: self.slip.append(m.data), sensors)
        self.node.create_subscription(
            DiagnosticArray, "diagnostics", lambda m: self.status.extend(m.status), qos.profile("diagnostics")
        )
        self.joints = self.node.create_publisher(JointState, "joint_states", sensors)
        self.imu = self.node.create_publisher(Imu, "imu/data", sensors)
        assert ros.spin_until(
            lambda: self.joints.get_subscription_count() and self.imu.get_subscription_count(), timeout=10
        )

    def play(self, drive, start=0.0, joints=lambda j, n, p, v: (n, p, v), imu=True, after=None):
        index = dict(zip(drive.joint_index.tolist(), range(len(drive.joint_index)), strict=True))
        before = len(self.odom)
        lag = 2 if imu else 20  # without IMU the odometry waits imu_timeout before using joint_states
        for k, t in enumerate(drive.stamps):
            stamp = sec_to_stamp(start + float(t))
            if imu:
                msg = Imu()
                msg.header.stamp, msg.header.frame_id = stamp, "imu_link"
                msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = map(
                    float, drive.gyro[k]
                )
                a = msg.linear_acceleration
                a.x, a.y, a.z = map(float, drive.accel[k])
                msg.orientation_covariance[0] = -1.0
                self.imu.publish(msg)
            if k in index:
                names, positions, velocities = joints(index[k], *joint_message(self.model, drive, index[k]))
                msg = JointState(name=names, position=positions, velocity=velocities)
                msg.header.stamp = stamp
                self.joints.publish(msg)
            if after is not None:
                after(k)
            if k % 20 == 19:  # let the odometry keep up (its queues hold 100 samples)
                published = k // 2
                assert self.ros.spin_until(lambda p=published: len(self.odom) - before >= p - lag, timeout=10)


@pytest.fixture(scope="module")
def drive():
    model = load_rover_model()
    return synthesise(
        model, [Segment(3, 0.3, 0.2)], PlaneTerrain(math.radians(8), 1.0), gravity=3.711, seed=21
    )


@pytest.mark.timeout(90)
def test_odometry_over_dds_matches_the_core_bit_for_bit(ros, drive):
    rover = Rover(ros)
    rover.play(drive)
    n = len(drive.joint_index)
    assert ros.spin_until(lambda: len(rover.odom) >= n, timeout=20), f"{len(rover.odom)} of {n} odom messages"
    values = {spec.name: spec.default for spec in PARAMETERS}
    reference = replay(WheelOdometry(rover.model, config_from(rover.model, values)), rover.model, drive)
    last = odometry_to_data(rover.odom[-1])
    assert last.frame_id == "odom" and last.child_frame_id == "base_link"
    assert last.stamp_ns == round(reference[-1].stamp * 1e9)
    np.testing.assert_array_equal(last.position, reference[-1].position)
    np.testing.assert_array_equal(last.pose_covariance, reference[-1].pose_covariance)
    assert np.all(np.diag(last.pose_covariance) > 0) and np.all(np.diag(last.twist_covariance) > 0)
    k = round(reference[-1].stamp * 100)
    assert np.linalg.norm(last.position - drive.position[k]) < 0.02 * drive.distance
    assert ros.spin_until(lambda: len(rover.slip) >= n, timeout=5)
    assert all(0.0 <= s <= 1.0 for s in rover.slip)


@pytest.mark.timeout(90)
def test_bad_input_over_dds_warns_and_keeps_serving(ros, drive):
    rover = Rover(ros)

    def corrupt(j, names, positions, velocities):
        return [*names, "mystery_joint"], [*positions, 0.0], [math.nan] * (len(velocities) + 1)

    rover.play(drive, start=50.0, joints=corrupt, imu=False)  # no IMU, NaN rates, an unknown joint
    assert ros.spin_until(lambda: len(rover.odom) >= len(drive.joint_index), timeout=20)
    assert ros.spin_until(lambda: any(s.level == DiagnosticStatus.WARN for s in rover.status), timeout=5), (
        "no warning in diagnostics"
    )
    first_run = len(rover.odom)
    rover.play(drive, start=0.0)  # time goes back: the simulator restarted
    assert ros.spin_until(lambda: len(rover.odom) >= first_run + len(drive.joint_index), timeout=20)
    restarted = odometry_to_data(rover.odom[first_run])
    assert np.linalg.norm(restarted.position) < 0.01  # back at the origin
    assert rover.odometry.odometry.resets == 1


@pytest.mark.timeout(60)
def test_the_calibrated_slip_model_is_loaded_and_a_broken_one_refused(ros, tmp_path):
    node = ros.node(WheelOdometryNode(context=ros.context))
    assert node.slip_model is not None and node.slip_model.coefficients[0] > 0  # config/slip_model.yaml
    broken = tmp_path / "slip.yaml"
    broken.write_text("coefficients: [1.0, .nan, 0.0]\n")
    with pytest.raises(ValueError, match="3 finite numbers"):
        WheelOdometryNode(
            context=ros.context, parameter_overrides=[Parameter("slip_model_file", value=str(broken))]
        )


@pytest.mark.timeout(120)
def test_visual_odometry_increments_correct_a_slipping_climb(ros):
    """visual_odometry/odom used differentially: slip the wheels cannot see is removed; an increment
    marked as not measured (covariance[0] = -1) is skipped, even when its pose jumps."""
    model = load_rover_model()
    climb = synthesise(
        model,
        [Segment(12, 0.3, 0.0)],
        PlaneTerrain(math.radians(12)),
        gravity=3.711,
        slip_law=slope_law,
        seed=4,
    )
    rover = Rover(ros)
    visual = rover.node.create_publisher(Odometry, "visual_odometry/odom", qos.profile("sensors"))
    assert ros.spin_until(lambda: visual.get_subscription_count(), timeout=10)
    frames = list(range(0, len(climb.stamps), 50))  # 2 Hz
    jump = np.array([0.15, 0.0, 0.0])  # a restarted chain, off by less than the outlier gate would catch

    def publish_visual(k):
        # Each frame's message goes out 0.3 s after its stamp, as stereo + VO would deliver it.
        if k < 30 or (k - 30) not in frames:
            return
        i = frames.index(k - 30)
        frame = frames[i]
        msg = Odometry()
        msg.header.stamp, msg.header.frame_id, msg.child_frame_id = (
            sec_to_stamp(float(climb.stamps[frame])),
            "visual_odom",
            "base_link",
        )
        transform = np.eye(4)
        transform[:3, :3] = rpy_to_matrix(*climb.rpy[frame])
        transform[:3, 3] = climb.position[frame] + (jump if i >= 8 else 0.0)
        msg.pose.pose = matrix_to_pose(transform)
        covariance = np.eye(6) * 1e-6
        covariance[0, 0] = -1.0 if i in (0, 8) else 1e-6  # the first frame and the restart: not measured
        msg.pose.covariance = covariance.ravel().tolist()
        msg.twist.covariance = (np.eye(6) * 1e-5).ravel().tolist()
        visual.publish(msg)

    rover.play(climb, after=publish_visual)
    n = len(climb.joint_index)
    assert ros.spin_until(lambda: len(rover.odom) >= n, timeout=20)
    last = odometry_to_data(rover.odom[-1])
    k = round(last.stamp_ns * 1e-9 * 100)
    error = np.linalg.norm(last.position[:2] - climb.position[k, :2])
    wheels_only = replay(
        WheelOdometry(model, config_from(model, {s.name: s.default for s in PARAMETERS})), model, climb
    )
    assert np.linalg.norm(wheels_only[-1].position[:2] - climb.position[k, :2]) > 0.1 * climb.distance
    assert error < 0.02 * climb.distance, f"{error:.3f} m over {climb.distance:.1f} m"
    assert rover.odometry.odometry.counts["visual"] >= len(frames) - 4
