"""Wheel kinematics: commands from a twist, and the twist back from the wheels."""

import math

import numpy as np
import pytest

from rover_autonomy.kinematics import body_velocity, wheel_commands
from rover_autonomy.rover_model import load_rover_model


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


@pytest.mark.parametrize(("vx", "wz"), [(0.3, 0.0), (0.3, 0.2), (-0.2, 0.1), (0.4, -0.3), (0.0, 0.4)])
def test_commands_invert_to_the_same_twist(model, vx, wz):
    cmd = wheel_commands(model, vx, wz)
    est = body_velocity(model, cmd.steer, cmd.drive)
    assert est.vx == pytest.approx(cmd.vx, abs=1e-9)
    assert est.wz == pytest.approx(cmd.wz, abs=1e-9)
    assert est.vy == pytest.approx(0.0, abs=1e-9)
    assert est.rms_residual < 1e-9


def test_arc_wheels_share_one_centre_of_rotation(model):
    cmd = wheel_commands(model, 0.3, 0.2)  # radius 1.5 m, centre at (0, 1.5)
    centres = model.nominal_wheel_centres()
    steer_idx = [i for i, w in enumerate(model.wheels) if w.steerable]
    for angle, i in zip(cmd.steer, steer_idx, strict=True):
        x, y = centres[i, :2]
        assert angle == pytest.approx(math.atan2(x, 1.5 - y))
    # Each wheel's ground speed is proportional to its distance from the centre.
    dist = np.hypot(centres[:, 0], 1.5 - centres[:, 1])
    assert np.allclose(cmd.drive * model.wheel_radius, 0.2 * dist)


def test_tight_turn_becomes_point_turn_within_limits(model):
    cmd = wheel_commands(model, 0.05, 0.5)
    assert cmd.point_turn and cmd.vx == 0.0
    assert np.all(np.abs(cmd.steer) <= model.steering.max_angle)
    est = body_velocity(model, cmd.steer, cmd.drive)
    assert est.vx == pytest.approx(0.0, abs=1e-9) and est.wz == pytest.approx(cmd.wz)


def test_drive_limit_scales_all_wheels_and_keeps_curvature(model):
    cmd = wheel_commands(model, 2.0, 1.0)
    assert np.max(np.abs(cmd.drive)) == pytest.approx(model.wheel_max_rate)
    assert cmd.wz / cmd.vx == pytest.approx(0.5)


def test_slipping_wheel_shows_as_residual(model):
    cmd = wheel_commands(model, 0.3, 0.0)
    drive = cmd.drive.copy()
    drive[0] *= 2.0  # front-left spins twice as fast as the ground moves under it
    est = body_velocity(model, cmd.steer, drive)
    assert np.argmax(np.abs(est.residuals)) == 0
    weights = np.ones(len(drive))
    weights[0] = 0.0
    assert body_velocity(model, cmd.steer, drive, weights=weights).vx == pytest.approx(0.3)


def test_rejects_bad_input(model):
    with pytest.raises(ValueError, match="finite"):
        wheel_commands(model, math.nan, 0.0)
    with pytest.raises(ValueError, match="expected 6 drive rates"):
        body_velocity(model, np.zeros(4), np.zeros(5))
