"""base_controller and wheel_odometry in the loop with rover_sim over DDS, on sim time.

rover_sim runs in its own process (as a launch would); the controller and the odometry are real nodes
in this process. cmd_vel is stamped with sim time (as the path follower stamps it with odometry).
"""

import signal
import subprocess
import sys

import numpy as np
import pytest
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter
from std_msgs.msg import Float32

from rover_autonomy.control.node import BaseControllerNode
from rover_autonomy.geometry import Pose2D, quaternion_to_yaw
from rover_autonomy.harness.sim_drive import sim_available
from rover_autonomy.odometry.node import WheelOdometryNode
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import odometry_to_data, stamp_to_ns

pytestmark = pytest.mark.skipif(not sim_available(), reason="needs the embedded simulator")


@pytest.mark.timeout(120)
def test_cmd_vel_drives_the_simulated_rover_and_odometry_follows_ground_truth(ros):
    args = [sys.executable, "-m", "rover_autonomy.sim.node", "--ros-args"]
    for key, value in {"world": "flat", "cameras": "false", "real_time_factor": "1.0"}.items():
        args += ["-p", f"{key}:={value}"]
    sim = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        sim_time = [Parameter("use_sim_time", value=True)]
        ros.node(BaseControllerNode(context=ros.context, parameter_overrides=sim_time))
        ros.node(WheelOdometryNode(context=ros.context, parameter_overrides=sim_time))
        node = ros.node("mission_double")
        truth, odom, slip = [], [], []
        node.create_subscription(
            Odometry, "ground_truth/odom", truth.append, qos.for_topic("ground_truth/odom")
        )
        node.create_subscription(Odometry, "odom", odom.append, qos.for_topic("odom"))
        node.create_subscription(
            Float32, "odom/slip", lambda m: slip.append(m.data), qos.for_topic("odom/slip")
        )
        cmd = node.create_publisher(TwistStamped, "cmd_vel", qos.for_topic("cmd_vel"))
        assert ros.spin_until(lambda: truth and odom, timeout=60), (
            sim.stderr.read() if sim.poll() else "no data"
        )
        start_truth, start_odom = odometry_to_data(truth[-1]), odometry_to_data(odom[-1])

        def drive_until(seconds):
            end = stamp_to_ns(truth[-1].header.stamp) + seconds * 1e9
            while stamp_to_ns(truth[-1].header.stamp) < end:
                msg = TwistStamped()
                msg.header.stamp = truth[-1].header.stamp  # sim time
                msg.header.frame_id = "base_link"
                msg.twist.linear.x, msg.twist.angular.z = 0.3, 0.1
                cmd.publish(msg)
                ros.spin_for(0.05)
                assert sim.poll() is None, sim.stderr.read()

        drive_until(8.0)
        ros.spin_for(1.5)  # cmd_vel stops: the controller times out and the rover stops
        end_truth = odometry_to_data(truth[-1])
        end_odom = odometry_to_data(odom[-1])
        moved = end_truth.position - start_truth.position
        distance = float(np.linalg.norm(moved[:2]))
        assert distance > 1.5  # the controller drove the rover (0.3 m/s less ramps and steering)
        # Truth in the odom frame (the start pose), against the odometry since the same instant.
        truth_odom = np.array(
            Pose2D(0.0, 0.0, quaternion_to_yaw(start_truth.quaternion)).to_child(*moved[:2])
        )
        estimate = end_odom.position[:2] - start_odom.position[:2]
        assert np.linalg.norm(estimate - truth_odom) < 0.05 * distance
        assert abs(end_truth.linear[0]) < 0.02  # stopped after the command timeout
        assert slip and all(0.0 <= v < 0.2 for v in slip)
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
