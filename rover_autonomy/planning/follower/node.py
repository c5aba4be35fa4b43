"""Node ``path_follower``: drives the plan with arc-based hazard avoidance; owns ``navigation/state``.

Subscribes ``plan`` (nav_msgs/Path; an empty path withdraws it), ``terrain/costmap``, ``odom``,
``emergency_stop`` (std_msgs/Bool, latched: true halts at once until false) and the planner's
``navigation/plan_status``. On every odometry message (at most every ``control_period`` of odometry time)
and on every costmap (from the latest pose) it runs one :class:`ArcFollower` decision and publishes
``cmd_vel`` (geometry_msgs/TwistStamped in ``base_link`` stamped with the odometry stamp, or
geometry_msgs/Twist when ``cmd_vel_stamped`` is false).

``navigation/state`` (std_msgs/String, latched) is ``<state>`` or ``<state>: <reason>`` with state one of
idle, planning, driving, recovering, blocked, reached, failed. ``blocked: hazard…`` asks the planner for a
new plan. Whenever the rover must not move (no plan, emergency stop, no or stale costmap, odometry lost or
not finite, nothing safe to drive) a zero twist is sent and the state says why.

When the odometry shows the rover not moving while it is told to (:class:`~.recovery.StuckMonitor`) it is
``recovering``: it backs straight up over mapped ground, publishes the place on ``navigation/keep_out``
(geometry_msgs/PointStamped in ``odom``), drops the plan and waits for the planner's plan around it.
"""

from __future__ import annotations

from geometry_msgs.msg import PointStamped, Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from std_msgs.msg import Bool, String

from rover_autonomy.geometry import GridGeometry, quaternion_to_yaw
from rover_autonomy.planning.arc_follower import ArcFollower, Decision, FollowerConfig
from rover_autonomy.planning.follower.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.planning.follower.recovery import (
    Backup,
    BackupConfig,
    StuckConfig,
    StuckMonitor,
    reverse_clearance,
)
from rover_autonomy.planning.planner.node import PLAN_STATUS_TOPIC, costmap_from_message, path_to_points
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import ConversionError, ns_to_stamp, odometry_to_data, stamp_to_ns
from rover_autonomy.ros_common.node_base import OK, WARN, RoverNode, run_node
from rover_autonomy.rover_model import load_rover_model


class PathFollowerNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        self._model = load_rover_model()
        self._follower = ArcFollower(self._make_config(vars(self.params)))
        self._costmap = None
        self._geometry: GridGeometry | None = None
        self._costmap_stamp: int | None = None
        self._last_odom_stamp: int | None = None
        self._last_decision_stamp: int | None = None
        self._odom_received_at: int | None = None  # node clock [ns] when odometry last arrived
        self._estop = False
        self._active = False  # a plan is being followed
        self._state = ""
        self._pose: tuple[float, float, float] | None = None  # (x, y, yaw) in odom, last odometry
        self._stuck = self._stuck_monitor(vars(self.params))
        self._backup: Backup | None = None
        self._stuck_place: tuple[float, float] | None = None

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
        self._set_state("idle")

    def _make_config(self, values: dict) -> FollowerConfig:
        limits = self._model.limits
        # The rover model's navigation limits are ceilings: a parameter can only lower them.
        max_speed = min(values["max_speed"] or limits.max_speed, limits.max_speed)
        max_yaw_rate = min(values["max_yaw_rate"] or limits.max_yaw_rate, limits.max_yaw_rate)
        return FollowerConfig(
            max_speed=max_speed,
            max_yaw_rate=max_yaw_rate,
            min_turn_radius=self._model.min_turn_radius,
            arcs=values["arcs"],
            horizon=values["horizon"],
            lookahead=values["lookahead"],
            min_safe_length=values["min_safe_length"],
            max_cost=values["max_cost"],
            unknown_cost=values["unknown_cost"] if values["allow_unknown"] else None,
            progress_weight=values["progress_weight"],
            cost_weight=values["cost_weight"],
            path_weight=values["path_weight"],
            clearance_weight=values["clearance_weight"],
            point_turn_angle=values["point_turn_angle"],
            point_turn_max_cost=values["max_cost"],
            cost_slowdown=values["cost_slowdown"],
            turn_slowdown=values["turn_slowdown"],
            min_speed=min(values["min_speed"], max_speed),
            escape_length=values["escape_length"],
            goal_tolerance=values["goal_tolerance"],
        )

    @staticmethod
    def _stuck_config(values: dict) -> StuckConfig | None:
        if values["stuck_window"] <= 0:
            return None
        return StuckConfig(window=values["stuck_window"], progress_fraction=values["stuck_progress"])

    def _stuck_monitor(self, values: dict) -> StuckMonitor | None:
        config = self._stuck_config(values)
        return StuckMonitor(config) if config is not None else None

    def _backup_config(self) -> BackupConfig:
        return BackupConfig(distance=self.params.backup_distance, speed=self.params.backup_speed)

    def check_parameters(self, values: dict) -> str | None:
        try:
            self._make_config(values)
            self._stuck_config(values)
        except ValueError as err:
            return str(err)
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        plan = self._follower.plan
        self._follower = ArcFollower(self._make_config(vars(self.params)))
        self._follower.set_plan(plan)
        self._stuck = self._stuck_monitor(vars(self.params))

    # -- inputs -------------------------------------------------------------------------------
    def _on_plan(self, msg: Path) -> None:
        try:
            points = path_to_points(msg)
        except ConversionError as err:
            self._halt("failed", f"plan rejected: {err}")
            self._follower.clear()
            self._active = False
            return
        if len(points) == 0:
            self._follower.clear()
            if self._active:
                self._active = False
                self._send(0.0, 0.0, self._last_odom_stamp or 0)
            return
        if msg.header.frame_id.lstrip("/") != "odom":
            self._halt("failed", f"plan rejected: frame {msg.header.frame_id!r}, expected odom")
            return
        self._follower.set_plan(points)
        self._last_decision_stamp = None
        if self._backup is not None:
            return  # dropped once backed up: the planner then plans around the stuck place
        self._active = True
        if not self._estop:
            self._set_state("driving")

    def _on_plan_status(self, msg: String) -> None:
        state, _, reason = msg.data.partition(":")
        state = state.strip()
        if state == "failed":
            self._active = False
            self._follower.clear()
            self._halt("failed", reason.strip())
        elif state == "planning" and not self._active:
            self._set_state("planning")
        elif state == "idle" and "cancel" in reason:
            self._active = False
            self._follower.clear()
            self._halt("idle", "cancelled")

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            self._costmap, self._geometry = costmap_from_message(msg)
        except ConversionError as err:
            self.warn_throttled("costmap", f"costmap dropped: {err}")
            return
        self._costmap_stamp = stamp_to_ns(msg.header.stamp)
        # New terrain is decided on at once, from the latest pose, rather than at the next control
        # period: a hazard the frame revealed is acted on, and a frame reaches cmd_vel in the time
        # perception and mapping take.
        if self._pose is not None and self._active and not self._estop:
            self._decide(self._pose, self._last_odom_stamp)

    def _on_estop(self, msg: Bool) -> None:
        self._estop = bool(msg.data)
        if self._estop:
            self._halt("blocked", "emergency stop")
        elif self._active:
            self._set_state("driving")

    def _on_odom(self, msg: Odometry) -> None:
        self._odom_received_at = self.get_clock().now().nanoseconds
        stamp = stamp_to_ns(msg.header.stamp)
        try:
            data = odometry_to_data(msg)
        except ConversionError as err:
            self._last_odom_stamp = stamp
            self._pose = None
            if self._active:
                self._halt("blocked", f"odometry unusable: {err}", stamp)
            return
        self._last_odom_stamp = stamp
        self._pose = (float(data.position[0]), float(data.position[1]), quaternion_to_yaw(data.quaternion))
        if not self._active:
            return
        if self._estop:
            self._halt("blocked", "emergency stop", stamp)
            return
        last = self._last_decision_stamp
        if last is not None and 0 <= stamp - last < self.params.control_period * 1e9:
            return
        self._decide(self._pose, stamp)

    def _decide(self, pose: tuple[float, float, float], stamp: int) -> None:
        """One decision at the odometry stamp ``stamp`` [ns]: drive, back up, or stop and say why."""
        self._last_decision_stamp = stamp
        if self._costmap is None:
            self._halt("blocked", "no costmap received yet", stamp)
            return
        age = (stamp - self._costmap_stamp) * 1e-9
        if age > self.params.costmap_timeout:
            self._halt(
                "blocked", f"costmap is {age:.1f} s old (limit {self.params.costmap_timeout:.1f} s)", stamp
            )
            return
        if self._backup is not None:
            self._back_up(pose, stamp)
            return
        decision = self._follower.decide(pose, self._costmap, self._geometry)
        self._act(decision, stamp)
        if self._stuck is not None and self._active:
            moving = decision.status in ("driving", "turning")
            why = self._stuck.observe(stamp * 1e-9, pose[0], pose[1], decision.vx if moving else 0.0)
            if why:
                self._start_backup(pose, stamp, why)

    # -- getting unstuck ------------------------------------------------------------------------
    def _start_backup(self, pose: tuple[float, float, float], stamp: int, why: str) -> None:
        x, y, _ = pose
        self._stuck_place = (x, y)
        config = self._backup_config()
        length = reverse_clearance(pose, self._costmap, self._geometry, config.distance)
        self.warn_throttled("stuck", f"stuck at ({x:.2f}, {y:.2f}) in odom: {why}; backing up {length:.2f} m")
        if length < config.min_distance:
            self._end_recovery(stamp, f"no room to back up ({length:.2f} m clear behind)")
            return
        self._backup = Backup(config, stamp * 1e-9, (x, y), length)
        self._set_state(f"recovering: stuck at ({x:.2f}, {y:.2f}) in odom ({why}); backing up {length:.1f} m")
        self._back_up(pose, stamp)

    def _back_up(self, pose: tuple[float, float, float], stamp: int) -> None:
        vx, outcome = self._backup.step(stamp * 1e-9, pose[0], pose[1])
        if outcome is None:
            self._send(vx, 0.0, stamp)
        else:
            self._end_recovery(stamp, "backed up" if outcome == "done" else "backing up timed out")

    def _end_recovery(self, stamp: int, how: str) -> None:
        """Stop, drop the plan and ask for one around the stuck place (the planner answers on keep_out)."""
        self._backup = None
        self._follower.clear()
        self._active = False
        x, y = self._stuck_place
        self._halt("blocked", f"stuck at ({x:.2f}, {y:.2f}), {how}: planning around it", stamp)
        place = PointStamped()
        place.header.stamp = ns_to_stamp(stamp)
        place.header.frame_id = "odom"
        place.point.x, place.point.y = x, y
        self._keep_out_pub.publish(place)

    def _watchdog(self) -> None:
        """Odometry lost: stop and say so (the only check driven by the node clock)."""
        if not self._active or self._odom_received_at is None:
            return
        silent = (self.get_clock().now().nanoseconds - self._odom_received_at) * 1e-9
        if silent > self.params.odom_timeout:
            limit = self.params.odom_timeout
            self._halt(
                "blocked", f"odometry lost: none for more than {limit:.2f} s", self._last_odom_stamp or 0
            )

    # -- outputs ------------------------------------------------------------------------------
    def _act(self, decision: Decision, stamp: int) -> None:
        if decision.status in ("driving", "turning"):
            self._send(decision.vx, decision.wz, stamp)
            self._set_state("driving")
            self.set_status(
                OK,
                "driving",
                vx=f"{decision.vx:.3f}",
                wz=f"{decision.wz:.3f}",
                safe_arcs=decision.safe_arcs,
                distance_to_goal=f"{decision.distance_to_goal:.2f}",
            )
        elif decision.status == "reached":
            self._send(0.0, 0.0, stamp)
            self._active = False
            self._follower.clear()
            self._set_state(f"reached: {decision.reason}")
            self.set_status(OK, f"goal reached ({decision.reason})")
        else:
            self._halt("blocked", decision.reason, stamp, judging_progress=True)

    def _halt(
        self, state: str, reason: str, stamp: int | None = None, judging_progress: bool = False
    ) -> None:
        """Stop the rover. Unless the stop is a decision of the follower (``judging_progress``), it also
        ends a backup and restarts the stuck judgement: the rover was not trying to move."""
        if not judging_progress:
            self._backup = None
            if self._stuck is not None:
                self._stuck.reset()
        self._send(0.0, 0.0, (self._last_odom_stamp or 0) if stamp is None else stamp)
        self._set_state(f"{state}: {reason}" if reason else state)
        if state != "idle":
            self.warn_throttled(f"{state}:{reason}", f"rover stopped: {state}: {reason}", level=WARN)

    def _send(self, vx: float, wz: float, stamp: int) -> None:
        twist = Twist()
        twist.linear.x = float(vx)
        twist.angular.z = float(wz)
        if self.params.cmd_vel_stamped:
            msg = TwistStamped()
            msg.header.stamp = ns_to_stamp(stamp)
            msg.header.frame_id = "base_link"
            msg.twist = twist
            self._cmd_pub.publish(msg)
        else:
            self._cmd_pub.publish(twist)

    def _set_state(self, text: str) -> None:
        if text != self._state:
            self._state = text
            self._state_pub.publish(String(data=text))
            self.get_logger().info(f"navigation state: {text}")


def main(args=None) -> int:
    return run_node(PathFollowerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
