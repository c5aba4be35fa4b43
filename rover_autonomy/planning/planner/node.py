"""Node ``path_planner``: goals → optimal plans on ``terrain/costmap``, kept current by replanning.

Subscribes ``goal_pose`` (geometry_msgs/PoseStamped in ``map`` or ``odom``; ``map → odom`` is the
``map_to_odom`` parameter), ``terrain/costmap`` (nav_msgs/OccupancyGrid, rover-centre cost space, used as is),
``odom`` (nav_msgs/Odometry) and ``navigation/state`` (the follower's ``blocked: hazard…`` asks for a new plan,
``reached`` ends the goal) and ``navigation/keep_out`` (geometry_msgs/PointStamped in ``map`` or ``odom``:
a place the follower got stuck; cells within ``keep_out_radius`` of it are lethal to every later plan,
and an active goal is replanned). Publishes ``plan`` (nav_msgs/Path in the costmap's frame; an empty path
withdraws the plan) and ``navigation/plan_status`` (std_msgs/String, latched: ``planning``, ``planned: …``,
``failed: <reason>``, ``idle: …``), which the follower folds into ``navigation/state``. Serves
``navigation/cancel`` (std_srvs/Trigger).

Replans, reusing the previous search where the core can (``GlobalPlanner.replan``): on every costmap
update, when the rover is more than ``max_path_deviation`` from the plan, when the follower reports
``blocked`` (in full), and every ``replan_period`` seconds (in full, which restores optimality after local
repairs). Times compare input stamps (costmap and odometry), so a replay plans the same.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from geometry_msgs.msg import PointStamped, PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from std_msgs.msg import String
from std_srvs.srv import Trigger

from rover_autonomy.geometry import GridGeometry, quaternion_to_yaw, yaw_to_quaternion
from rover_autonomy.planning.arc_follower import HAZARD
from rover_autonomy.planning.costs import CostModel
from rover_autonomy.planning.global_planner import GlobalPlanner, cover, keep_out
from rover_autonomy.planning.planner.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    grid_to_array,
    make_pose_stamped,
    ns_to_stamp,
    odometry_to_data,
    pose_to_arrays,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import OK, RoverNode, run_node

PLAN_STATUS_TOPIC = "navigation/plan_status"
NO_COSTMAP_YET = "no costmap received yet"
NO_ODOMETRY_YET = "no odometry received yet"
ODOMETRY_LOST = "odometry lost"
MAX_KEEP_OUT = 32  # keep-out places remembered (oldest forgotten first)


class PathPlannerNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        problem = self.check_parameters(vars(self.params))
        if problem:
            raise ValueError(problem)
        self._planner = self._make_planner()
        self._waiting_for: str | None = None  # a goal waits for its first costmap or pose
        self._costmap_stamp: int | None = None
        self._costmap: tuple[np.ndarray, GridGeometry] | None = None  # as received
        self._costmap_frame = ""
        self._pose: tuple[float, float, float] | None = None
        self._pose_stamp: int | None = None
        self._goal: tuple[float, float] | None = None  # in the costmap frame (odom)
        self._goal_text = ""
        self._last_full_plan: int | None = None  # odometry stamp of the last full plan [ns]
        self._plan_points: np.ndarray | None = None
        self._status_text = ""
        self._keep_out: deque[tuple[float, float]] = deque(maxlen=MAX_KEEP_OUT)  # in odom

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
        self._publish_status("idle")

    def _make_planner(self) -> GlobalPlanner:
        p = self.params
        model = CostModel(
            weight=p.cost_weight,
            unknown_cost=p.unknown_cost if p.allow_unknown else None,
            lethal_cost=p.lethal_cost,
        )
        return GlobalPlanner(
            model,
            block=p.heuristic_block,
            repair_margin=p.repair_margin,
            start_escape_radius=p.start_escape_radius,
        )

    def check_parameters(self, values: dict) -> str | None:
        m2o = values["map_to_odom"]
        if len(m2o) != 3 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in m2o):
            return "map_to_odom must be three finite numbers [x, y, yaw]"
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        planner_keys = {
            "cost_weight",
            "unknown_cost",
            "allow_unknown",
            "lethal_cost",
            "heuristic_block",
            "repair_margin",
            "start_escape_radius",
        }
        if planner_keys & set(changed):
            self._planner = self._make_planner()
            self._costmap_stamp = None  # the next costmap is taken afresh
            if self._goal is not None:
                self._fail("planner parameters changed: waiting for the next costmap")

    # -- inputs -------------------------------------------------------------------------------
    def _on_goal(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id.lstrip("/")
        try:
            position, _ = pose_to_arrays(msg.pose)
        except ConversionError as err:
            self._fail(f"goal rejected: {err}")
            return
        goal = self._to_odom(frame, position[0], position[1])
        if goal is None:
            self._fail(f"goal rejected: unknown frame {msg.header.frame_id!r} (use map or odom)")
            return
        if self._pose is not None:
            distance = math.hypot(goal[0] - self._pose[0], goal[1] - self._pose[1])
            if distance > self.params.max_goal_distance:
                self._fail(
                    f"goal ({position[0]:.2f}, {position[1]:.2f}) is outside the map: {distance:.0f} m away"
                    f" (max_goal_distance {self.params.max_goal_distance:g} m)"
                )
                return
        self._goal = goal
        self._goal_text = f"({position[0]:.2f}, {position[1]:.2f}) in {frame}"
        self.get_logger().info(f"new goal {self._goal_text}")
        self._install_costmap()
        self._plan_full()

    def _to_odom(self, frame: str, x: float, y: float) -> tuple[float, float] | None:
        """A point of ``map`` or ``odom`` in odom (``map_to_odom``); None for any other frame."""
        if frame == "odom":
            return float(x), float(y)
        if frame == "map":
            x0, y0, yaw = (float(v) for v in self.params.map_to_odom)
            dx, dy = x - x0, y - y0
            return math.cos(yaw) * dx + math.sin(yaw) * dy, -math.sin(yaw) * dx + math.cos(yaw) * dy
        return None

    def _on_keep_out(self, msg: PointStamped) -> None:
        p = msg.point
        place = self._to_odom(msg.header.frame_id.lstrip("/"), p.x, p.y)
        if place is None or not all(math.isfinite(v) for v in place):
            self.warn_throttled(
                "keep_out",
                f"navigation/keep_out refused: frame {msg.header.frame_id!r}, point ({p.x}, {p.y})",
            )
            return
        self._keep_out.append(place)
        self.get_logger().info(f"keeping out of ({place[0]:.2f}, {place[1]:.2f}) in odom")
        self._install_costmap()
        if self._goal is not None:
            self._plan_full()

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            costs, geometry = costmap_from_message(msg)
        except ConversionError as err:
            self.warn_throttled("costmap", f"costmap dropped: {err}")
            return
        self._costmap = (costs, geometry)
        self._install_costmap()
        self._costmap_stamp = stamp_to_ns(msg.header.stamp)
        self._costmap_frame = "odom"
        if self._goal is not None:
            self._replan()

    def _on_odom(self, msg: Odometry) -> None:
        try:
            data = odometry_to_data(msg)
        except ConversionError as err:
            # The follower stops the rover on it; the plan stays for when odometry is sane again.
            self._pose = None
            self.warn_throttled("odom", f"odometry dropped: {err}")
            return
        self._pose = (float(data.position[0]), float(data.position[1]), quaternion_to_yaw(data.quaternion))
        self._pose_stamp = data.stamp_ns
        if self._goal is not None and self._waiting_for is not None:
            self._plan_full()
            return
        if self._goal is None or self._plan_points is None:
            return
        period = self.params.replan_period
        if (
            period > 0
            and self._last_full_plan is not None
            and data.stamp_ns - self._last_full_plan >= period * 1e9
        ):
            self._plan_full()
            return
        d = np.hypot(self._plan_points[:, 0] - self._pose[0], self._plan_points[:, 1] - self._pose[1]).min()
        recent = self._last_full_plan is not None and (
            0 <= data.stamp_ns - self._last_full_plan < self.params.min_replan_interval * 1e9
        )
        if d > self.params.max_path_deviation and not recent:
            self.get_logger().info(f"rover {d:.2f} m off the plan: replanning")
            self._plan_full()

    def _on_state(self, msg: String) -> None:
        state, _, reason = msg.data.partition(":")
        state = state.strip()
        if self._goal is None:
            return
        if state == "reached":
            self._goal = None
            self._plan_points = None
            self._publish_plan(None)  # a follower (re)starting later must not pick the old plan up
            self._publish_status("idle: goal reached")
        elif state == "blocked" and reason.strip().startswith(HAZARD) and self._plan_points is not None:
            self.get_logger().info(f"follower {msg.data!r}: replanning")
            self._plan_full(only_if_changed=True)

    def _on_cancel(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        had_goal = self._goal is not None
        self._goal = None
        self._plan_points = None
        self._publish_plan(None)
        self._publish_status("idle: cancelled")
        response.success = True
        response.message = "goal cancelled" if had_goal else "no goal was active"
        return response

    # -- planning -----------------------------------------------------------------------------
    def _install_costmap(self) -> None:
        """Hand the planner the latest costmap, grown with unknown cells to hold the goal."""
        if self._costmap is None:
            return
        costs, geometry = self._costmap
        if self._goal is not None:
            costs, geometry = cover(costs, geometry, [self._goal], margin=2.0)
        costs = keep_out(costs, geometry, list(self._keep_out), self.params.keep_out_radius, spare=self._goal)
        self._planner.set_costmap(costs, geometry)

    def _ready(self) -> str | None:
        """Why planning cannot run now, or None."""
        if self._costmap_stamp is None:
            return NO_COSTMAP_YET
        if self._pose is None or self._pose_stamp is None:
            return NO_ODOMETRY_YET
        age = (self._pose_stamp - self._costmap_stamp) * 1e-9
        if age > self.params.costmap_timeout:
            return (
                f"costmap is {age:.1f} s older than the odometry (limit {self.params.costmap_timeout:.1f} s)"
            )
        now = self.get_clock().now().nanoseconds
        if now - self._pose_stamp > self.params.odom_timeout * 1e9 and now > self._pose_stamp:
            return f"{ODOMETRY_LOST}: last pose {(now - self._pose_stamp) * 1e-9:.1f} s old"
        return None

    def _wait_or_fail(self, problem: str | None) -> bool:
        """True when planning cannot run now. Missing or late odometry and a missing first costmap are
        waited for (the goal is planned when the input arrives; the follower stops the rover meanwhile);
        anything else fails the goal."""
        self._waiting_for = None
        if problem is None:
            return False
        if problem in (NO_COSTMAP_YET, NO_ODOMETRY_YET) or problem.startswith(ODOMETRY_LOST):
            self._waiting_for = problem
            self._publish_status(f"planning: waiting: {problem}")
        else:
            self._fail(problem)
        return True

    def _plan_full(self, only_if_changed: bool = False) -> None:
        problem = self._ready()
        if self._wait_or_fail(problem):
            return
        self._publish_status("planning")
        result = self._planner.plan(self._pose[:2], self._goal)
        self._last_full_plan = self._pose_stamp
        if only_if_changed and result.ok and _is_tail_of(result.points, self._plan_points):
            # The follower stopped where the planner sees a way: republishing the same plan would
            # only make it try again at once. It re-evaluates on every odometry message anyway.
            self._publish_status(f"planned: unchanged, the follower reports {HAZARD}s on it")
            return
        self._take(result)

    def _replan(self) -> None:
        if self._plan_points is None:  # no current plan: nothing to reuse
            self._plan_full()
            return
        problem = self._ready()
        if self._wait_or_fail(problem):
            return
        result = self._planner.replan(self._pose[:2])
        if result.ok and result.method == "kept" and self._plan_points is not None:
            return  # the published plan still holds
        self._take(result)

    def _take(self, result) -> None:
        if not result.ok:
            self._fail(result.reason)
            return
        self._plan_points = result.points
        self._publish_plan(result.points)
        self.set_status(
            OK,
            f"plan to {self._goal_text}",
            cost=f"{result.cost:.2f}",
            cells=len(result.points),
            method=result.method,
        )
        self._publish_status(f"planned: {len(result.points)} cells, cost {result.cost:.1f} ({result.method})")

    def _fail(self, reason: str) -> None:
        """Withdraw the plan and say why: the follower stops and reports ``failed: <reason>``."""
        self._plan_points = None
        self._publish_plan(None)
        self._publish_status(f"failed: {reason}")
        # One severity only: rclpy refuses a log call site that changes severity (node_base logs all
        # levels from one line), which would kill the node.
        self.warn_throttled(reason, f"no plan: {reason}")

    # -- outputs ------------------------------------------------------------------------------
    def _publish_plan(self, points: np.ndarray | None) -> None:
        stamp = self._costmap_stamp or 0
        msg = points_to_path(points if points is not None else np.empty((0, 2)), stamp, "odom")
        self._plan_pub.publish(msg)

    def _publish_status(self, text: str) -> None:
        if text != self._status_text:
            self._status_text = text
            self._status_pub.publish(String(data=text))


def _is_tail_of(points: np.ndarray, previous: np.ndarray | None) -> bool:
    """True when ``points`` is the end of ``previous`` (the rover moved along an unchanged plan)."""
    if previous is None or len(points) == 0 or len(points) > len(previous):
        return False
    return bool(np.allclose(points, previous[-len(points) :]))


def costmap_from_message(msg: OccupancyGrid) -> tuple[np.ndarray, GridGeometry]:
    """Costs and planning geometry of a ``terrain/costmap`` message (in ``odom``, per the contract)."""
    costs, geo = grid_to_array(msg)
    if geo.frame_id.lstrip("/") != "odom":
        raise ConversionError(f"frame {geo.frame_id!r}, expected odom")
    return costs, GridGeometry(geo.resolution, geo.origin_x, geo.origin_y, costs.shape[0], costs.shape[1])


def points_to_path(points: np.ndarray, stamp_ns: int, frame_id: str) -> Path:
    """nav_msgs/Path through (N, 2) points [m], each pose facing the next point."""
    msg = Path()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    if len(points) == 0:
        return msg
    heading = np.arctan2(*np.diff(points, axis=0)[:, ::-1].T) if len(points) > 1 else np.zeros(0)
    heading = np.append(heading, heading[-1] if heading.size else 0.0)
    msg.poses = [
        make_pose_stamped((x, y, 0.0), yaw_to_quaternion(yaw), stamp_ns, frame_id)
        for (x, y), yaw in zip(points.tolist(), heading.tolist(), strict=True)
    ]
    return msg


def path_to_points(msg: Path) -> np.ndarray:
    """(N, 2) positions [m] of a nav_msgs/Path; raises ConversionError on non-finite values."""
    points = np.array([(p.pose.position.x, p.pose.position.y) for p in msg.poses], dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ConversionError("path contains NaN or infinite positions")
    return points


def main(args=None) -> int:
    return run_node(PathPlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
