"""Body velocity from the wheels: joint_states parsing and a robust least-squares fit over the layout.

The fit is :func:`rover_autonomy.kinematics.body_velocity` (the same wheel-layout model the base controller
uses), with contact points moved by the measured rocker/bogie angles (:meth:`RoverModel.wheel_centres`).
It is iterated with Cauchy weights (iteratively reweighted least squares, started from the best
leave-one-out fit when the plain fit does not explain all wheels), so a wheel whose rate the
others do not explain — spinning in sand, stalled, a failed encoder — is down-weighted and shows up as a
residual: its slip ratio is ``1 - v_ground / (w r)`` with ``v_ground`` predicted by the other wheels.
Reference: P. J. Huber, "Robust Statistics" (1981), ch. 7 (IRLS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rover_autonomy.kinematics import body_velocity
from rover_autonomy.rover_model import RoverModel


@dataclass(frozen=True)
class WheelReading:
    """One joint_states message, arranged by the rover model (NaN where a joint was not usable)."""

    stamp: float  # [s]
    steer: np.ndarray  # [rad] steer_joints order
    drive_position: np.ndarray  # [rad] drive_joints order
    drive_rate: np.ndarray  # [rad/s] drive_joints order (NaN: not given or not finite)
    suspension: dict[str, float]  # [rad] rocker/bogie angles present in the message
    unknown: tuple[str, ...]  # joint names the model does not know
    missing: tuple[str, ...]  # model joints absent or not finite in the message


def parse_joint_state(model: RoverModel, stamp: float, names, positions, velocities) -> WheelReading:
    """Arrange a JointState's arrays by the model's joint order; nothing here raises on bad content."""
    drive_index = {n: i for i, n in enumerate(model.drive_joints)}
    steer_index = {n: i for i, n in enumerate(model.steer_joints)}
    suspension_names = set(model.suspension_joints)
    n = len(model.wheels)
    steer = np.full(len(steer_index), math.nan)
    drive_position = np.full(n, math.nan)
    drive_rate = np.full(n, math.nan)
    suspension: dict[str, float] = {}
    unknown = []
    positions = list(positions)
    velocities = list(velocities)
    for k, name in enumerate(names):
        position = float(positions[k]) if k < len(positions) else math.nan
        velocity = float(velocities[k]) if k < len(velocities) else math.nan
        if name in drive_index:
            drive_position[drive_index[name]] = position if math.isfinite(position) else math.nan
            drive_rate[drive_index[name]] = velocity if math.isfinite(velocity) else math.nan
        elif name in steer_index:
            steer[steer_index[name]] = position if math.isfinite(position) else math.nan
        elif name in suspension_names:
            if math.isfinite(position):
                suspension[name] = position
        else:
            unknown.append(name)
    missing = [
        j for j, i in drive_index.items() if math.isnan(drive_rate[i]) and math.isnan(drive_position[i])
    ]
    missing += [j for j, i in steer_index.items() if math.isnan(steer[i])]
    missing += [j for j in model.suspension_joints if j not in suspension]
    return WheelReading(stamp, steer, drive_position, drive_rate, suspension, tuple(unknown), tuple(missing))


@dataclass(frozen=True)
class WheelVelocity:
    vx: float  # [m/s] base_link
    vy: float  # [m/s]
    wz: float  # [rad/s]
    weights: np.ndarray  # (N,) final robust weight of each wheel (0: not used)
    residuals: np.ndarray  # (N,) predicted ground speed along the wheel minus w r [m/s]
    wheel_slip: np.ndarray  # (N,) 1 - v_ground / (w r); NaN for wheels that are (almost) still or unused
    rms_residual: float  # [m/s]


def robust_body_velocity(
    model: RoverModel,
    steer: np.ndarray,
    drive_rate: np.ndarray,
    centres: np.ndarray,
    residual_scale: float = 0.02,
    iterations: int = 3,
    min_wheel_speed: float = 0.02,
) -> WheelVelocity | None:
    """IRLS fit of the planar body velocity; None when too few wheels are usable (< 2).

    ``steer`` / ``drive_rate`` may hold NaN for joints that were not measured: those wheels get weight 0.
    ``residual_scale`` [m/s] is the Cauchy scale: a wheel whose residual is this large keeps half its
    weight.
    """
    n = len(model.wheels)
    steerable = np.array([w.steerable for w in model.wheels])
    angles = np.zeros(n)
    angles[steerable] = steer
    valid = np.isfinite(drive_rate) & np.isfinite(angles)
    if int(valid.sum()) < 2:
        return None
    steer_filled = np.where(np.isfinite(steer), steer, 0.0)
    rate = np.where(valid, drive_rate, 0.0)
    weights = valid.astype(float)
    fit = body_velocity(model, steer_filled, rate, centres, weights)
    if fit.rms_residual > residual_scale and valid.sum() > 2:
        # Least squares spreads one bad wheel over the others: start instead from the fit without the
        # wheel whose removal explains the rest best (leave-one-out), then reweight.
        best = None
        for i in np.flatnonzero(valid):
            trial = weights.copy()
            trial[i] = 0.0
            candidate = body_velocity(model, steer_filled, rate, centres, trial)
            if best is None or candidate.rms_residual < best.rms_residual:
                best = candidate
        fit = best
    for _ in range(iterations):
        weights = valid / (1.0 + (fit.residuals / residual_scale) ** 2)
        fit = body_velocity(model, steer_filled, rate, centres, weights)
    rim = rate * model.wheel_radius
    moving = valid & (np.abs(rim) > min_wheel_speed)
    with np.errstate(invalid="ignore", divide="ignore"):
        slip = np.where(moving, -fit.residuals / np.where(moving, rim, 1.0), math.nan)
    return WheelVelocity(fit.vx, fit.vy, fit.wz, weights, fit.residuals, slip, fit.rms_residual)


class DriveRates:
    """Wheel rates from joint_states: the velocity field, or position differences when it is NaN/absent."""

    def __init__(self, n: int):
        self.n = n
        self.reset()

    def reset(self) -> None:
        self._position = np.full(self.n, math.nan)
        self._time: float | None = None

    def rates(self, reading: WheelReading) -> np.ndarray:
        rate = reading.drive_rate.copy()
        if self._time is not None and reading.stamp > self._time:
            differenced = (reading.drive_position - self._position) / (reading.stamp - self._time)
            rate = np.where(np.isnan(rate), differenced, rate)
        self._position = np.where(np.isfinite(reading.drive_position), reading.drive_position, math.nan)
        self._time = reading.stamp
        return rate
