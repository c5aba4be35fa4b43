"""Navigator (the path follower without ROS): the navigation state machine, stops and getting unstuck."""

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.actions import Healthy, Warn
from rover_autonomy.planning.follower.navigator import (
    Command,
    KeepOut,
    Navigator,
    NavigatorConfig,
    PublishState,
)
from rover_autonomy.planning.follower.parameters import PARAMETERS
from rover_autonomy.rover_model import load_rover_model

S = 1_000_000_000  # one second [ns]
STEP = S // 10  # the default control_period
RES, ORIGIN = 0.1, -10.0  # a 20 m x 20 m costmap around the odom origin
FREE = np.zeros((200, 200), np.int8)
PLAN = np.column_stack([np.arange(0.0, 5.01, 0.1), np.zeros(51)])  # straight ahead to (5, 0)


def _grid(costs) -> GridGeometry:
    return GridGeometry(RES, ORIGIN, ORIGIN, costs.shape[0], costs.shape[1])


def navigator(**parameters) -> Navigator:
    values = {spec.name: spec.default for spec in PARAMETERS} | parameters
    core = Navigator(NavigatorConfig.from_parameters(values, load_rover_model()))
    assert core.start() == [PublishState("idle")]
    return core


def states(actions):
    return [a.text for a in actions if isinstance(a, PublishState)]


def commands(actions):
    return [a for a in actions if isinstance(a, Command)]


def pose(core, x, stamp, y=0.0, yaw=0.0):
    return core.set_pose(x, y, yaw, stamp, received_at_ns=stamp)


def driving(**parameters):
    """A navigator driving PLAN from the origin at 1 s, on a free costmap of 1 s."""
    core = navigator(**parameters)
    assert core.set_costmap(FREE, _grid(FREE), 1 * S) == []
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
        actions = core.set_costmap(wall, _grid(wall), 1 * S)  # decided at once, from the last pose
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
        KeepOut(0.0, 0.0, stamp),
    ]
    assert pose(core, -0.65, stamp + STEP) == []  # the plan was dropped: waiting for the planner's
    assert core.set_plan(PLAN[7:] + np.array([0.0, 0.6]), "odom") == [PublishState("driving")]
    assert commands(pose(core, -0.65, stamp + 2 * STEP))[0].vx > 0.0


def test_stuck_rover_without_room_behind_replans_in_place():
    costs = FREE.copy()
    costs[:, :100] = 100  # lethal from 0.05 m behind the rover (x < 0)
    core = navigator(stuck_window=1.0)
    core.set_costmap(costs, _grid(costs), 1 * S)
    core.set_plan(PLAN + np.array([0.05, 0.0]), "odom")
    stamp = 1 * S
    for _ in range(10):
        pose(core, 0.05, stamp)
        stamp += STEP
    actions = pose(core, 0.05, stamp)
    assert "blocked: stuck at (0.05, 0.00), no room to back up (0.05 m clear behind): planning around it" in (
        states(actions)
    )
    assert actions[-1] == KeepOut(0.05, 0.0, stamp)


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
