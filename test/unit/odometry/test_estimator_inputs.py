"""Wheel odometry core on bad input: every case warns (an Issue), keeps serving and stays sane."""

import math

import numpy as np
import pytest

from rover_autonomy.harness.drives import Segment, joint_message, replay, synthesise
from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.ekf import State
from rover_autonomy.odometry.estimator import WARN, WheelOdometry
from rover_autonomy.rover_model import load_rover_model


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


@pytest.fixture(scope="module")
def drive(model):
    return synthesise(model, [Segment(8, 0.3, 0.1)], gravity=3.711, seed=11)


def make(model):
    return WheelOdometry(model, OdometryConfig.from_model(model, gravity=3.711))


def feed(odometry, model, drive, joints=None, imu=None, start=0.0):
    """Replay with hooks: joints(j, names, positions, velocities) -> message or None; imu(k, g, a) -> (g, a) or None."""
    index = dict(zip(drive.joint_index.tolist(), range(len(drive.joint_index)), strict=True))
    results = []
    for k, t in enumerate(drive.stamps):
        sample = (drive.gyro[k], drive.accel[k])
        sample = imu(k, *sample) if imu else sample
        if sample is not None:
            results += odometry.add_imu(start + float(t), *sample)
        if k in index:
            message = joint_message(model, drive, index[k])
            message = joints(index[k], *message) if joints else message
            if message is not None:
                results += odometry.add_joint_state(start + float(t), *message)
    return results


def error(drive, results):
    k = round(results[-1].stamp * 100)
    return float(np.linalg.norm(results[-1].position - drive.position[k]))


def keys(odometry):
    return {issue.key for issue in odometry.pop_issues()}


def test_missing_joints_are_reported_and_the_other_wheels_carry_on(model, drive):
    dropped = {"drive_front_left", "steer_rear_right", "bogie_left"}

    def without(j, names, positions, velocities):
        keep = [i for i, n in enumerate(names) if n not in dropped]
        return [names[i] for i in keep], [positions[i] for i in keep], [velocities[i] for i in keep]

    odometry = make(model)
    results = feed(odometry, model, drive, joints=without)
    assert "missing-joints" in keys(odometry)
    assert error(drive, results) < 0.02 * drive.distance
    assert results[-1].wheel_weights[0] == 0.0 and results[-1].wheel_weights[5] == 0.0


def test_unknown_joint_names_are_ignored_with_a_warning(model, drive):
    def extra(j, names, positions, velocities):
        return [*names, "mast_pan", "arm_shoulder"], [*positions, 0.3, 1.0], [*velocities, 0.0, 0.0]

    odometry = make(model)
    results = feed(odometry, model, drive, joints=extra)
    issues = odometry.pop_issues()
    assert any(i.key == "unknown-joints" and "mast_pan" in i.message for i in issues)
    assert error(drive, results) < 0.02 * drive.distance


def test_nan_velocities_fall_back_to_position_differences(model, drive):
    def nan_rates(j, names, positions, velocities):
        return names, positions, [math.nan] * len(velocities)

    odometry = make(model)
    results = feed(odometry, model, drive, joints=nan_rates)
    assert "nan-velocity" in keys(odometry)
    assert error(drive, results) < 0.02 * drive.distance


def test_too_few_wheels_and_ragged_arrays_do_not_crash(model, drive):
    def one_wheel(j, names, positions, velocities):
        return names[:1], positions[:1], velocities  # velocities longer than names

    odometry = make(model)
    results = feed(odometry, model, drive, joints=one_wheel)
    found = keys(odometry)
    assert {"too-few-wheels", "joint-lengths"} <= found
    assert len(results) == len(drive.joint_index) and np.all(np.isfinite(results[-1].position))


def test_out_of_order_and_duplicate_stamps_are_dropped(model, drive):
    odometry = make(model)
    reference = feed(make(model), model, drive)
    names, positions, velocities = joint_message(model, drive, 10)
    seen = []

    def meddle(j, n, p, v):
        if j == 50:  # a stale sample from 1.6 s before, and a repeat of the previous stamp
            seen.append(odometry.add_joint_state(0.4, names, positions, velocities))
            seen.append(odometry.add_joint_state(float(drive.stamps[drive.joint_index[49]]), n, p, v))
        return n, p, v

    results = feed(odometry, model, drive, joints=meddle)
    assert seen == [[], []]
    found = keys(odometry)
    assert {"out_of_order-joint_states", "duplicate-joint_states"} <= found
    assert results[-1].position.tobytes() == reference[-1].position.tobytes()


def test_time_going_backwards_resets_cleanly(model, drive):
    odometry = make(model)
    first = feed(odometry, model, drive, start=100.0)
    assert np.linalg.norm(first[-1].position) > 1.0
    second = feed(odometry, model, drive, start=0.0)  # the simulator restarted
    assert "reset" in keys(odometry) and odometry.resets == 1
    reference = feed(make(model), model, drive)
    assert second[-1].position.tobytes() == reference[-1].position.tobytes()


def test_imu_dropout_runs_on_wheels_with_inflated_covariance(model, drive):
    def dropout(k, gyro, accel):
        return None if 300 <= k < 700 else (gyro, accel)

    odometry = make(model)
    results = feed(odometry, model, drive, imu=dropout)
    reference = feed(make(model), model, drive)
    during = [i for i, r in enumerate(results) if 5.0 < r.stamp < 7.0]
    assert during and all(not results[i].imu_ok for i in during)
    assert "imu-dropout" in keys(odometry)
    i = during[-1]
    yaw = State.YAW - State.X
    assert results[i].pose_covariance[yaw, yaw] > 2 * reference[i].pose_covariance[yaw, yaw]
    assert results[i].pose_covariance[3, 3] > 2 * reference[i].pose_covariance[3, 3]  # roll: no gravity
    assert results[-1].imu_ok  # the IMU came back
    assert error(drive, results) < 0.02 * drive.distance
    lost = make(model)
    feed(lost, model, drive, imu=lambda k, g, a: (g, a) if k < 300 else None)
    assert lost.status()[0] == WARN and "IMU missing" in lost.status()[1]


def test_imu_saturation_and_nan_samples_are_not_fused(model, drive):
    def corrupt(k, gyro, accel):
        if k in (200, 201):
            return np.array([0.0, 0.0, 8.7]), accel  # gyro at its range: a clipped reading
        if k == 400:
            return gyro, np.array([0.0, 0.0, 80.0])
        if k == 500:
            return np.array([math.nan, 0.0, 0.0]), accel
        return gyro, accel

    odometry = make(model)
    results = feed(odometry, model, drive, imu=corrupt)
    found = keys(odometry)
    assert {"imu-saturated", "imu-nan"} <= found and odometry.counts["imu_saturated"] == 3
    reference = feed(make(model), model, drive)
    assert abs(results[-1].rpy[2] - reference[-1].rpy[2]) < math.radians(0.2)
    assert error(drive, results) < 0.02 * drive.distance


def test_joint_states_without_any_imu_start_level(model, drive):
    odometry = make(model)
    results = replay(odometry, model, drive, imu=False)
    assert "no-imu-start" in keys(odometry)
    assert len(results) == len(drive.joint_index) and not results[-1].imu_ok
    assert error(drive, results) < 0.03 * drive.distance


def test_wheels_spinning_up_without_the_body_inflate_the_velocity_covariance(model, drive):
    def spin_up(j, names, positions, velocities):
        if j >= 200:  # from 4 s on every wheel turns twice as fast; the IMU feels no acceleration
            n = len(model.drive_joints)
            velocities = [2.0 * v for v in velocities[:n]] + list(velocities[n:])
        return names, positions, velocities

    odometry = make(model)
    results = feed(odometry, model, drive, joints=spin_up)
    reference = feed(make(model), model, drive)
    j = 210  # 0.2 s after the spin-up
    vx = 0  # twist covariance index of vx
    assert results[j].twist_covariance[vx, vx] > 4 * reference[j].twist_covariance[vx, vx]


def test_implausible_wheel_rates_are_ignored(model, drive):
    def absurd(j, names, positions, velocities):
        return names, positions, [1e6 if i == 1 else v for i, v in enumerate(velocities)]

    odometry = make(model)
    results = feed(odometry, model, drive, joints=absurd)
    assert "implausible-rate" in keys(odometry)
    assert results[-1].wheel_weights[1] == 0.0
    assert error(drive, results) < 0.02 * drive.distance


def test_gravity_is_measured_at_start_and_a_foreign_slip_model_is_not_used(model, drive):
    from rover_autonomy.odometry.slip import SlopeSlipModel

    lunar_model = SlopeSlipModel(3.0, 0.0, 0.0)  # calibrated on the Moon: must not act on Mars
    config = OdometryConfig.from_model(model, gravity=0.0, slip_model=lunar_model, slip_model_gravity=1.62)
    odometry = WheelOdometry(model, config)
    results = feed(odometry, model, drive)
    issues = odometry.pop_issues()
    measured = next(i for i in issues if i.key == "gravity")
    assert float(measured.message.split(": ")[1].split()[0]) == pytest.approx(3.711, rel=0.02)
    assert any(i.key == "slip-model-planet" for i in issues)
    assert error(drive, results) < 0.02 * drive.distance  # no slope correction applied
