"""Wheel odometry core against synthetic drives with known ground truth (flat, slopes, rough, slip)."""

import dataclasses
import math

import numpy as np
import pytest
from helpers.odometry import MARS, calibration_drive, drive_events, slope_law

from rover_autonomy.harness.drives import (
    PlaneTerrain,
    Segment,
    WavyTerrain,
    joint_message,
    replay,
    synthesise,
)
from rover_autonomy.odometry.calibration import calibrate
from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.ekf import (
    STATE_SIZE,
    Ekf,
    ImuMeasurement,
    Measurement,
    State,
)
from rover_autonomy.odometry.estimator import ERROR, PlanarWheelOdometry, WheelOdometry
from rover_autonomy.odometry.slip import SlopeSlipModel, fit_slope_slip
from rover_autonomy.rover_model import load_rover_model


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


def make_odometry(model, **overrides):
    return WheelOdometry(model, OdometryConfig.from_model(model, gravity=MARS, **overrides))


def final_errors(drive, results):
    """(position error [m], yaw error [rad]) of the last estimate against ground truth."""
    last = results[-1]
    k = round(last.stamp * 100)
    yaw = math.remainder(last.rpy[2] - drive.rpy[k, 2], 2 * math.pi)
    return float(np.linalg.norm(last.position - drive.position[k])), abs(yaw)


# -- EKF ---------------------------------------------------------------------------------------


def _numeric_jacobian(f, x, eps=1e-6):
    columns = []
    for i in range(len(x)):
        step = np.zeros_like(x)
        step[i] = eps
        columns.append((f(x + step) - f(x - step)) / (2 * eps))
    return np.stack(columns, axis=1)


def test_ekf_jacobians_match_finite_differences():
    rng = np.random.default_rng(3)
    x0 = rng.normal(0, 0.3, STATE_SIZE)

    def propagate(x):
        ekf = Ekf()
        ekf.x, ekf.time = x.copy(), 0.0
        ekf.predict(0.05)
        return ekf.x

    ekf = Ekf()
    ekf.x, ekf.time = x0.copy(), 0.0
    ekf.P = np.eye(STATE_SIZE)
    ekf.process_noise.position = ekf.process_noise.angles = 0.0
    ekf.process_noise.velocity = ekf.process_noise.rates = ekf.process_noise.acceleration = 0.0
    ekf.predict(0.05)  # P = F F^T with zero process noise
    F = _numeric_jacobian(propagate, x0)
    np.testing.assert_allclose(ekf.P, F @ F.T, atol=1e-6)

    imu = ImuMeasurement("imu", np.zeros(6), np.eye(6), gravity=MARS)
    _, H = imu.model(x0)
    np.testing.assert_allclose(H, _numeric_jacobian(lambda x: imu.model(x)[0], x0), atol=1e-7)


def test_climbing_a_slope_adds_only_the_horizontal_share_of_the_distance():
    ekf = Ekf()
    ekf.reset(0.0, attitude=(0.0, -math.radians(15)))  # nose up 15 deg (REP-103: negative pitch)
    wheels = Measurement(
        "wheels", np.array([0.3, 0.0, 0.0]), np.eye(3) * 1e-6, (State.VX, State.VY, State.VZ)
    )
    for k in range(1, 1001):
        ekf.predict(k * 0.01)
        ekf.correct(wheels)
    distance = 0.3 * 10.0
    assert ekf.x[State.X] == pytest.approx(distance * math.cos(math.radians(15)), rel=2e-3)
    assert ekf.x[State.Z] == pytest.approx(distance * math.sin(math.radians(15)), rel=2e-3)


# -- accuracy on synthetic drives ------------------------------------------------------------------

ARCS = [
    Segment(12, 0.3, 0.0),
    Segment(8, 0.3, 0.15),
    Segment(4, 0.0, 0.4),  # point turn
    Segment(8, 0.3, -0.1),
    Segment(4, -0.2, 0.0),
]


@pytest.fixture(scope="module")
def flat_drive(model):
    return synthesise(model, ARCS, gravity=MARS, seed=1)


@pytest.fixture(scope="module")
def flat_results(model, flat_drive):
    return replay(make_odometry(model), model, flat_drive)


def test_flat_arcs_and_point_turns_meet_the_drift_goals(model, flat_drive, flat_results):
    results = flat_results
    position_error, yaw_error = final_errors(flat_drive, results)
    distance = flat_drive.distance
    assert distance > 9
    assert position_error <= 0.02 * distance
    assert math.degrees(yaw_error) <= 1.0 * distance / 10
    assert all(not r.slip_flag and r.slip < 0.05 for r in results)


def test_same_input_sequence_gives_bit_identical_output(model, flat_drive, flat_results):
    again = replay(make_odometry(model), model, flat_drive)
    for a, b in zip(flat_results, again, strict=True):
        assert a.position.tobytes() == b.position.tobytes()
        assert a.pose_covariance.tobytes() == b.pose_covariance.tobytes()


def test_arrival_order_of_the_two_topics_does_not_change_the_output(model, flat_drive, flat_results):
    """joint_states arriving before the IMU sample of the same stamp: same result."""
    reference = flat_results
    odometry = make_odometry(model)
    joints = dict(zip(flat_drive.joint_index.tolist(), range(len(flat_drive.joint_index)), strict=True))
    shuffled = []
    for k, t in enumerate(flat_drive.stamps):
        stamp = round(float(t) * 1e9) * 1e-9  # as replay() quantises stamps
        if k in joints:  # joint_states first, IMU of the same stamp after it
            shuffled += odometry.add_joint_state(stamp, *joint_message(model, flat_drive, joints[k]))
        shuffled += odometry.add_imu(stamp, flat_drive.gyro[k], flat_drive.accel[k])
    assert len(shuffled) == len(reference)
    assert shuffled[-1].position.tobytes() == reference[-1].position.tobytes()


def test_slope_climb_is_not_counted_as_horizontal_distance(model):
    drive = synthesise(model, [Segment(25, 0.3, 0.0)], PlaneTerrain(math.radians(15)), gravity=MARS, seed=2)
    results = replay(make_odometry(model), model, drive)
    position_error, _ = final_errors(drive, results)
    planar = PlanarWheelOdometry(model)
    for j in range(len(drive.joint_index)):
        pose = planar.add(float(drive.stamps[drive.joint_index[j]]), drive.steer[j], drive.drive_rate[j])
    truth = drive.position[drive.joint_index[-1]]
    planar_error = abs(pose[0] - truth[0])  # the naive 2D reference counts the slope as flat ground
    assert planar_error > 0.03 * drive.distance
    assert position_error < 0.01 * drive.distance
    assert results[-1].rpy[1] == pytest.approx(-math.radians(15), abs=math.radians(0.7))


def test_rough_terrain_drift_within_five_percent(model):
    terrain = WavyTerrain(((0.15, 12.0, 0.4, 0.0), (0.06, 6.0, 2.0, 1.0), (0.015, 3.0, -1.0, 0.5)))
    assert math.degrees(terrain.max_slope()) <= 10
    drive = synthesise(model, ARCS, terrain, gravity=MARS, seed=3)
    results = replay(make_odometry(model), model, drive)
    position_error, yaw_error = final_errors(drive, results)
    assert position_error <= 0.05 * drive.distance
    assert math.degrees(yaw_error) <= 1.0 * drive.distance / 10


def test_suspension_angles_move_the_contact_points(model):
    suspension = {"rocker_left": 0.15, "rocker_right": -0.15, "bogie_left": -0.3, "bogie_right": 0.2}
    drive = synthesise(model, [Segment(6, 0.3, 0.25)], gravity=MARS, suspension=suspension, seed=4)
    results = replay(make_odometry(model), model, drive)
    assert all(
        np.all(r.wheel_weights > 0.9) for r in results
    )  # the layout at these angles explains every wheel
    position_error, _ = final_errors(drive, results)
    assert position_error < 0.015 * drive.distance
    # Control: the same wheels read as if the suspension were at rest do not fit the layout.
    unaware = replay(make_odometry(model), model, dataclasses.replace(drive, suspension={}))
    assert min(r.wheel_weights.min() for r in unaware) < 0.8


def test_a_spinning_wheel_is_down_weighted_and_reported(model):
    drive = synthesise(model, [Segment(15, 0.3, 0.0)], gravity=MARS, wheel_slip={2: 0.6}, seed=5)
    results = replay(make_odometry(model), model, drive)
    cruising = [r for r in results if r.wheel_speed > 0.29]
    assert len(cruising) > 500
    for r in cruising:
        assert r.wheel_weights[2] < 0.1 and np.all(np.delete(r.wheel_weights, 2) > 0.8)
    assert cruising[-1].slip == pytest.approx(0.6 / len(model.wheels), abs=0.03)  # one wheel of six
    position_error, _ = final_errors(drive, results)
    assert position_error < 0.01 * drive.distance


# -- slip on slopes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(model):
    events = drive_events(model, calibration_drive(model))
    return calibrate(model, OdometryConfig.from_model(model, gravity=MARS), events)


def test_calibrated_slip_model_follows_the_terrain(calibrated):
    for degrees in (5, 10, 15, 18, -10):
        theta = math.radians(degrees)
        assert calibrated.model.slip(theta) == pytest.approx(slope_law(theta), abs=0.05)


def test_sustained_climb_flags_slip_and_estimates_it(model, calibrated):
    drive = synthesise(
        model,
        [Segment(20, 0.3, 0.0)],
        PlaneTerrain(math.radians(17)),
        gravity=MARS,
        slip_law=slope_law,
        seed=7,
    )
    plain = replay(make_odometry(model), model, drive)
    odometry = make_odometry(model, slip_model=calibrated.model, slip_warn=0.2)
    results = replay(odometry, model, drive)
    start = drive.stamps[drive.joint_index[np.argmax(np.abs(drive.drive_rate[:, 0]) > 0.5)]]
    flagged = next(r.stamp for r in results if r.slip >= 0.2)
    assert flagged - start <= 5.0
    cruising = [j for j, r in enumerate(results) if r.stamp > start + 6 and abs(r.wheel_speed) > 0.25]
    errors = [results[j].slip - drive.slip[j] for j in cruising]
    assert np.max(np.abs(errors)) <= 0.10
    # The model's correction keeps position honest; the covariance says the estimate is less certain.
    corrected, _ = final_errors(drive, results)
    uncorrected, _ = final_errors(drive, plain)
    assert corrected < 0.3 * uncorrected
    assert results[-1].pose_covariance[0, 0] > 3 * plain[-1].pose_covariance[0, 0]


def test_slip_over_the_limit_is_an_error(model):
    odometry = make_odometry(model, slip_model=SlopeSlipModel(2.0, 0.0, 0.0))
    drive = synthesise(model, [Segment(10, 0.3, 0.0)], PlaneTerrain(math.radians(15)), gravity=MARS, seed=8)
    results = replay(odometry, model, drive)
    assert results[-1].slip_flag
    level, message, values = odometry.status()
    assert float(values["slip"]) >= 0.4
    assert level == ERROR and "exceeds the limit 40%" in message
    assert any(issue.key == "slip-limit" for issue in odometry.pop_issues())


def test_slip_fit_recovers_known_coefficients_and_refuses_flat_data():
    theta = np.linspace(-0.3, 0.35, 60)
    truth = SlopeSlipModel(0.4, 2.0, 0.2)
    slip = np.array([truth.slip(t) for t in theta])
    fit = fit_slope_slip(theta, slip)
    np.testing.assert_allclose(fit.model.coefficients, truth.coefficients, atol=1e-9)
    with pytest.raises(ValueError, match="never climbed"):
        fit_slope_slip(np.zeros(30), np.zeros(30))
    with pytest.raises(ValueError, match="at least 20 samples"):
        fit_slope_slip(theta[:5], slip[:5])
