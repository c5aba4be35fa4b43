"""Node ``path_follower``: drives the plan with arc-based hazard avoidance; owns ``navigation/state``.

Subscribes ``plan`` (nav_msgs/Path; an empty path withdraws it), ``terrain/costmap``, ``odom``,
``emergency_stop`` (std_msgs/Bool, latched: true halts at once until false) and the planner's
``navigation/plan_status``. On every odometry message (at most every ``control_period`` of odometry time)
and on every costmap (from the latest pose) it runs one :class:`ArcFollower` decision and publishes
``cmd_vel`` (geometry_msgs/TwistStamped in ``base_link`` stamped with the odometry stamp, or
geometry_msgs/Twist when ``cmd_vel_stamped`` is false).

``navigation/state`` (std_msgs/String, latched) is ``<state>`` or ``<state>: <reason>`` with state one of
:class:`~rover_autonomy.contract.NavigationState`. ``blocked: hazard…`` asks the planner for a new plan.
Whenever the rover must not move (no plan, emergency stop, no or stale costmap, odometry lost or not
finite, nothing safe to drive) a zero twist is sent and the state says why. A stuck rover backs up and
publishes the place on ``navigation/keep_out`` (geometry_msgs/PointStamped in ``odom``).

The decisions are :class:`~.navigator.Navigator`'s; this node converts the messages for it and performs
the actions it returns.
"""

from __future__ import annotations

from geometry_msgs.msg import PointStamped, Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from std_msgs.msg import Bool, String

from rover_autonomy.contract import PLAN_STATUS_TOPIC
from rover_autonomy.geometry import quaternion_to_yaw
from rover_autonomy.planning.actions import Healthy, Warn
from rover_autonomy.planning.follower.navigator import (
    Command,
    KeepOut,
    Navigator,
    NavigatorConfig,
    PublishState,
)
from rover_autonomy.planning.follower.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    costmap_to_array,
    ns_to_stamp,
    odometry_to_data,
    path_to_points,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import OK, WARN, RoverNode, run_node
from rover_autonomy.rover_model import load_rover_model


class PathFollowerNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        self._model = load_rover_model()
        self._core = Navigator(NavigatorConfig.from_parameters(vars(self.params), self._model))

        twist_type = TwistStamped if self.params.cmd_vel_stamped else Twist
        self._cmd_pub = self.create_publisher(twist_type, "cmd_vel", qos.for_topic("cmd_vel"))
        self._state_pub = self.create_publisher(String, "navigation/state", qos.for_topic("navigation/state"))
        self._keep_out_pub = self.create_publisher(
            PointStamped, "navigation/keep_out", qos.for_topic("navigation/keep_out")
        )
        self.create_subscription(Path, "plan", self._on_plan, qos.for_topic("plan"))
        self.create_subscription(
            OccupancyGrid, "terrain/costmap", self._on_costmap, qos.for_topic("terrain/costmap")
        )
        self.create_subscription(Odometry, "odom", self._on_odom, qos.for_topic("odom"))
        self.create_subscription(Bool, "emergency_stop", self._on_estop, qos.for_topic("emergency_stop"))
        self.create_subscription(String, PLAN_STATUS_TOPIC, self._on_plan_status, qos.profile("latched"))
        self.create_timer(0.1, self._watchdog)
        self._perform(self._core.start())

    def check_parameters(self, values: dict) -> str | None:
        try:
            NavigatorConfig.from_parameters(values, self._model)
        except ValueError as err:
            return str(err)
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        self._core.reconfigure(NavigatorConfig.from_parameters(vars(self.params), self._model))

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # -- inputs -------------------------------------------------------------------------------
    def _on_plan(self, msg: Path) -> None:
        try:
            points = path_to_points(msg)
        except ConversionError as err:
            self._perform(self._core.refuse_plan(str(err)))
            return
        self._perform(self._core.set_plan(points, msg.header.frame_id))

    def _on_plan_status(self, msg: String) -> None:
        self._perform(self._core.on_plan_status(msg.data))

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            costs, grid = costmap_to_array(msg)
        except ConversionError as err:
            self.warn_throttled("costmap", f"costmap dropped: {err}")
            return
        stamp = stamp_to_ns(msg.header.stamp)
        self._perform(self._core.set_costmap(costs, grid, stamp))

    def _on_estop(self, msg: Bool) -> None:
        self._perform(self._core.set_emergency_stop(bool(msg.data)))

    def _on_odom(self, msg: Odometry) -> None:
        received_at = self._now_ns()
        stamp = stamp_to_ns(msg.header.stamp)
        try:
            data = odometry_to_data(msg)
        except ConversionError as err:
            self._perform(self._core.odometry_unusable(stamp, str(err), received_at))
            return
        x, y, yaw = float(data.position[0]), float(data.position[1]), quaternion_to_yaw(data.quaternion)
        self._perform(self._core.set_pose(x, y, yaw, stamp, received_at))

    def _watchdog(self) -> None:
        self._perform(self._core.check_odometry(self._now_ns()))

    # -- outputs ------------------------------------------------------------------------------
    def _perform(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, Command):
                self._send(action)
            elif isinstance(action, PublishState):
                self._state_pub.publish(String(data=action.text))
                self.get_logger().info(f"navigation state: {action.text}")
            elif isinstance(action, KeepOut):
                place = PointStamped()
                place.header.stamp = ns_to_stamp(action.stamp_ns)
                place.header.frame_id = "odom"
                place.point.x, place.point.y = action.x, action.y
                self._keep_out_pub.publish(place)
            elif isinstance(action, Healthy):
                self.set_status(OK, action.message, **action.values)
            elif isinstance(action, Warn):
                self.warn_throttled(action.key, action.message, level=WARN)
            else:
                raise TypeError(f"unknown follower action {action!r}")

    def _send(self, command: Command) -> None:
        twist = Twist()
        twist.linear.x = float(command.vx)
        twist.angular.z = float(command.wz)
        if self.params.cmd_vel_stamped:
            msg = TwistStamped()
            msg.header.stamp = ns_to_stamp(command.stamp_ns)
            msg.header.frame_id = "base_link"
            msg.twist = twist
            self._cmd_pub.publish(msg)
        else:
            self._cmd_pub.publish(twist)


def main(args=None) -> int:
    return run_node(PathFollowerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
