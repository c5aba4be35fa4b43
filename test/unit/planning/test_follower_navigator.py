"""Navigator (the path follower without ROS): the navigation state machine, stops and getting unstuck."""

import math

import numpy as np
import pytest

from rover_autonomy.planning.actions import Healthy, Warn
from rover_autonomy.planning.follower.navigator import (
    Command,
    KeepOut,
    Navigator,
    NavigatorConfig,
    PublishState,
)
from rover_autonomy.planning.follower.parameters import PARAMETERS
from rover_autonomy.planning.follower.recovery import footprint_half_length
from rover_autonomy.planning.planner.goal_planner import (
    GoalPlanner,
    GoalPlannerConfig,
    PublishPlan,
    PublishStatus,
    make_global_planner,
)
from rover_autonomy.planning.planner.parameters import PARAMETERS as PLANNER_PARAMETERS
from rover_autonomy.rover_model import load_rover_model

S = 1_000_000_000  # one second [ns]
STEP = S // 10  # the default control_period
RES, ORIGIN = 0.1, -10.0  # a 20 m x 20 m costmap around the odom origin
FREE = np.zeros((200, 200), np.int8)
PLAN = np.column_stack([np.arange(0.0, 5.01, 0.1), np.zeros(51)])  # straight ahead to (5, 0)
HALF_FOOTPRINT = footprint_half_length(load_rover_model())


def navigator(**parameters) -> Navigator:
    values = {spec.name: spec.default for spec in PARAMETERS} | parameters
    core = Navigator(NavigatorConfig.from_parameters(values, load_rover_model()))
    assert core.start() == [PublishState("idle")]
    return core


def states(actions):
    return [a.text for a in actions if isinstance(a, PublishState)]


def commands(actions):
    return [a for a in actions if isinstance(a, Command)]


def keep_outs(actions):
    return [a for a in actions if isinstance(a, KeepOut)]


def plan_statuses(actions):
    return [a.text for a in actions if isinstance(a, PublishStatus)]


def goal_planner() -> GoalPlanner:
    values = {spec.name: spec.default for spec in PLANNER_PARAMETERS}
    return GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))


def pose(core, x, stamp, y=0.0, yaw=0.0):
    return core.set_pose(x, y, yaw, stamp, received_at_ns=stamp)


def driving(**parameters):
    """A navigator driving PLAN from the origin at 1 s, on a free costmap of 1 s."""
    core = navigator(**parameters)
    assert core.set_costmap(FREE, RES, ORIGIN, ORIGIN, 1 * S) == []
    assert pose(core, 0.0, 1 * S) == []  # no plan: nothing to do
    assert core.set_plan(PLAN, "odom") == [PublishState("driving")]
    return core


def test_a_plan_is_driven_once_per_control_period():
    core = driving()
    actions = pose(core, 0.0, 1 * S)
    assert actions[0] == Command(pytest.approx(0.4), 0.0, 1 * S)  # the rover model's max_speed
    assert isinstance(actions[1], Healthy) and actions[1].message == "driving"
    assert actions[1].values["distance_to_goal"] == "5.00"
    assert pose(core, 0.05, 1 * S + STEP // 2) == []  # within control_period of the last decision
    assert commands(pose(core, 0.1, 1 * S + STEP))[0].vx > 0.3
    assert core.state == "driving"


def test_plan_status_folds_into_the_state():
    core = navigator()
    assert core.on_plan_status("planning: waiting: no costmap received yet") == [PublishState("planning")]
    assert core.on_plan_status("planned: 51 cells, cost 5.1 (full)") == []
    assert core.on_plan_status("idle: goal reached") == []  # only a cancel stops on idle
    assert core.on_plan_status("no such status") == []
    core = driving()
    assert core.on_plan_status("planning") == []  # following a plan: still driving


def test_a_failed_plan_stops_the_rover_with_the_planners_reason():
    core = driving()
    pose(core, 0.0, 1 * S)
    reason = "no path: the goal is cut off from the rover by lethal cells"
    assert core.on_plan_status(f"failed: {reason}") == [
        Command(0.0, 0.0, 1 * S),
        PublishState(f"failed: {reason}"),
        Warn(f"failed:{reason}", f"rover stopped: failed: {reason}"),
    ]
    assert pose(core, 0.0, 2 * S) == []  # no plan followed any more


def test_cancel_goes_idle_without_a_warning():
    core = driving()
    pose(core, 0.0, 1 * S)
    assert core.on_plan_status("idle: cancelled") == [
        Command(0.0, 0.0, 1 * S),
        PublishState("idle: cancelled"),
    ]
    assert pose(core, 0.0, 2 * S) == []


def test_unusable_plans_fail_and_a_withdrawn_plan_stops():
    core = driving()
    pose(core, 0.0, 1 * S)
    assert states(core.set_plan(PLAN, "map")) == ["failed: plan rejected: frame 'map', expected odom"]
    core = driving()
    assert states(core.refuse_plan("path contains NaN or infinite positions")) == [
        "failed: plan rejected: path contains NaN or infinite positions"
    ]
    assert pose(core, 0.0, 2 * S) == []
    core = driving()
    pose(core, 0.0, 1 * S)
    assert core.set_plan(np.empty((0, 2)), "odom") == [Command(0.0, 0.0, 1 * S)]  # state kept
    assert core.set_plan(np.empty((0, 2)), "map") == []  # already stopped


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("no_costmap", "blocked: no costmap received yet"),
        ("stale_costmap", "blocked: costmap is 6.0 s old (limit 5.0 s)"),
        ("hazard", "blocked: hazard: no safe arc"),
        ("emergency_stop", "blocked: emergency stop"),
        ("unusable_odometry", "blocked: odometry unusable: pose contains NaN or infinite values"),
        ("odometry_lost", "blocked: odometry lost: none for more than 0.50 s"),
    ],
)
def test_every_stop_sends_a_zero_twist_and_says_why(cause, expected):
    core = driving() if cause != "no_costmap" else navigator()
    if cause == "no_costmap":
        core.set_plan(PLAN, "odom")
        actions = pose(core, 0.0, 1 * S)
    elif cause == "stale_costmap":
        actions = pose(core, 0.0, 7 * S)
    elif cause == "hazard":
        wall = FREE.copy()
        wall[:, 102:106] = 100  # 0.2–0.6 m ahead, across the whole map
        pose(core, 0.0, 1 * S)
        actions = core.set_costmap(wall, RES, ORIGIN, ORIGIN, 1 * S)  # decided at once, from the last pose
    elif cause == "emergency_stop":
        actions = core.set_emergency_stop(True)
    elif cause == "unusable_odometry":
        pose(core, 0.0, 1 * S)
        actions = core.odometry_unusable(2 * S, "pose contains NaN or infinite values", 2 * S)
    else:
        pose(core, 0.0, 1 * S)
        assert core.check_odometry(1 * S + S // 2) == []  # 0.5 s: not more than odom_timeout
        actions = core.check_odometry(1 * S + S // 2 + 1)
    assert commands(actions)[0] == Command(0.0, 0.0, commands(actions)[0].stamp_ns)
    assert states(actions)[0].startswith(expected)
    assert isinstance(actions[-1], Warn) and actions[-1].message.startswith(f"rover stopped: {expected}")


def test_the_emergency_stop_holds_until_released():
    core = driving()
    core.set_emergency_stop(True)
    assert states(pose(core, 0.0, 1 * S)) == []  # still blocked, and stopped
    assert commands(pose(core, 0.0, 1 * S)) == [Command(0.0, 0.0, 1 * S)]
    assert core.set_emergency_stop(False) == [PublishState("driving")]
    assert commands(pose(core, 0.0, 2 * S))[0].vx > 0.3


def test_reached_stops_and_ends_the_plan():
    core = driving()
    actions = pose(core, 4.85, 2 * S)
    assert actions[:2] == [Command(0.0, 0.0, 2 * S), PublishState("reached: within 0.15 m of the goal")]
    assert actions[2] == Healthy("goal reached (within 0.15 m of the goal)")
    assert pose(core, 4.85, 3 * S) == []


def test_stuck_rover_backs_up_reports_the_place_and_drives_the_next_plan():
    core = driving(stuck_window=1.0, backup_distance=0.6)
    stamp = 1 * S
    for _ in range(10):  # commanded 0.4 m/s, the odometry stays at the origin
        assert not states(pose(core, 0.0, stamp))
        stamp += STEP
    actions = pose(core, 0.0, stamp)  # one window of odometry time since the first decision
    assert [type(a) for a in actions] == [Command, Healthy, Warn, PublishState, Command]
    assert actions[2].key == "stuck" and actions[2].message.endswith("backing up 0.60 m")
    assert states(actions)[0].startswith("recovering: stuck at (0.00, 0.00) in odom (moved 0.00 m of 0.40 m")
    assert states(actions)[0].endswith("; backing up 0.6 m")
    assert actions[-1] == Command(-0.1, 0.0, stamp)  # backup_speed
    assert core.set_plan(PLAN, "odom") == []  # a plan while backing up waits for the backup's end
    stamp += STEP
    assert pose(core, -0.3, stamp) == [Command(-0.1, 0.0, stamp)]
    stamp += STEP
    actions = pose(core, -0.65, stamp)
    reason = "stuck at (0.00, 0.00), backed up: planning around it"
    assert actions == [
        Command(0.0, 0.0, stamp),
        PublishState(f"blocked: {reason}"),
        Warn(f"blocked:{reason}", f"rover stopped: blocked: {reason}"),
        KeepOut(pytest.approx(0.5 + HALF_FOOTPRINT - 0.65), 0.0, 0.5, stamp),  # ahead, clear of the rover
    ]
    assert pose(core, -0.65, stamp + STEP) == []  # the plan was dropped: waiting for the planner's
    assert core.set_plan(PLAN[7:] + np.array([0.0, 0.6]), "odom") == [PublishState("driving")]
    assert commands(pose(core, -0.65, stamp + 2 * STEP))[0].vx > 0.0


def test_stuck_rover_without_room_behind_keeps_out_the_ground_ahead_not_its_own():
    costs = FREE.copy()
    costs[:, :100] = 100  # lethal from 0.05 m behind the rover (x < 0)
    core = navigator(stuck_window=1.0)
    core.set_costmap(costs, RES, ORIGIN, ORIGIN, 1 * S)
    core.set_plan(PLAN + np.array([0.05, 0.0]), "odom")
    stamp = 1 * S
    for _ in range(10):
        pose(core, 0.05, stamp)
        stamp += STEP
    actions = pose(core, 0.05, stamp)
    assert "blocked: stuck at (0.05, 0.00), no room to back up (0.05 m clear behind): planning around it" in (
        states(actions)
    )
    (place,) = keep_outs(actions)
    assert place.radius == 0.5  # keep_out_radius
    assert place.y == 0.0 and place.x == pytest.approx(0.05 + place.radius + HALF_FOOTPRINT)


def test_stuck_at_the_start_with_unmapped_ground_behind_leaves_the_planner_a_way():
    costs = FREE.copy()
    costs[:, :100] = -1  # nothing mapped behind the rover yet
    core = navigator(stuck_window=1.0)
    core.set_costmap(costs, RES, ORIGIN, ORIGIN, 1 * S)
    core.set_plan(PLAN, "odom")
    stamp = 1 * S
    for _ in range(11):
        actions = pose(core, 0.0, stamp)
        stamp += STEP
    assert "no room to back up (0.00 m clear behind)" in states(actions)[-1]
    (place,) = keep_outs(actions)
    assert math.hypot(place.x, place.y) >= place.radius + HALF_FOOTPRINT - 1e-9
    planner = goal_planner()
    planner.set_costmap(costs, RES, ORIGIN, ORIGIN, stamp, stamp)
    planner.set_pose(0.0, 0.0, stamp, stamp)
    planner.set_goal("odom", 5.0, 0.0, stamp)
    actions = planner.add_keep_out("odom", place.x, place.y, place.radius, stamp)
    assert [s for s in plan_statuses(actions) if s.startswith(("planned", "failed"))][-1].startswith(
        "planned"
    )


def _closed_loop(core, x, y, yaw, stamp, seconds, costs=FREE):
    """The rover moves as commanded (unicycle); a fresh costmap every second. Returns the visited
    positions, the states in order and the stamp at the end."""
    trail, texts, command = [(x, y)], [], Command(0.0, 0.0, 0)
    for i in range(round(seconds / 0.1)):
        actions = core.set_costmap(costs, RES, ORIGIN, ORIGIN, stamp) if i % 10 == 0 else []
        actions += pose(core, x, stamp, y, yaw)
        texts += states(actions)
        command = (commands(actions) or [command])[-1]
        yaw += command.wz * 0.1
        x += command.vx * math.cos(yaw) * 0.1
        y += command.vx * math.sin(yaw) * 0.1
        trail.append((x, y))
        stamp += STEP
        if core.state.startswith("reached"):
            break
    return np.array(trail), texts, stamp


def _stuck_and_backed_up(core, x, y, stamp, backed=0.65):
    """Odometry that stays at (x, y) heading +x until the rover is judged stuck, then the backup;
    returns the actions that end the recovery and the stamp after them."""
    for _ in range(40):
        actions = pose(core, x, stamp, y)
        stamp += STEP
        if core.state.startswith(("recovering", "failed")):
            break
    assert core.state.startswith(("recovering", "failed")), core.state
    if core.state.startswith("failed"):
        return actions, stamp
    actions = pose(core, x - backed, stamp, y)
    return actions, stamp + STEP


def test_the_follower_never_drives_into_a_place_it_kept_out():
    core = driving(stuck_window=1.0, backup_distance=0.6)
    actions, stamp = _stuck_and_backed_up(core, 0.0, 0.0, 1 * S)
    (place,) = keep_outs(actions)
    # A plan straight through the place (a planner that does not know it yet): the follower treats the
    # disc as the lethal ground it is, and stops at its edge asking for another plan.
    through = np.column_stack([np.arange(-0.6, 5.01, 0.1), np.zeros(57)])
    assert core.set_plan(through, "odom") == [PublishState("driving")]
    trail, texts, _ = _closed_loop(core, -0.65, 0.0, 0.0, stamp, 20.0)
    assert np.abs(trail[:, 0] + 0.65).max() > 0.5  # it drove
    assert np.hypot(trail[:, 0] - place.x, trail[:, 1] - place.y).min() > place.radius - RES
    assert texts[-1].startswith(("blocked: hazard", "reached")), texts


def test_a_rock_seen_under_the_rover_with_the_plan_behind_it_is_left_backwards():
    costs = FREE.copy()
    costs[97:103, 97:103] = 100  # lethal within 0.3 m of the rover at the origin
    core = navigator()
    core.set_costmap(costs, RES, ORIGIN, ORIGIN, 1 * S)
    core.set_plan(np.column_stack([-np.arange(0.4, 5.01, 0.1), np.zeros(47)]), "odom")  # to (-5, 0)
    actions = pose(core, 0.0, 1 * S)
    assert core.state == "driving"
    (command,) = commands(actions)
    assert command.vx == pytest.approx(-0.05)  # min_speed, backwards: the nearest way off the rock
    trail, texts, _ = _closed_loop(core, 0.0, 0.0, 0.0, 1 * S + STEP, 60.0, costs)
    assert texts and texts[-1].startswith("reached"), texts
    off_rock = np.flatnonzero(np.abs(trail).max(axis=1) > 0.3)
    assert off_rock.size and np.all(np.abs(trail[off_rock[0] :]).max(axis=1) > 0.3 - RES)


def test_a_stuck_event_repeating_at_one_place_escalates_then_fails_naming_it():
    core = driving(stuck_window=1.0, backup_distance=0.6)
    r, c = 0.5, HALF_FOOTPRINT
    # 1st: a disc of keep_out_radius ahead of the rover.
    actions, stamp = _stuck_and_backed_up(core, 0.0, 0.0, 1 * S)
    (first,) = keep_outs(actions)
    assert (first.radius, first.y) == (r, 0.0) and first.x == pytest.approx(max(r, r + c - 0.65))
    assert states(actions)[0] == "blocked: stuck at (0.00, 0.00), backed up: planning around it"
    # 2nd, next to it (passing on its left): a disc twice as large.
    core.set_plan(np.column_stack([np.arange(0.3, 5.01, 0.1), np.full(48, 0.9)]), "odom")
    actions, stamp = _stuck_and_backed_up(core, 0.3, 0.9, stamp)
    (second,) = keep_outs(actions)
    assert second.radius == 2 * r and second.y == 0.9
    assert second.x == pytest.approx(0.3 + max(2 * r, 2 * r + c - 0.65))
    assert states(actions)[0] == "blocked: stuck at (0.30, 0.90) again, backed up: planning a wider way round"
    # 3rd, still on that side: the disc, joined to the others, and a wall out on that side.
    core.set_plan(np.column_stack([np.arange(0.3, 5.01, 0.1), np.full(48, 2.2)]), "odom")
    actions, stamp = _stuck_and_backed_up(core, 0.3, 2.2, stamp)
    third = keep_outs(actions)
    assert states(actions)[0] == (
        "blocked: stuck at (0.30, 2.20) a third time, backed up: planning round the other side"
    )
    assert third[0].radius == 2 * r and third[0].y == 2.2
    assert all(k.x == pytest.approx(second.x) for k in third)
    ys = sorted(k.y for k in third)
    assert ys[0] < 1.9 and ys[-1] >= 2.2 + 2.5  # from the disc before out to the wall's end, on the left
    assert np.all(np.diff(ys) <= r + 1e-9)  # no gap a rover could pass
    for k in third:  # never under the rover, which stands at (-0.35, 2.2)
        assert math.hypot(k.x + 0.35, k.y - 2.2) >= k.radius + c - 1e-9
    planner = goal_planner()
    planner.set_costmap(FREE, RES, ORIGIN, ORIGIN, stamp, stamp)
    planner.set_pose(-0.35, 2.2, stamp, stamp)
    planner.set_goal("odom", 5.0, 2.2, stamp)
    for k in [first, second, *third]:
        actions = planner.add_keep_out("odom", k.x, k.y, k.radius, stamp)
    (plan,) = [a for a in actions if isinstance(a, PublishPlan)]
    crossing = plan.points[np.abs(plan.points[:, 0] - second.x) < RES]
    assert crossing[:, 1].max() < 0.0  # round the other side
    # 4th: the rover stops and says where.
    core.set_plan(np.column_stack([np.arange(0.3, 5.01, 0.1), np.full(48, -1.5)]), "odom")
    actions, stamp = _stuck_and_backed_up(core, 0.3, -1.5, stamp)
    assert not keep_outs(actions)
    reason = "stuck 4 times at (0.00, 0.00) in odom: no way past it"
    assert core.state == f"failed: {reason}" and commands(actions)[-1] == Command(0.0, 0.0, stamp - STEP)
    actions = planner.on_navigation_state(core.state, stamp)
    assert plan_statuses(actions) == [f"failed: {reason}"] and not planner.has_goal


def test_changed_parameters_keep_the_plan():
    core = driving()
    values = {spec.name: spec.default for spec in PARAMETERS} | {"max_speed": 0.2}
    core.reconfigure(NavigatorConfig.from_parameters(values, load_rover_model()))
    assert commands(pose(core, 0.0, 1 * S))[0].vx == pytest.approx(0.2)


def test_invalid_parameters_are_refused():
    values = {spec.name: spec.default for spec in PARAMETERS} | {"lookahead": -1.0}
    with pytest.raises(ValueError, match="lookahead"):
        NavigatorConfig.from_parameters(values, load_rover_model())
    assert (
        NavigatorConfig.from_parameters(
            values | {"lookahead": 1.0, "stuck_window": 0.0}, load_rover_model()
        ).stuck
        is None
    )
