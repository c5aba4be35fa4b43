"""GoalPlanner (the path planner without ROS): goals, waiting, replan triggers, keep-out places, cancel."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry, Pose2D
from rover_autonomy.planning.actions import Healthy, Info, Warn
from rover_autonomy.planning.planner.goal_planner import (
    MAX_KEEP_OUT,
    GoalPlanner,
    GoalPlannerConfig,
    PublishPlan,
    PublishStatus,
    make_global_planner,
)
from rover_autonomy.planning.planner.parameters import PARAMETERS

S = 1_000_000_000  # one second [ns]
RES, ORIGIN = 0.1, -10.0  # a 20 m x 20 m costmap around the odom origin
FREE = np.zeros((200, 200), np.int8)


def _grid(costs) -> GridGeometry:
    return GridGeometry(RES, ORIGIN, ORIGIN, costs.shape[0], costs.shape[1])


def planner(**parameters) -> GoalPlanner:
    values = {spec.name: spec.default for spec in PARAMETERS} | parameters
    core = GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))
    assert core.start() == [PublishStatus("idle")]
    return core


def costmap(core, stamp, costs=FREE, now=None):
    return core.set_costmap(costs, _grid(costs), stamp, stamp if now is None else now)


def statuses(actions):
    return [a.text for a in actions if isinstance(a, PublishStatus)]


def plans(actions):
    return [a for a in actions if isinstance(a, PublishPlan)]


def planned(**parameters):
    """A planner with a free costmap at 1 s, the rover at the origin and a goal 5 m ahead."""
    core = planner(**parameters)
    costmap(core, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    core.set_goal("odom", 5.0, 0.0, 1 * S)
    return core


def test_a_goal_is_planned_and_published_in_order():
    core = planner()
    assert costmap(core, 1 * S) == []  # no goal: nothing to do
    assert core.set_pose(0.0, 0.0, 1 * S, 1 * S) == []
    actions = core.set_goal("/odom", 5.0, 0.0, 1 * S)
    assert [type(a) for a in actions] == [Info, PublishStatus, PublishPlan, Healthy, PublishStatus]
    assert actions[0] == Info("new goal (5.00, 0.00) in odom")
    plan = actions[2]
    assert plan.stamp_ns == 1 * S  # the costmap's
    assert np.hypot(*(plan.points[0] - (0.0, 0.0))) < RES and np.hypot(*(plan.points[-1] - (5.0, 0.0))) < RES
    cells = len(plan.points)
    assert actions[3].message == "plan to (5.00, 0.00) in odom" and actions[3].values["cells"] == cells
    assert statuses(actions)[0] == "planning"
    assert statuses(actions)[1].startswith(f"planned: {cells} cells, cost ") and statuses(actions)[
        1
    ].endswith("(full)")
    assert core.goal == (5.0, 0.0)


def test_a_goal_in_map_is_moved_into_odom():
    core = planner(map_to_odom=[2.0, 1.0, math.pi / 2])
    costmap(core, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    actions = core.set_goal("map", 2.0, 4.0, 1 * S)
    assert core.goal == Pose2D(2.0, 1.0, math.pi / 2).to_child(2.0, 4.0)
    assert core.goal == pytest.approx((3.0, 0.0))
    assert actions[0] == Info("new goal (2.00, 4.00) in map")
    assert np.hypot(*(plans(actions)[0].points[-1] - (3.0, 0.0))) < RES


@pytest.mark.parametrize(
    ("goal", "reason"),
    [
        (("base_link", 3.0, 0.0), "goal rejected: unknown frame 'base_link' (use map or odom)"),
        (
            ("odom", 500.0, 0.0),
            "goal (500.00, 0.00) is outside the map: 500 m away (max_goal_distance 200 m)",
        ),
    ],
)
def test_refused_goals_withdraw_the_plan_and_say_why(goal, reason):
    core = planned()
    actions = core.set_goal(*goal, 2 * S)
    assert actions == [
        PublishPlan(actions[0].points, 1 * S),
        PublishStatus(f"failed: {reason}"),
        Warn(reason, f"no plan: {reason}"),
    ]
    assert actions[0].points.shape == (0, 2)
    assert core.goal == (5.0, 0.0)  # the refused goal did not replace the active one


def test_an_unreadable_goal_is_refused():
    actions = planner().refuse_goal("pose contains NaN or infinite values")
    assert statuses(actions) == ["failed: goal rejected: pose contains NaN or infinite values"]


def test_a_goal_waits_for_the_first_costmap_and_for_odometry():
    core = planner()
    actions = core.set_goal("odom", 4.0, 0.0, 0)
    assert statuses(actions) == ["planning: waiting: no costmap received yet"] and not plans(actions)
    assert statuses(core.set_goal("odom", 4.0, 0.0, 0)) == []  # the same status is not sent twice
    assert statuses(costmap(core, 1 * S)) == ["planning: waiting: no odometry received yet"]
    actions = core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    assert statuses(actions)[0] == "planning" and statuses(actions)[1].startswith("planned: ")
    assert len(plans(actions)) == 1


def test_lost_odometry_is_waited_for_and_a_stale_costmap_fails():
    core = planner()
    costmap(core, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    actions = core.set_goal("odom", 4.0, 0.0, now_ns=3 * S)  # the last pose is 2 s old, odom_timeout 1 s
    assert statuses(actions) == ["planning: waiting: odometry lost: last pose 2.0 s old"]
    assert len(plans(core.set_pose(0.0, 0.0, 3 * S, 3 * S))) == 1
    core.odometry_unusable()
    assert statuses(core.set_goal("odom", 3.0, 0.0, 3 * S)) == ["planning: waiting: no odometry received yet"]
    actions = core.set_pose(0.0, 0.0, 9 * S, 9 * S)  # the costmap of 1 s is now 8 s older
    assert statuses(actions) == ["failed: costmap is 8.0 s older than the odometry (limit 5.0 s)"]


def test_a_costmap_update_keeps_or_repairs_the_plan():
    core = planned()
    assert costmap(core, 2 * S, now=1 * S) == []  # nothing changed under the plan: kept, nothing published
    wall = FREE.copy()
    wall[60:140, 120:125] = 100  # across the plan 2 m ahead
    actions = costmap(core, 3 * S, wall, now=1 * S)
    (plan,) = plans(actions)
    assert plan.stamp_ns == 3 * S
    assert np.abs(plan.points[:, 1]).max() > 3.9  # round the wall's end


def test_leaving_the_plan_replans_at_most_every_min_replan_interval():
    core = planned(replan_period=0.0)
    assert core.set_pose(2.55, 2.05, int(1.5 * S), int(1.5 * S)) == []  # 0.5 s after the full plan
    actions = core.set_pose(2.55, 2.05, 2 * S, 2 * S)
    assert actions[0] == Info("rover 2.00 m off the plan: replanning")  # from the cell centres at y 0.05
    (plan,) = plans(actions)
    assert np.hypot(*(plan.points[0] - (2.55, 2.05))) < RES
    assert core.set_pose(2.65, 2.05, int(2.2 * S), int(2.2 * S)) == []  # on the new plan


def test_a_full_replan_every_replan_period():
    core = planned(replan_period=5.0, costmap_timeout=60.0)
    assert core.set_pose(1.0, 0.0, int(5.9 * S), int(5.9 * S)) == []
    actions = core.set_pose(1.0, 0.0, 6 * S, 6 * S)
    assert statuses(actions)[0] == "planning" and len(plans(actions)) == 1
    assert np.hypot(*(plans(actions)[0].points[0] - (1.0, 0.0))) < RES


def test_a_hazard_stop_replans_once_and_an_unchanged_plan_is_not_republished():
    core = planned()
    assert core.on_navigation_state("blocked: emergency stop", 2 * S) == []
    assert core.on_navigation_state("driving", 2 * S) == []
    actions = core.on_navigation_state("blocked: hazard: no safe arc", 2 * S)
    assert actions[0] == Info("follower 'blocked: hazard: no safe arc': replanning")
    assert statuses(actions) == ["planning", "planned: unchanged, the follower reports hazards on it"]
    assert not plans(actions)


def test_reached_ends_the_goal_and_cancel_withdraws_it():
    core = planned()
    actions = core.on_navigation_state("reached: within 0.25 m of the goal", 2 * S)
    assert [type(a) for a in actions] == [PublishPlan, PublishStatus]
    assert actions[0].points.shape == (0, 2) and statuses(actions) == ["idle: goal reached"]
    assert not core.has_goal
    assert core.on_navigation_state("blocked: hazard: no safe arc", 2 * S) == []  # no goal: ignored
    assert core.set_pose(3.0, 3.0, 3 * S, 3 * S) == []
    core.set_goal("odom", 4.0, 0.0, 3 * S)
    actions = core.cancel()
    assert plans(actions)[0].points.shape == (0, 2) and statuses(actions) == ["idle: cancelled"]
    assert not core.has_goal


def test_keep_out_places_are_capped_transformed_and_refused_when_unusable():
    core = planner(map_to_odom=[1.0, 0.0, 0.0])
    for i in range(MAX_KEEP_OUT + 1):
        assert core.add_keep_out("odom", float(i), 0.0, 0) == [
            Info(f"keeping out of ({i:.2f}, 0.00) in odom")
        ]
    places = core.keep_out_places
    assert len(places) == MAX_KEEP_OUT and places[0] == (1.0, 0.0) and places[-1] == (32.0, 0.0)
    core.add_keep_out("map", 3.0, 2.0, 0)
    assert core.keep_out_places[-1] == (2.0, 2.0)
    assert core.add_keep_out("base_link", 1.0, 0.0, 0) == [
        Warn("keep_out", "navigation/keep_out refused: frame 'base_link', point (1.0, 0.0)")
    ]
    assert core.add_keep_out("odom", math.nan, 0.0, 0)[0].key == "keep_out"
    assert core.keep_out_places[-1] == (2.0, 2.0)


def test_a_keep_out_place_replans_around_it():
    core = planned(keep_out_radius=0.5)
    actions = core.add_keep_out("odom", 2.0, 0.0, 2 * S)
    (plan,) = plans(actions)
    assert np.hypot(plan.points[:, 0] - 2.0, plan.points[:, 1]).min() > 0.5


def test_a_keep_out_disc_shrinks_to_leave_the_goal_outside():
    core = planned(keep_out_radius=0.5)
    actions = core.add_keep_out("odom", 4.7, 0.0, 2 * S)  # 0.3 m from the goal
    (plan,) = plans(actions)
    assert np.hypot(*(plan.points[-1] - (5.0, 0.0))) < RES  # the goal stays reachable
    # The disc's radius became 0.3 m - one cell: no plan point within it.
    assert np.hypot(plan.points[:, 0] - 4.7, plan.points[:, 1]).min() > 0.2


def test_changed_search_parameters_fail_the_goal_until_the_next_costmap():
    core = planned()
    values = {spec.name: spec.default for spec in PARAMETERS} | {"cost_weight": 0.5}
    actions = core.replace_planner(make_global_planner(values))
    assert statuses(actions) == ["failed: planner parameters changed: waiting for the next costmap"]
    assert plans(actions)[0].stamp_ns == 0  # no costmap taken since
    assert core.set_pose(0.1, 0.0, 2 * S, 2 * S) == []  # no plan to leave: nothing to do
    actions = costmap(core, 2 * S)
    assert statuses(actions)[-1].startswith("planned: ") and plans(actions)[0].stamp_ns == 2 * S
