"""path_planner and path_follower over real DDS: goals, plans, cmd_vel, navigation/state, bad input."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped, Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from rover_autonomy.contract import PLAN_STATUS_TOPIC
from rover_autonomy.geometry import GridGeometry, yaw_to_quaternion
from rover_autonomy.planning.follower.node import PathFollowerNode
from rover_autonomy.planning.planner.node import PathPlannerNode
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    OdometryData,
    array_to_grid,
    data_to_odometry,
    make_pose_stamped,
)

RES = 0.1
GEOMETRY = GridGeometry(RES, -10.0, -10.0, 200, 200, "odom")  # 20 m × 20 m around the odom origin


class Rig:
    """The rest of the stack as seen by the navigation nodes: costmap, odometry, goals, listeners."""

    def __init__(self, ros, cmd_type=TwistStamped):
        self.ros = ros
        node = ros.node("nav_test_rig")
        self.node = node
        self.costmap_pub = node.create_publisher(
            OccupancyGrid, "terrain/costmap", qos.for_topic("terrain/costmap")
        )
        self.odom_pub = node.create_publisher(Odometry, "odom", qos.for_topic("odom"))
        self.goal_pub = node.create_publisher(PoseStamped, "goal_pose", qos.for_topic("goal_pose"))
        self.estop_pub = node.create_publisher(Bool, "emergency_stop", qos.for_topic("emergency_stop"))
        self.plans, self.states, self.cmds, self.plan_status, self.keep_outs = [], [], [], [], []
        node.create_subscription(
            PointStamped, "navigation/keep_out", self.keep_outs.append, qos.for_topic("navigation/keep_out")
        )
        node.create_subscription(
            String, PLAN_STATUS_TOPIC, lambda m: self.plan_status.append(m.data), qos.profile("latched")
        )
        node.create_subscription(Path, "plan", self.plans.append, qos.for_topic("plan"))
        node.create_subscription(
            String,
            "navigation/state",
            lambda m: self.states.append(m.data),
            qos.for_topic("navigation/state"),
        )
        node.create_subscription(cmd_type, "cmd_vel", self.cmds.append, qos.for_topic("cmd_vel"))
        self.cancel = node.create_client(Trigger, "navigation/cancel")

    def now_ns(self):
        return self.node.get_clock().now().nanoseconds

    def costmap(self, costs=None, age=0.0):
        costs = np.zeros((200, 200), np.int8) if costs is None else costs
        self.costmap_pub.publish(array_to_grid(costs, GEOMETRY, self.now_ns() - int(age * 1e9)))

    def odom(self, x=0.0, y=0.0, yaw=0.0):
        data = OdometryData(
            stamp_ns=self.now_ns(),
            frame_id="odom",
            child_frame_id="base_link",
            position=np.array([x, y, 0.0]),
            quaternion=yaw_to_quaternion(yaw) if math.isfinite(yaw) else np.array([0, 0, 0, 1.0]),
            linear=np.zeros(3),
            angular=np.zeros(3),
            pose_covariance=np.eye(6),
            twist_covariance=np.eye(6),
        )
        self.odom_pub.publish(data_to_odometry(data))

    def goal(self, x, y, frame="odom"):
        self.goal_pub.publish(make_pose_stamped((x, y, 0.0), (0.0, 0.0, 0.0, 1.0), self.now_ns(), frame))

    def wait_state(self, prefix, timeout=5.0):
        """Wait for a navigation/state starting with ``prefix``; keeps odometry flowing meanwhile."""
        return self.ros.spin_until(lambda: self.states and self.states[-1].startswith(prefix), timeout)

    def drive_tick(self, pose=(0.0, 0.0, 0.0), seconds=0.3):
        """Publish odometry at 20 Hz for ``seconds`` while spinning."""
        steps = int(seconds / 0.05)
        for _ in range(steps):
            self.odom(*pose)
            self.ros.spin_for(0.05)

    def last_twist(self):
        msg = self.cmds[-1]
        return msg.twist if isinstance(msg, TwistStamped) else msg

    def connected(self):
        """Wait until the rig and both nodes have discovered each other."""
        return self.ros.spin_until(
            lambda: (
                self.goal_pub.get_subscription_count() >= 1
                and self.odom_pub.get_subscription_count() >= 2
                and self.costmap_pub.get_subscription_count() >= 2
                and self.node.count_publishers("navigation/state") >= 1
                and self.node.count_publishers("navigation/keep_out") >= 1
                and self.cancel.service_is_ready()
            ),
            timeout=10,
        )


def start(ros, planner_params=(), follower_params=(), cmd_type=TwistStamped):
    ros.node(PathPlannerNode(context=ros.context, parameter_overrides=list(planner_params)))
    ros.node(PathFollowerNode(context=ros.context, parameter_overrides=list(follower_params)))
    rig = Rig(ros, cmd_type)
    assert rig.connected()
    return rig


def driving(rig, goal=(5.0, 0.0), frame="odom"):
    """Costmap + odometry + goal; returns once the rover is driving forward."""
    rig.costmap()
    rig.drive_tick()
    rig.goal(*goal, frame=frame)
    assert rig.wait_state("driving"), rig.states
    rig.drive_tick()
    assert rig.cmds and rig.last_twist().linear.x > 0.1
    return rig


def assert_stopped(rig):
    """The last cmd_vel is a zero twist, and stays so."""

    def still():
        twist = rig.last_twist()
        return twist.linear.x == 0.0 and twist.angular.z == 0.0

    assert rig.ros.spin_until(still, timeout=3)
    rig.ros.spin_for(0.3)
    assert still()


def test_plans_drives_and_reaches_goal(ros):
    rig = driving(start(ros))
    plan = rig.plans[-1]
    assert plan.header.frame_id == "odom" and len(plan.poses) > 40
    end = plan.poses[-1].pose.position
    assert math.hypot(end.x - 5.0, end.y) < RES
    assert rig.last_twist().linear.x == pytest.approx(0.4)  # rover model limits.max_speed
    assert rig.cmds[-1].header.frame_id == "base_link"
    rig.drive_tick(pose=(4.85, 0.0, 0.0))
    assert rig.wait_state("reached")
    assert_stopped(rig)
    assert ros.spin_until(lambda: len(rig.plans[-1].poses) == 0)  # the finished plan is withdrawn
    diagnostics = []
    rig.node.create_subscription(
        DiagnosticArray, "diagnostics", diagnostics.append, qos.profile("diagnostics")
    )
    names = lambda: {s.name for m in diagnostics for s in m.status}  # noqa: E731
    assert ros.spin_until(lambda: {"path_planner", "path_follower"} <= names(), timeout=3)


def test_goal_in_map_frame_is_moved_into_odom(ros):
    rig = start(ros, planner_params=[Parameter("map_to_odom", value=[2.0, 1.0, math.pi / 2])])
    driving(rig, goal=(2.0, 4.0), frame="map")  # map (2, 4) is 3 m ahead of the odom origin along odom x
    end = rig.plans[-1].poses[-1].pose.position
    assert math.hypot(end.x - 3.0, end.y) < RES


def test_plain_twist_when_unstamped(ros):
    rig = start(ros, follower_params=[Parameter("cmd_vel_stamped", value=False)], cmd_type=Twist)
    driving(rig)
    assert isinstance(rig.cmds[-1], Twist)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_frame", "failed: goal rejected: unknown frame 'base_link'"),
        ("outside_map", "failed: goal (500.00, 0.00) is outside the map: 500 m away"),
        ("lethal_goal", "failed: goal is on a lethal cell"),
        ("nan_goal", "failed: goal rejected: pose contains NaN"),
        ("stale_costmap", "failed: costmap is"),
        ("nan_odometry", "blocked: odometry unusable"),
        ("odometry_lost", "blocked: odometry lost"),
    ],
)
def test_bad_input_stops_rover_with_reason_and_node_recovers(ros, case, expected):
    rig = driving(start(ros))
    if case == "unknown_frame":
        rig.goal(3.0, 0.0, frame="base_link")
    elif case == "outside_map":
        rig.goal(500.0, 0.0)
    elif case == "lethal_goal":
        costs = np.zeros((200, 200), np.int8)
        costs[95:105, 125:135] = 100  # around (3, 0)
        rig.costmap(costs)
        rig.drive_tick()
        rig.goal(3.0, 0.0)
    elif case == "nan_goal":
        rig.goal(math.nan, 0.0)
    elif case == "stale_costmap":
        rig.costmap(age=30.0)
        rig.drive_tick()
        rig.goal(4.0, 0.0)
    elif case == "nan_odometry":
        rig.odom(math.nan, 0.0, 0.0)
    elif case == "odometry_lost":
        pass  # simply stop publishing odometry
    assert rig.wait_state(expected), (expected, rig.states)
    assert_stopped(rig)
    # The nodes keep serving: a fresh, valid goal drives again.
    rig.costmap()
    rig.drive_tick()
    rig.goal(4.0, 1.0)
    assert rig.wait_state("driving"), rig.states
    rig.drive_tick()
    assert rig.last_twist().linear.x > 0.0


def test_no_costmap_yet(ros):
    rig = start(ros)
    rig.drive_tick()
    rig.goal(4.0, 0.0)
    assert rig.wait_state("planning"), rig.states  # waiting: not a failure of the goal
    assert not rig.cmds or rig.last_twist().linear.x == 0.0
    rig.costmap()  # the goal stays pending and is planned when the costmap arrives
    rig.drive_tick()
    assert rig.wait_state("driving"), rig.states
    assert not any(state.startswith("failed") for state in rig.states), rig.states


def test_goal_before_the_first_pose_waits_for_odometry(ros):
    rig = start(ros)
    rig.costmap()
    rig.goal(4.0, 0.0)
    assert rig.wait_state("planning"), rig.states
    rig.drive_tick()  # the first odometry: the pending goal is planned
    assert rig.wait_state("driving"), rig.states
    assert not any(state.startswith("failed") for state in rig.states), rig.states


def test_emergency_stop_halts_at_once_and_releases(ros):
    rig = driving(start(ros))
    rig.estop_pub.publish(Bool(data=True))
    assert rig.wait_state("blocked: emergency stop", timeout=2)
    rig.drive_tick()
    assert_stopped(rig)
    rig.estop_pub.publish(Bool(data=False))
    assert rig.wait_state("driving")
    rig.drive_tick()
    assert rig.last_twist().linear.x > 0.0


def test_cancel_stops_and_withdraws_plan(ros):
    rig = driving(start(ros))
    future = rig.cancel.call_async(Trigger.Request())
    assert ros.spin_until(future.done)
    assert future.result().success
    assert rig.wait_state("idle: cancelled")
    assert ros.spin_until(lambda: len(rig.plans[-1].poses) == 0)
    rig.drive_tick()
    assert_stopped(rig)


def test_blocked_follower_gets_a_new_plan_around_a_new_wall(ros):
    rig = driving(start(ros, planner_params=[Parameter("replan_period", value=0.0)]))
    first = len(rig.plans)
    costs = np.zeros((200, 200), np.int8)
    costs[60:140, 103:110] = 100  # a wall 0.3–1.0 m ahead, 8 m wide, with free ground around it
    rig.costmap(costs)
    rig.drive_tick()
    assert ros.spin_until(lambda: len(rig.plans) > first)
    xs = [p.pose.position.y for p in rig.plans[-1].poses]
    assert max(abs(y) for y in xs) > 3.9  # the new plan goes round the wall's end


def test_config_files_are_generated_from_the_parameter_specs():
    from rover_autonomy.bringup import graph
    from rover_autonomy.parameters import render_yaml
    from rover_autonomy.resources import config_path

    for name in ("path_planner", "path_follower"):
        title, specs = graph.node_parameters(name)
        assert config_path(f"{name}.yaml").read_text() == render_yaml(name, specs, title)
        assert any(n.name == name and n.executable == name for n in graph.NODES)


def test_hazard_stop_asks_for_a_plan_and_does_not_loop_on_an_unchanged_one(ros):
    # The follower treats cost >= 90 as unsafe, the planner only forbids 100: a band of cost 95 across
    # the way stops the rover, the planner replans once, finds the same plan and says so.
    rig = driving(
        start(
            ros,
            planner_params=[Parameter("replan_period", value=0.0)],  # only the hazard report replans
            follower_params=[Parameter("max_cost", value=90)],
        )
    )
    costs = np.zeros((200, 200), np.int8)
    costs[:, 106:109] = 95
    rig.costmap(costs)
    rig.drive_tick()
    assert rig.wait_state("blocked: hazard"), rig.states
    rig.drive_tick(seconds=0.5)
    plans = len(rig.plans)
    rig.drive_tick(seconds=1.0)
    assert len(rig.plans) == plans  # no plan churn while the follower stays blocked
    assert any(s.startswith("planned: unchanged") for s in rig.plan_status), rig.plan_status
    assert_stopped(rig)


def test_wall_without_gap_ends_in_failed_no_path(ros):
    rig = driving(start(ros))
    costs = np.zeros((200, 200), np.int8)
    costs[:, 120:124] = 100
    rig.costmap(costs)
    rig.drive_tick()
    assert rig.wait_state("failed: no path"), rig.states
    assert_stopped(rig)


def test_invalid_start_up_parameters_are_refused(ros):
    with pytest.raises(ValueError, match="map_to_odom"):
        PathPlannerNode(context=ros.context, parameter_overrides=[Parameter("map_to_odom", value=[1.0, 2.0])])
    with pytest.raises(Exception, match="lookahead"):
        PathFollowerNode(context=ros.context, parameter_overrides=[Parameter("lookahead", value=-1.0)])


def test_node_survives_alternating_failures(ros):
    # A rejected first goal (no goal active) followed by failures of an active goal: different log
    # severities from one node must not crash it.
    rig = start(ros)
    rig.goal(1.0, 0.0, frame="base_link")
    assert rig.wait_state("failed: goal rejected"), rig.states
    rig.drive_tick()
    rig.goal(2.0, 0.0)
    assert rig.wait_state("planning"), rig.states
    rig.goal(3.0, 0.0, frame="base_link")
    assert rig.wait_state("failed: goal rejected"), rig.states
    rig.costmap()
    rig.drive_tick()
    assert rig.wait_state("driving"), rig.states


def test_rover_off_the_plan_gets_one_new_plan_from_where_it_is(ros):
    rig = driving(start(ros, planner_params=[Parameter("replan_period", value=0.0)]))
    before = len(rig.plans)
    started = rig.now_ns()
    # 2 m off the plan (a slip, a pose correction), for longer than min_replan_interval after the first plan.
    rig.drive_tick(pose=(2.5, 2.0, 0.0), seconds=1.2)
    assert ros.spin_until(lambda: len(rig.plans) > before)
    rig.drive_tick(pose=(2.5, 2.0, 0.0), seconds=0.4)
    # One replan per min_replan_interval (1 s of odometry time, which is wall time here: a loaded machine
    # stretches the test), not one per odometry message (32 were sent).
    allowed = 1 + int((rig.now_ns() - started) / 1e9)
    assert before + 1 <= len(rig.plans) <= before + allowed
    first = rig.plans[-1].poses[0].pose.position
    assert math.hypot(first.x - 2.5, first.y - 2.0) < 0.1


def test_goal_beyond_the_costmap_window_is_planned_through_unknown_terrain(ros):
    rig = driving(start(ros))
    rig.goal(15.0, 0.0)  # the costmap ends 5 m ahead

    def planned_to_goal():
        ends = [p.poses[-1].pose.position for p in rig.plans if p.poses]
        return any(math.hypot(end.x - 15.0, end.y) < 0.2 for end in ends)

    assert rig.ros.spin_until(planned_to_goal, timeout=10), rig.states
    assert rig.wait_state("driving"), rig.states


def test_costmap_in_another_frame_is_dropped_and_named(ros):
    from dataclasses import replace

    rig = start(ros)
    rig.drive_tick()
    rig.costmap_pub.publish(array_to_grid(np.zeros((200, 200), np.int8), replace(GEOMETRY, frame_id="map")))
    rig.goal(4.0, 0.0)
    assert rig.wait_state("planning"), rig.states  # no usable costmap: the goal waits
    rig.costmap()  # a costmap in odom: planned and driven
    rig.drive_tick()
    assert rig.wait_state("driving"), rig.states


def test_stuck_rover_backs_up_and_gets_a_plan_around_the_place(ros):
    follower = [Parameter("stuck_window", value=1.0), Parameter("backup_distance", value=0.6)]
    rig = driving(start(ros, follower_params=follower))
    keep_outs = rig.keep_outs
    rig.drive_tick(seconds=1.5)  # odometry stays at the origin while the follower commands 0.4 m/s
    assert rig.wait_state("recovering: stuck at (0.00, 0.00)"), rig.states
    rig.drive_tick(seconds=0.3)
    assert rig.last_twist().linear.x == pytest.approx(-0.1) and rig.last_twist().angular.z == 0.0
    plans_before = len(rig.plans)
    rig.drive_tick(pose=(-0.65, 0.0, 0.0), seconds=0.3)  # backed up
    assert ros.spin_until(lambda: keep_outs, timeout=3)
    place = keep_outs[-1]
    assert place.header.frame_id == "odom" and (place.point.x, place.point.y) == (0.0, 0.0)
    # (navigation/state keeps the last state only: the "blocked: stuck at …, backed up" between the two
    # may be replaced by "driving" on the new plan before the rig takes it.)
    assert ros.spin_until(lambda: len(rig.plans) > plans_before and len(rig.plans[-1].poses) > 0)
    points = np.array([(p.pose.position.x, p.pose.position.y) for p in rig.plans[-1].poses])
    assert np.hypot(points[:, 0], points[:, 1]).min() > 0.5  # planner keep_out_radius
    assert rig.wait_state("driving")
    rig.drive_tick(pose=(-0.65, 0.0, 0.0))
    assert rig.last_twist().linear.x > 0.0 or rig.last_twist().angular.z != 0.0


def test_keep_out_in_an_unknown_frame_is_refused_and_named(ros):
    rig = driving(start(ros))
    pub = rig.node.create_publisher(PointStamped, "navigation/keep_out", qos.for_topic("navigation/keep_out"))
    diagnostics = []
    rig.node.create_subscription(
        DiagnosticArray, "diagnostics", diagnostics.append, qos.profile("diagnostics")
    )
    assert ros.spin_until(lambda: pub.get_subscription_count() >= 1)
    plans_before = len(rig.plans)
    bad = PointStamped()
    bad.header.frame_id = "base_link"
    bad.point.x = 1.0
    pub.publish(bad)
    bad.header.frame_id = "odom"
    bad.point.x = math.nan
    pub.publish(bad)

    def named():
        return any(
            "navigation/keep_out refused" in s.message
            for m in diagnostics
            for s in m.status
            if s.name == "path_planner"
        )

    assert ros.spin_until(named, timeout=5)
    rig.drive_tick()
    assert len(rig.plans) == plans_before and rig.states[-1] == "driving"


def test_a_new_costmap_is_decided_on_at_once_without_new_odometry(ros):
    planner = [Parameter("replan_period", value=0.0)]
    rig = driving(start(ros, planner, follower_params=[Parameter("odom_timeout", value=3.0)]))
    ros.spin_for(0.3)  # odometry stops here; the follower has taken what was sent
    costs = np.zeros((200, 200), np.int8)
    costs[:185, 103:110] = 100  # a wall 0.3–1.0 m ahead, open 8.5 m to the left
    rig.costmap(costs)
    # Decided on the costmap itself: without it the rover would drive on until odom_timeout.
    assert ros.spin_until(lambda: rig.last_twist().linear.x == 0.0, timeout=1.0), rig.states
