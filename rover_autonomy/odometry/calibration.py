"""Slip calibration: run the odometry over a drive with ground truth and fit the slip-versus-slope model.

The odometry runs with its slope correction off, so its wheel speed is the raw ``w r`` estimate; each
joint_states sample pairs the odometry's (low-passed) climb angle with the true forward speed
(interpolated from the ground truth), and :class:`~rover_autonomy.odometry.slip.SlipCalibration`
turns windows of them into (climb, slip) pairs for :func:`~rover_autonomy.odometry.slip.fit_slope_slip`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.estimator import WheelOdometry
from rover_autonomy.odometry.inputs import IMU, JOINTS
from rover_autonomy.odometry.slip import SlipCalibration, SlipFit, SlopeSlipModel
from rover_autonomy.rover_model import RoverModel

TRUTH = "ground_truth"


def calibrate(
    model: RoverModel,
    config: OdometryConfig,
    events: Iterable[tuple[str, float, object]],
    window: float = 1.0,
) -> SlipFit:
    """Fit the slope model to a drive given as (topic, stamp [s], payload) events in any order.

    Payloads: JOINTS (names, positions, velocities); IMU (angular velocity, linear acceleration);
    TRUTH the true forward speed [m/s] along base_link x. Raises ValueError when the drive does not
    allow a fit (no ground truth, never climbed, too short).
    """
    return calibrate_drives(model, config, [events], window)


def calibrate_drives(
    model: RoverModel,
    config: OdometryConfig,
    drives: Iterable[Iterable[tuple[str, float, object]]],
    window: float = 1.0,
) -> SlipFit:
    """:func:`calibrate` over several drives, each run by its own odometry from its own start."""
    calibration = SlipCalibration(window=window)
    for events in drives:
        _collect(model, config, events, calibration)
    return calibration.fit()


def _collect(model: RoverModel, config: OdometryConfig, events, calibration: SlipCalibration) -> None:
    odometry = WheelOdometry(model, dataclasses.replace(config, slip_model=SlopeSlipModel()))
    truth_stamps, truth_speeds, estimates = [], [], []
    for topic, stamp, payload in sorted(events, key=lambda e: (e[1], e[0] != IMU)):
        if topic == TRUTH:
            truth_stamps.append(stamp)
            truth_speeds.append(float(payload))
        elif topic == IMU:
            estimates += odometry.add_imu(stamp, *payload)
        elif topic == JOINTS:
            estimates += odometry.add_joint_state(stamp, *payload)
    if len(truth_stamps) < 2:
        raise ValueError("a drive has no ground truth (ground_truth/odom)")
    if not estimates:
        raise ValueError("a drive has no usable joint_states")
    order = np.argsort(truth_stamps)
    stamps, speeds = np.asarray(truth_stamps)[order], np.asarray(truth_speeds)[order]
    for estimate in estimates:
        if stamps[0] <= estimate.stamp <= stamps[-1]:
            true_speed = float(np.interp(estimate.stamp, stamps, speeds))
            calibration.add(estimate.stamp, estimate.climb, estimate.wheel_speed, true_speed)
    calibration.end_drive()
