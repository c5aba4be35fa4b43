"""Wheel kinematics of an all-wheel-drive, corner-steered rover (ROS-free).

One model of the wheel layout serves both directions:

* :func:`wheel_commands` turns a body twist (vx, wz) into steer angles and drive rates — arcs about
  one instantaneous centre of rotation on the body's y axis, or a turn in place when the arc is
  tighter than the steering allows — and scales all wheels together to respect the drive limit;
* :func:`body_velocity` inverts it: the planar body velocity (vx, vy, wz) that best explains the
  measured wheel rates and steer angles, by weighted least squares over every wheel's rolling and
  no-side-slip constraints, with per-wheel residuals that expose a slipping or failed wheel.

Contact points come from :meth:`RoverModel.wheel_centres`, so rocker/bogie angles move them.
Reference: Muirhead, "Explicit Kinematic Equations for Rocker-Bogie Mobility" (JPL, 2004), and the
rigid-body relation v_i = v + w x r_i.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rover_autonomy.rover_model import RoverModel


@dataclass(frozen=True)
class WheelCommand:
    steer: np.ndarray  # [rad] steerable wheels, in RoverModel.steer_joints order
    drive: np.ndarray  # [rad/s] all wheels, in RoverModel.drive_joints order
    vx: float  # [m/s] body twist actually commanded after limiting
    wz: float  # [rad/s]
    point_turn: bool


def _fold(angle: np.ndarray, speed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold steer angles into (-pi/2, pi/2], reversing the wheel where the angle was flipped."""
    flip = np.abs(angle) > math.pi / 2 + 1e-9
    angle = np.where(flip, angle - np.sign(angle) * math.pi, angle)
    return angle, np.where(flip, -speed, speed)


def wheel_commands(
    model: RoverModel,
    vx: float,
    wz: float,
    centres: np.ndarray | None = None,
    point_turn_margin: float = 0.0,
) -> WheelCommand:
    """Steer angles and drive rates realising the body twist (vx [m/s], wz [rad/s]).

    When the arc radius |vx / wz| is smaller than what the steering limits allow (plus
    ``point_turn_margin`` [m]), the rover turns in place at wz and vx is dropped. Drive rates are
    scaled down together when one wheel would exceed ``wheel_max_rate``, so the path curvature is kept.
    """
    if not (math.isfinite(vx) and math.isfinite(wz)):
        raise ValueError(f"body twist must be finite, got vx={vx}, wz={wz}")
    centres = model.nominal_wheel_centres() if centres is None else centres
    x, y = centres[:, 0], centres[:, 1]
    radius = abs(vx / wz) if wz != 0 else math.inf
    point_turn = wz != 0 and radius < model.min_turn_radius + point_turn_margin
    if point_turn:
        vx = 0.0
    vel_x = vx - wz * y
    vel_y = wz * x
    steerable = np.array([w.steerable for w in model.wheels])
    angle = np.where(steerable, np.arctan2(vel_y, vel_x), 0.0)
    speed = np.where(steerable, np.hypot(vel_x, vel_y), vel_x)
    angle, speed = _fold(angle, speed)
    steer = np.clip(angle[steerable], model.steering.min_angle, model.steering.max_angle)
    rate = speed / model.wheel_radius
    peak = float(np.max(np.abs(rate))) if rate.size else 0.0
    scale = min(1.0, model.wheel_max_rate / peak) if peak > 0 else 1.0
    return WheelCommand(steer=steer, drive=rate * scale, vx=vx * scale, wz=wz * scale, point_turn=point_turn)


@dataclass(frozen=True)
class BodyVelocity:
    vx: float  # [m/s] along base_link x
    vy: float  # [m/s]
    wz: float  # [rad/s]
    residuals: np.ndarray  # (N,) per-wheel rolling-constraint residual [m/s]
    rms_residual: float  # [m/s] over all constraints used


def body_velocity(
    model: RoverModel,
    steer: np.ndarray,
    drive: np.ndarray,
    centres: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> BodyVelocity:
    """Planar body velocity that best explains the wheels, by weighted least squares.

    ``steer`` holds the steerable wheels' angles (steer_joints order), ``drive`` every wheel's rate
    [rad/s] (drive_joints order); ``weights`` (N,) down-weights wheels (0 drops one). Each wheel adds a
    rolling constraint (ground speed along the wheel = rate x radius) and a no-side-slip constraint.
    """
    centres = model.nominal_wheel_centres() if centres is None else centres
    n = len(model.wheels)
    drive = np.asarray(drive, dtype=float)
    if drive.shape != (n,):
        raise ValueError(f"expected {n} drive rates, got shape {drive.shape}")
    steerable = np.array([w.steerable for w in model.wheels])
    angle = np.zeros(n)
    angle[steerable] = np.asarray(steer, dtype=float)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    c, s = np.cos(angle), np.sin(angle)
    x, y = centres[:, 0], centres[:, 1]
    # Ground velocity at wheel i: (vx - wz*y_i, vy + wz*x_i).
    rolling = np.stack([c, s, -c * y + s * x], axis=1)
    lateral = np.stack([-s, c, s * y + c * x], axis=1)
    a = np.vstack([rolling, lateral]) * np.concatenate([w, w])[:, None]
    b = np.concatenate([drive * model.wheel_radius, np.zeros(n)]) * np.concatenate([w, w])
    solution, *_ = np.linalg.lstsq(a, b, rcond=None)
    target = np.concatenate([drive * model.wheel_radius, np.zeros(n)])
    all_residuals = np.vstack([rolling, lateral]) @ solution - target
    used = np.concatenate([w, w]) > 0
    rms = float(np.sqrt(np.mean(all_residuals[used] ** 2))) if used.any() else 0.0
    residuals = all_residuals[:n]
    return BodyVelocity(float(solution[0]), float(solution[1]), float(solution[2]), residuals, rms)
