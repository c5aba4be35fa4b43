"""Mission supervisor node: sends the goal and observes the running stack into a
:class:`~rover_autonomy.missions.metrics.MissionLog`.

It watches ground truth, odometry, contacts, plans, the navigation state, and the stereo → costmap →
``cmd_vel`` chain for latency [ms]; beyond the goal it publishes nothing. :class:`SupervisorContext` holds
it, and the recorder of a recorded mission, in an rclpy context of their own;
:mod:`rover_autonomy.missions.run` spins them.
"""

from __future__ import annotations

import math
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from rover_autonomy.contract import NavigationState, parse_state
from rover_autonomy.geometry import yaw_to_quaternion
from rover_autonomy.missions.metrics import MissionLog
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    grid_to_array,
    make_pose_stamped,
    odometry_to_data,
    stamp_to_ns,
)

# navigation/state while a plan is followed
FOLLOWING_STATES = (NavigationState.DRIVING, NavigationState.RECOVERING, NavigationState.BLOCKED)


class MissionSupervisor(Node):
    """Observes the running stack and fills a :class:`MissionLog`."""

    def __init__(self, log: MissionLog, **kwargs):
        super().__init__("mission_supervisor", **kwargs)
        self.log = log
        self.sim_time = 0.0
        self.start_sim_time: float | None = None
        self.state = ""  # the latest navigation/state text
        # ... parsed once on arrival: (state, reason); (None, "") before the first or for unknown text
        self.navigation: tuple[NavigationState | None, str] = (None, "")
        self.speed = math.inf
        self.costmap: tuple[np.ndarray, float, float, float] | None = None
        self._image_wall: dict[int, float] = {}
        self._pending_costmaps: list[tuple[int, float]] = []
        self.goal_publisher = self.create_publisher(PoseStamped, "goal_pose", qos.for_topic("goal_pose"))
        sub = self.create_subscription
        sub(Odometry, "ground_truth/odom", self._on_truth, qos.for_topic("ground_truth/odom"))
        sub(Odometry, "odom", self._on_odom, qos.for_topic("odom"))
        sub(MarkerArray, "sim/contacts", self._on_contacts, qos.for_topic("sim/contacts"))
        sub(PathMsg, "plan", self._on_plan, qos.for_topic("plan"))
        sub(String, "navigation/state", self._on_state, qos.for_topic("navigation/state"))
        sub(OccupancyGrid, "terrain/costmap", self._on_costmap, qos.for_topic("terrain/costmap"))
        sub(Image, "stereo/left/image_rect", self._on_image, qos.for_topic("stereo/left/image_rect"))
        sub(TwistStamped, "cmd_vel", self._on_cmd_vel, qos.for_topic("cmd_vel"))

    # -- observations --------------------------------------------------------------------------
    def _on_truth(self, msg: Odometry) -> None:
        data = odometry_to_data(msg)
        self.sim_time = data.stamp_ns * 1e-9
        if self.start_sim_time is None:
            self.start_sim_time = self.sim_time
        self.speed = float(np.linalg.norm(data.linear[:2]))
        self.log.add_truth(self.sim_time, data.position, data.quaternion)

    def _on_odom(self, msg: Odometry) -> None:
        try:
            data = odometry_to_data(msg)
        except ConversionError:
            return  # a broken odometry shows up as drift in the report
        self.log.add_odometry(data.stamp_ns * 1e-9, data.position)

    def _on_contacts(self, msg: MarkerArray) -> None:
        self.log.add_contacts([(m.ns, m.text) for m in msg.markers])

    def _on_plan(self, msg: PathMsg) -> None:
        points = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses]).reshape(-1, 2)
        if points.size:
            self.log.plans.append(points)

    def _on_state(self, msg: String) -> None:
        self.state = msg.data
        self.log.add_state(self.sim_time, msg.data)
        self.navigation = parse_state(msg.data) or (None, "")

    def _on_image(self, msg: Image) -> None:
        self._image_wall[stamp_to_ns(msg.header.stamp)] = time.monotonic()

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            costs, geometry = grid_to_array(msg)
        except ConversionError:
            return
        self.costmap = (costs.copy(), geometry.resolution, geometry.origin_x, geometry.origin_y)
        stamp = stamp_to_ns(msg.header.stamp)
        image_wall = self._image_wall.pop(stamp, None)
        for older in [t for t in self._image_wall if t < stamp]:
            del self._image_wall[older]  # frames the mapper never answered
        # Only a costmap the follower acts on (it is following a plan) leads to a command computed
        # from it; before the first plan (or after the last) the next cmd_vel would time planning.
        if image_wall is not None and self.navigation[0] in FOLLOWING_STATES:
            self._pending_costmaps.append((stamp, image_wall))

    def _on_cmd_vel(self, msg: TwistStamped) -> None:
        # Latency: stereo pair received -> first command after the costmap that includes that pair.
        now = time.monotonic()
        for _, image_wall in self._pending_costmaps:
            self.log.latencies_ms.append(1000.0 * (now - image_wall))
        self._pending_costmaps.clear()

    def send_goal(self, goal: tuple[float, float]) -> None:
        x0, y0, _ = self.log.map_to_odom
        yaw = math.atan2(goal[1] - y0, goal[0] - x0)
        stamp = int(self.sim_time * 1e9)
        self.goal_publisher.publish(make_pose_stamped([*goal, 0.0], yaw_to_quaternion(yaw), stamp, "map"))


class SupervisorContext:
    """The supervisor, and a recorder when the mission is recorded, in an rclpy context of their own."""

    def __init__(self, log: MissionLog):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.supervisor = MissionSupervisor(log, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.supervisor)
        self.recorder = None

    def add_recorder(self, writer) -> None:
        """Record the contract's topics into ``writer`` (a :class:`~rover_autonomy.replay.bag.BagWriter`)."""
        from rover_autonomy.replay.recorder_node import Recorder, recordable_topics

        self.recorder = Recorder(writer, recordable_topics(), use_sim_time=True, context=self.context)
        self.executor.add_node(self.recorder)

    def spin_once(self, timeout: float) -> None:
        self.executor.spin_once(timeout_sec=timeout)

    def close(self) -> None:
        """Destroy the nodes (the recorder finishes its bag first) and shut the context down."""
        self.executor.remove_node(self.supervisor)
        self.supervisor.destroy_node()
        if self.recorder is not None:
            self.executor.remove_node(self.recorder)
            self.recorder.close()
            self.recorder.destroy_node()
        self.executor.shutdown()
        rclpy.try_shutdown(context=self.context)
