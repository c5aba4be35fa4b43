"""base_controller over DDS: real rclpy nodes exchanging cmd_vel, joint_states and wheel commands."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from rover_autonomy.control.node import BaseControllerNode
from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.ros_common import qos
from rover_autonomy.rover_model import load_rover_model


class Harness:
    """A test node playing the rover: publishes cmd_vel and joint_states, records the wheel commands."""

    def __init__(self, ros, stamped=True):
        self.ros = ros
        self.model = load_rover_model()
        self.controller = ros.node(
            BaseControllerNode(
                context=ros.context, parameter_overrides=[Parameter("cmd_vel_stamped", value=stamped)]
            )
        )
        self.node = ros.node("rover_double")
        self.drive, self.steer, self.status = [], [], []
        self.node.create_subscription(
            Float64MultiArray, "drive_controller/commands", lambda m: self.drive.append(list(m.data)), 10
        )
        self.node.create_subscription(
            Float64MultiArray, "steer_controller/commands", lambda m: self.steer.append(list(m.data)), 10
        )
        self.node.create_subscription(
            DiagnosticArray, "diagnostics", lambda m: self.status.extend(m.status), qos.profile("diagnostics")
        )
        kind = TwistStamped if stamped else Twist
        self.cmd = self.node.create_publisher(kind, "cmd_vel", qos.profile("commands"))
        self.joints = self.node.create_publisher(JointState, "joint_states", qos.profile("sensors"))
        self.estop = self.node.create_publisher(Bool, "emergency_stop", qos.profile("latched"))
        self.stamped = stamped
        assert ros.spin_until(
            lambda: self.cmd.get_subscription_count() and self.joints.get_subscription_count()
        )

    def send(self, vx, wz):
        twist = Twist()
        twist.linear.x, twist.angular.z = float(vx), float(wz)
        if self.stamped:
            msg = TwistStamped()
            msg.header.stamp = self.node.get_clock().now().to_msg()
            msg.twist = twist
            self.cmd.publish(msg)
        else:
            self.cmd.publish(twist)

    def report_steering(self):
        """joint_states with the steering where it was last commanded (ideal actuators)."""
        msg = JointState()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.name = list(self.model.steer_joints)
        msg.position = [float(v) for v in (self.steer[-1] if self.steer else [0.0] * len(msg.name))]
        self.joints.publish(msg)

    def drive_for(self, seconds, vx=None, wz=0.0):
        for _ in range(round(seconds / 0.02)):
            if vx is not None:
                self.send(vx, wz)
            self.report_steering()
            self.ros.spin_for(0.02)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stamped", [True, False])
def test_cmd_vel_becomes_wheel_commands_and_times_out(ros, stamped):
    h = Harness(ros, stamped)
    h.drive_for(1.6, vx=0.3, wz=0.1)
    target = wheel_commands(h.model, 0.3, 0.1)
    np.testing.assert_allclose(h.drive[-1], target.drive, atol=1e-9)
    np.testing.assert_allclose(h.steer[-1], target.steer, atol=1e-9)
    assert len(h.drive[-1]) == len(h.model.drive_joints) and len(h.steer[-1]) == len(h.model.steer_joints)
    # cmd_vel stops, joint_states stop too: the timer still stops the wheels after the timeout.
    ros.spin_for(1.0)
    assert h.drive[-1] == [0.0] * len(h.model.drive_joints)


@pytest.mark.timeout(60)
def test_emergency_stop_and_invalid_commands(ros):
    h = Harness(ros)
    h.drive_for(1.5, vx=0.3)
    assert max(h.drive[-1]) > 0
    h.estop.publish(Bool(data=True))
    h.drive_for(0.5, vx=0.3)
    assert h.drive[-1] == [0.0] * 6
    assert ros.spin_until(
        lambda: any(s.level == DiagnosticStatus.ERROR and "emergency" in s.message for s in h.status)
    )
    h.estop.publish(Bool(data=False))
    h.drive_for(1.5, vx=0.3)
    assert max(h.drive[-1]) > 0
    for bad in (math.nan, math.inf, 1e9):
        h.send(bad, 0.0)
        ros.spin_for(0.1)
        assert h.drive[-1] == [0.0] * 6
    h.status.clear()
    assert ros.spin_until(lambda: any("rejected" in s.message for s in h.status), timeout=3)
    h.drive_for(1.5, vx=0.2)  # the node kept serving
    assert max(h.drive[-1]) > 0
