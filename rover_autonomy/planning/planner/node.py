"""Node ``path_planner``: goals → optimal plans on ``terrain/costmap``, kept current by replanning.

Subscribes ``goal_pose`` (geometry_msgs/PoseStamped in ``map`` or ``odom``; ``map → odom`` is the
``map_to_odom`` parameter), ``terrain/costmap`` (nav_msgs/OccupancyGrid, rover-centre cost space, used as is),
``odom`` (nav_msgs/Odometry) and ``navigation/state`` (the follower's ``blocked: hazard…`` asks for a new plan,
``reached`` ends the goal) and ``navigation/keep_out`` (geometry_msgs/PointStamped in ``map`` or ``odom``:
a place the follower got stuck; cells within ``keep_out_radius`` of it are lethal to every later plan,
and an active goal is replanned). Publishes ``plan`` (nav_msgs/Path in ``odom``; an empty path
withdraws the plan) and ``navigation/plan_status`` (std_msgs/String, latched: ``planning``, ``planned: …``,
``failed: <reason>``, ``idle: …``), which the follower folds into ``navigation/state``. Serves
``navigation/cancel`` (std_srvs/Trigger).

The decisions (when to plan, wait, replan or fail) are :class:`~.goal_planner.GoalPlanner`'s; this node
converts the messages for it and performs the actions it returns.
"""

from __future__ import annotations

import math

from geometry_msgs.msg import PointStamped, PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from std_msgs.msg import String
from std_srvs.srv import Trigger

from rover_autonomy.contract import PLAN_STATUS_TOPIC
from rover_autonomy.planning.actions import Healthy, Info, Warn
from rover_autonomy.planning.planner.goal_planner import (
    SEARCH_PARAMETERS,
    GoalPlanner,
    GoalPlannerConfig,
    PublishPlan,
    PublishStatus,
    make_global_planner,
)
from rover_autonomy.planning.planner.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    costmap_to_array,
    odometry_to_data,
    points_to_path,
    pose_to_arrays,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import OK, RoverNode, run_node


class PathPlannerNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        problem = self.check_parameters(vars(self.params))
        if problem:
            raise ValueError(problem)
        values = vars(self.params)
        self._core = GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))

        self._plan_pub = self.create_publisher(Path, "plan", qos.for_topic("plan"))
        self._status_pub = self.create_publisher(String, PLAN_STATUS_TOPIC, qos.profile("latched"))
        self.create_subscription(PoseStamped, "goal_pose", self._on_goal, qos.for_topic("goal_pose"))
        self.create_subscription(
            OccupancyGrid, "terrain/costmap", self._on_costmap, qos.for_topic("terrain/costmap")
        )
        self.create_subscription(Odometry, "odom", self._on_odom, qos.for_topic("odom"))
        self.create_subscription(
            String, "navigation/state", self._on_state, qos.for_topic("navigation/state")
        )
        self.create_subscription(
            PointStamped, "navigation/keep_out", self._on_keep_out, qos.for_topic("navigation/keep_out")
        )
        self.create_service(Trigger, "navigation/cancel", self._on_cancel)
        self._perform(self._core.start())

    def check_parameters(self, values: dict) -> str | None:
        m2o = values["map_to_odom"]
        if len(m2o) != 3 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in m2o):
            return "map_to_odom must be three finite numbers [x, y, yaw]"
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        values = vars(self.params)
        self._core.config = GoalPlannerConfig.from_parameters(values)
        if SEARCH_PARAMETERS & set(changed):
            self._perform(self._core.replace_planner(make_global_planner(values)))

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # -- inputs -------------------------------------------------------------------------------
    def _on_goal(self, msg: PoseStamped) -> None:
        try:
            position, _ = pose_to_arrays(msg.pose)
        except ConversionError as err:
            self._perform(self._core.refuse_goal(str(err)))
            return
        self._perform(self._core.set_goal(msg.header.frame_id, position[0], position[1], self._now_ns()))

    def _on_keep_out(self, msg: PointStamped) -> None:
        p = msg.point
        self._perform(self._core.add_keep_out(msg.header.frame_id, p.x, p.y, self._now_ns()))

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            costs, grid = costmap_to_array(msg)
        except ConversionError as err:
            self.warn_throttled("costmap", f"costmap dropped: {err}")
            return
        stamp = stamp_to_ns(msg.header.stamp)
        self._perform(self._core.set_costmap(costs, grid, stamp, self._now_ns()))

    def _on_odom(self, msg: Odometry) -> None:
        try:
            data = odometry_to_data(msg)
        except ConversionError as err:
            # The follower stops the rover on it; the plan stays for when odometry is sane again.
            self._core.odometry_unusable()
            self.warn_throttled("odom", f"odometry dropped: {err}")
            return
        x, y = float(data.position[0]), float(data.position[1])
        self._perform(self._core.set_pose(x, y, data.stamp_ns, self._now_ns()))

    def _on_state(self, msg: String) -> None:
        self._perform(self._core.on_navigation_state(msg.data, self._now_ns()))

    def _on_cancel(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        had_goal = self._core.has_goal
        self._perform(self._core.cancel())
        response.success = True
        response.message = "goal cancelled" if had_goal else "no goal was active"
        return response

    # -- outputs ------------------------------------------------------------------------------
    def _perform(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, PublishPlan):
                self._plan_pub.publish(points_to_path(action.points, action.stamp_ns, "odom"))
            elif isinstance(action, PublishStatus):
                self._status_pub.publish(String(data=action.text))
            elif isinstance(action, Healthy):
                self.set_status(OK, action.message, **action.values)
            elif isinstance(action, Warn):
                # One severity only: rclpy refuses a log call site that changes severity (node_base logs
                # all levels from one line), which would kill the node.
                self.warn_throttled(action.key, action.message)
            elif isinstance(action, Info):
                self.get_logger().info(action.message)
            else:
                raise TypeError(f"unknown planner action {action!r}")


def main(args=None) -> int:
    return run_node(PathPlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
