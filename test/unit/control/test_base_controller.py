"""Base controller core: steer-then-drive, rate and acceleration limits, timeout, e-stop, bad commands."""

import math

import numpy as np
import pytest

from rover_autonomy.control.base_controller import (
    EMERGENCY_STOP,
    INVALID_COMMAND,
    MOVING,
    TIMEOUT,
    BaseController,
    ControllerLimits,
    check_twist,
)
from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.rover_model import load_rover_model

DT = 0.01  # [s] joint_states period


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


def make_limits(**overrides):
    values = dict(
        max_linear_accel=0.5,
        max_angular_accel=1.0,
        command_timeout=0.5,
        max_speed=0.4,
        max_yaw_rate=0.5,
        reject_speed=5.0,
        reject_yaw_rate=5.0,
    )
    values.update(overrides)
    return ControllerLimits(**values)


def drive_loop(controller, seconds, t0=0.0, command=None, lag=0.05, stuck=False):
    """Run the controller against steering actuators that follow the command with a first-order lag [s]."""
    measured = (
        np.zeros(len(controller.model.steer_joints)) if controller._measured is None else controller._measured
    )
    outputs = []
    for k in range(round(seconds / DT)):
        t = t0 + k * DT
        if command is not None:
            controller.set_command(t, *command)
        controller.set_steering_feedback(t, measured)
        out = controller.update(t)
        if not stuck:
            measured = measured + (out.steer - measured) * min(1.0, DT / lag)
        outputs.append(out)
    return outputs


def test_steers_first_then_ramps_to_the_commanded_arc(model):
    controller = BaseController(model, make_limits())
    outputs = drive_loop(controller, 3.0, command=(0.3, 0.2))
    target = wheel_commands(model, 0.3, 0.2)
    first_drive = next(i for i, o in enumerate(outputs) if np.any(o.drive != 0))
    # Drive is held while the corner wheels turn towards 0.6 rad at 1.5 rad/s (with the actuator lag).
    assert first_drive * DT == pytest.approx(np.max(np.abs(target.steer)) / model.steering.max_rate, abs=0.12)
    assert all(o.held for o in outputs[: first_drive - 1])
    steer = np.array([o.steer for o in outputs])
    assert np.max(np.abs(np.diff(steer, axis=0))) <= model.steering.max_rate * DT + 1e-12
    vx = np.array([o.vx for o in outputs])
    assert np.max(np.diff(vx)) <= 0.5 * DT + 1e-12  # linear acceleration limit
    drive = np.array([o.drive for o in outputs])
    assert np.max(np.abs(np.diff(drive[first_drive:], axis=0))) <= model.wheel_max_accel * DT + 1e-9
    final = outputs[-1]
    assert final.stopped == MOVING and not final.held
    np.testing.assert_allclose(final.drive, target.drive, atol=1e-12)
    np.testing.assert_allclose(final.steer, target.steer, atol=1e-12)


def test_drive_stays_held_while_the_wheels_do_not_reach_their_angles(model):
    controller = BaseController(model, make_limits())
    outputs = drive_loop(controller, 2.0, command=(0.3, 0.3), stuck=True)
    assert all(o.held and not np.any(o.drive) for o in outputs[1:])


def test_straight_drive_changes_into_an_arc_without_stopping(model):
    controller = BaseController(model, make_limits())
    drive_loop(controller, 2.0, command=(0.3, 0.0), lag=0.02)
    outputs = drive_loop(controller, 3.0, t0=2.0, command=(0.3, 0.15), lag=0.02)
    # The ramp is slowed to what the steering can follow, so the drive is never dropped.
    assert not any(o.held for o in outputs)
    assert outputs[-1].wz == pytest.approx(0.15)


def test_tight_turn_becomes_a_point_turn(model):
    controller = BaseController(model, make_limits())
    out = drive_loop(controller, 3.0, command=(0.05, 0.4))[-1]
    cmd = wheel_commands(model, 0.05, 0.4)
    assert cmd.point_turn and out.vx == 0.0 and out.wz == pytest.approx(0.4)
    np.testing.assert_allclose(out.drive, cmd.drive)


def test_command_timeout_stops_the_wheels(model):
    controller = BaseController(model, make_limits())
    drive_loop(controller, 2.0, command=(0.3, 0.0))
    assert not controller.needs_stop(2.4)
    assert controller.needs_stop(2.6)
    outputs = drive_loop(controller, 1.0, t0=2.0)  # joint_states keep coming, cmd_vel does not
    stopped = [o for o in outputs if o.stopped == TIMEOUT]
    assert stopped and not np.any(stopped[0].drive)
    assert stopped[0].stamp == pytest.approx(2.0 - DT + 0.5, abs=1.5 * DT)  # last command at 1.99 s


def test_emergency_stop_halts_until_released(model):
    controller = BaseController(model, make_limits())
    drive_loop(controller, 2.0, command=(0.3, 0.0))
    controller.set_emergency_stop(True)
    outputs = drive_loop(controller, 1.0, t0=2.0, command=(0.3, 0.0))
    assert all(o.stopped == EMERGENCY_STOP and not np.any(o.drive) for o in outputs)
    controller.set_emergency_stop(False)
    outputs = drive_loop(controller, 2.0, t0=3.0, command=(0.3, 0.0))
    assert outputs[-1].vx == pytest.approx(0.3) and outputs[-1].stopped == MOVING


@pytest.mark.parametrize(
    ("linear", "angular", "reason"),
    [
        ((math.nan, 0, 0), (0, 0, 0), "NaN"),
        ((0.1, 0, 0), (0, 0, math.inf), "NaN or infinite"),
        ((1e6, 0, 0), (0, 0, 0), "absurd"),
        ((0.1, 0, 0), (0, 0, -50.0), "absurd"),
    ],
)
def test_invalid_commands_are_rejected_and_stop_the_wheels(model, linear, angular, reason):
    limits = make_limits()
    vx, wz, problem, _ = check_twist(linear, angular, limits)
    assert reason in problem and (vx, wz) == (0.0, 0.0)
    controller = BaseController(model, limits)
    drive_loop(controller, 2.0, command=(0.3, 0.0))
    controller.reject_command(2.0)
    out = controller.update(2.0)
    assert out.stopped == INVALID_COMMAND and not np.any(out.drive)
    controller.set_command(2.01, 0.2, 0.0)
    assert controller.update(2.01).stopped == MOVING


def test_lateral_components_are_reported_as_ignored(model):
    vx, wz, problem, ignored = check_twist((0.2, 0.1, 0.0), (0.0, 0.3, 0.1), make_limits())
    assert problem is None and (vx, wz) == (0.2, 0.1) and ignored == ("linear.y", "angular.y")


def test_commands_are_clamped_to_the_navigation_limits(model):
    controller = BaseController(model, make_limits())
    out = drive_loop(controller, 4.0, command=(2.0, 0.0))[-1]
    assert out.vx == pytest.approx(0.4)


def test_time_going_back_resets_cleanly(model):
    controller = BaseController(model, make_limits())
    drive_loop(controller, 2.0, t0=100.0, command=(0.3, 0.0))
    out = controller.update(0.0)  # simulator restarted
    assert out.stopped == "no_command" and not np.any(out.drive)
    outputs = drive_loop(controller, 3.0, t0=0.0, command=(0.3, 0.0))
    assert outputs[-1].vx == pytest.approx(0.3)


def test_same_inputs_give_identical_outputs(model):
    runs = []
    for _ in range(2):
        controller = BaseController(model, make_limits())
        outputs = drive_loop(controller, 2.0, command=(0.25, -0.2))
        runs.append(np.concatenate([np.concatenate([o.steer, o.drive]) for o in outputs]))
    assert runs[0].tobytes() == runs[1].tobytes()
