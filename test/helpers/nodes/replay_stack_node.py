"""A small deterministic stand-in for the stack, for replay tests (a system under test we control).

Consumes contract inputs and answers with contract outputs, each stamped with its input's stamp:
``joint_states`` -> ``odom`` (differential-drive integration of the first two wheel rates);
a stereo pair -> ``stereo/points`` (block means of the left image), and every ``costmap_every`` pairs
-> ``terrain/costmap`` (block means of the right image around the newest odometry); ``goal_pose`` ->
``plan`` (a straight line from the newest odometry). ``jitter_ms`` sleeps a random wall time before
each answer, so that tests show that replay outputs do not depend on timing; ``die_after_pairs``
makes the process exit with code 3, for the "a replay node dies" test.
"""

import math
import random
import sys
import time

import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from sensor_msgs.msg import Image, JointState, PointCloud2

from rover_autonomy.geometry import GridGeometry, yaw_to_quaternion
from rover_autonomy.parameters import ParamSpec
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    array_to_grid,
    arrays_to_pointcloud,
    arrays_to_pose,
    image_to_array,
    ns_to_stamp,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import RoverNode, run_node

WHEEL_RADIUS = 0.1  # [m]
TRACK = 1.0  # [m]

PARAMETERS = (
    ParamSpec("jitter_ms", 0.0, "Random wall-clock delay before each answer", range=(0.0, 1000.0), unit="ms"),
    ParamSpec(
        "die_after_pairs", 0, "Exit with code 3 after this many stereo pairs (0: never)", range=(0, 10**6)
    ),
    ParamSpec("costmap_every", 2, "Publish a costmap every this many stereo pairs", range=(1, 100)),
)


def blocks(image: np.ndarray, size: int = 8) -> np.ndarray:
    h, w = image.shape[0] // size * size, image.shape[1] // size * size
    return image[:h, :w].reshape(h // size, size, w // size, size).mean(axis=(1, 3))


class ReplayStackNode(RoverNode):
    def __init__(self):
        super().__init__("replay_test_stack", PARAMETERS)
        self.pose = None  # (stamp_ns, x, y, yaw)
        self.left: dict[int, np.ndarray] = {}
        self.pairs = 0
        self.odom_pub = self.create_publisher(Odometry, "odom", qos.for_topic("odom"))
        self.points_pub = self.create_publisher(PointCloud2, "stereo/points", qos.for_topic("stereo/points"))
        self.costmap_pub = self.create_publisher(
            OccupancyGrid, "terrain/costmap", qos.for_topic("terrain/costmap")
        )
        self.plan_pub = self.create_publisher(Path, "plan", qos.for_topic("plan"))
        self.create_subscription(JointState, "joint_states", self.on_joints, qos.for_topic("joint_states"))
        self.create_subscription(
            Image, "stereo/left/image_rect", self.on_left, qos.for_topic("stereo/left/image_rect")
        )
        self.create_subscription(
            Image, "stereo/right/image_rect", self.on_right, qos.for_topic("stereo/right/image_rect")
        )
        self.create_subscription(PoseStamped, "goal_pose", self.on_goal, qos.for_topic("goal_pose"))
        self.rng = random.Random()

    def _jitter(self):
        if self.params.jitter_ms > 0:
            time.sleep(self.rng.uniform(0.0, self.params.jitter_ms) * 1e-3)

    def on_joints(self, msg: JointState):
        stamp = stamp_to_ns(msg.header.stamp)
        left, right = msg.velocity[0] * WHEEL_RADIUS, msg.velocity[1] * WHEEL_RADIUS
        if self.pose is None:
            self.pose = (stamp, 0.0, 0.0, 0.0)
        else:
            last, x, y, yaw = self.pose
            dt = (stamp - last) * 1e-9
            v, w = 0.5 * (left + right), (right - left) / TRACK
            mid = yaw + 0.5 * w * dt
            self.pose = (stamp, x + v * dt * math.cos(mid), y + v * dt * math.sin(mid), yaw + w * dt)
        _, x, y, yaw = self.pose
        odom = Odometry()
        odom.header.stamp = ns_to_stamp(stamp)
        odom.header.frame_id, odom.child_frame_id = "odom", "base_link"
        odom.pose.pose = arrays_to_pose((x, y, 0.0), yaw_to_quaternion(yaw))
        self._jitter()
        self.odom_pub.publish(odom)

    def on_left(self, msg: Image):
        self.left[stamp_to_ns(msg.header.stamp)] = image_to_array(msg)

    def on_right(self, msg: Image):
        stamp = stamp_to_ns(msg.header.stamp)
        left = self.left.pop(stamp, None)
        if left is None:
            return
        self.pairs += 1
        if self.params.die_after_pairs and self.pairs >= self.params.die_after_pairs:
            self.get_logger().error("dying on purpose")
            raise SystemExit(3)
        means = blocks(left.astype(np.float32))
        rows, cols = np.indices(means.shape)
        cloud = {
            "x": cols.ravel().astype(np.float32) * 0.1,
            "y": rows.ravel().astype(np.float32) * 0.1,
            "z": (means.ravel() / 255.0).astype(np.float32),
            "intensity": means.ravel().astype(np.float32),
        }
        self._jitter()
        self.points_pub.publish(arrays_to_pointcloud(cloud, stamp, "stereo_left_optical_frame"))
        if self.pairs % self.params.costmap_every == 0 and self.pose is not None:
            costs = np.round(blocks(image_to_array(msg).astype(np.float32)) * (100.0 / 255.0)).astype(np.int8)
            costs[costs < 4] = -1
            origin = (round(self.pose[1], 1) - 1.0, round(self.pose[2], 1) - 1.0)
            self.costmap_pub.publish(array_to_grid(costs, GridGeometry(0.1, *origin, *costs.shape), stamp))

    def on_goal(self, msg: PoseStamped):
        start = (0.0, 0.0) if self.pose is None else self.pose[1:3]
        goal = (msg.pose.position.x, msg.pose.position.y)
        steps = max(1, math.ceil(math.dist(start, goal) / 0.5))
        path = Path()
        path.header.stamp, path.header.frame_id = msg.header.stamp, "odom"
        for i in range(steps + 1):
            pose = PoseStamped()
            pose.header = path.header
            pose.pose.position.x = start[0] + (goal[0] - start[0]) * i / steps
            pose.pose.position.y = start[1] + (goal[1] - start[1]) * i / steps
            pose.pose.orientation.w = 1.0
            path.poses.append(pose)
        self.plan_pub.publish(path)


def main():
    return run_node(ReplayStackNode)


if __name__ == "__main__":
    sys.exit(main())
