"""A 15-state extended Kalman filter for a ground vehicle in 3D (robot_localization's layout).

The state holds the pose in ``odom`` (position, roll/pitch/yaw), the body-frame twist, and the
body-frame linear acceleration (``dv/dt`` of the body velocity), indexed by :class:`State`.
Prediction is the omnidirectional rigid-body model: the position advances along the body's attitude
(so a slope climbed at speed v adds only v cos(slope) of horizontal distance), Euler angles advance by
the Euler-angle rates of the body angular velocity, the velocity by the acceleration.

Every sensor is a :class:`Measurement` — a value, its covariance and a model ``h(x)`` with Jacobian —
fused by the standard EKF update (Joseph form) behind a Mahalanobis gate. Wheel odometry, the gyro, the
accelerometer's specific force and, later, visual odometry are all measurements of the same state.
Time is float seconds taken from the inputs.

References: T. Moore and D. Stouch, "A Generalized Extended Kalman Filter Implementation for the
Robot Operating System" (IAS-13, 2014); J. Sola, "Quaternion kinematics for the error-state Kalman
filter" (2017) for the specific-force model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix


class State(IntEnum):
    X = 0
    Y = 1
    Z = 2
    ROLL = 3
    PITCH = 4
    YAW = 5
    VX = 6
    VY = 7
    VZ = 8
    VROLL = 9
    VPITCH = 10
    VYAW = 11
    AX = 12
    AY = 13
    AZ = 14


STATE_SIZE = len(State)
POSE = slice(State.X, State.YAW + 1)
TWIST = slice(State.VX, State.VYAW + 1)
ANGLES = slice(State.ROLL, State.YAW + 1)
VELOCITY = slice(State.VX, State.VZ + 1)
RATES = slice(State.VROLL, State.VYAW + 1)
ACCEL = slice(State.AX, State.AZ + 1)


def wrap_angle(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


@dataclass
class Measurement:
    """A linear measurement of some state members: z = x[indices] + noise."""

    name: str
    values: np.ndarray  # (M,)
    covariance: np.ndarray  # (M, M)
    indices: tuple[int, ...] = ()
    mahalanobis_threshold: float = math.inf  # reject when the innovation's distance exceeds this

    def model(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h(x), H): predicted measurement and its Jacobian (M, STATE_SIZE)."""
        jacobian = np.zeros((len(self.indices), STATE_SIZE))
        jacobian[np.arange(len(self.indices)), list(self.indices)] = 1.0
        return x[list(self.indices)], jacobian

    def angular(self) -> np.ndarray:
        """Mask of the measurement components that are angles (innovations wrapped to [-pi, pi))."""
        return np.array([i in (State.ROLL, State.PITCH, State.YAW) for i in self.indices], dtype=bool)


@dataclass
class SpecificForceMeasurement(Measurement):
    """Accelerometer specific force in base_link: f = a + w x v + R^T (0, 0, g).

    Couples the accelerometer to roll and pitch through gravity (the tilt correction of the gyro
    integration) and to the body acceleration and centripetal terms, so no separate gravity removal is
    needed.
    """

    gravity: float = 9.80665  # [m/s^2]

    def model(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        roll, pitch = x[State.ROLL], x[State.PITCH]
        cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
        g = self.gravity
        v, w, a = x[VELOCITY], x[RATES], x[ACCEL]
        centripetal = (w[1] * v[2] - w[2] * v[1], w[2] * v[0] - w[0] * v[2], w[0] * v[1] - w[1] * v[0])
        predicted = a + np.array(centripetal) + g * np.array([-sp, cp * sr, cp * cr])
        jacobian = np.zeros((3, STATE_SIZE))
        jacobian[:, State.ROLL] = g * np.array([0.0, cp * cr, -cp * sr])
        jacobian[:, State.PITCH] = g * np.array([-cp, -sp * sr, -sp * cr])
        jacobian[:, VELOCITY] = skew(w)
        jacobian[:, RATES] = -skew(v)
        jacobian[:, ACCEL] = np.eye(3)
        return predicted, jacobian

    def angular(self) -> np.ndarray:
        return np.zeros(3, dtype=bool)


@dataclass
class ImuMeasurement(SpecificForceMeasurement):
    """One IMU sample: gyro (the body rates) stacked over the accelerometer's specific force."""

    def model(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        force, force_jacobian = super().model(x)
        gyro_jacobian = np.zeros((3, STATE_SIZE))
        gyro_jacobian[:, RATES] = np.eye(3)
        return np.concatenate([x[RATES], force]), np.vstack([gyro_jacobian, force_jacobian])

    def angular(self) -> np.ndarray:
        return np.zeros(6, dtype=bool)


@dataclass
class ProcessNoise:
    """Continuous-time process noise densities; Q = diag(density) * dt."""

    position: float = 1e-6  # [m^2/s]
    angles: float = 1e-7  # [rad^2/s]
    velocity: float = 1e-3  # [m^2/s^3]
    rates: float = 0.5  # [rad^2/s^3]
    acceleration: float = 2.0  # [m^2/s^5]

    def diagonal(self) -> np.ndarray:
        return np.repeat(
            [self.position, self.angles, self.velocity, self.rates, self.acceleration], 3
        ).astype(float)


@dataclass
class Ekf:
    """State, covariance and time of the filter; predict to a stamp, correct with a measurement."""

    process_noise: ProcessNoise = field(default_factory=ProcessNoise)
    initial_variance: float = 1e-9
    x: np.ndarray = field(default_factory=lambda: np.zeros(STATE_SIZE))
    P: np.ndarray = field(default_factory=lambda: np.eye(STATE_SIZE) * 1e-9)
    time: float | None = None  # [s]

    def reset(
        self,
        time: float | None = None,
        attitude: tuple[float, float] = (0.0, 0.0),
        attitude_sigma: float = 0.0,
    ) -> None:
        """Back to the origin at ``time``; ``attitude`` is the initial (roll, pitch) [rad], known to
        ``attitude_sigma`` [rad] (the pose is otherwise exact: odom starts where the rover is)."""
        self.x = np.zeros(STATE_SIZE)
        self.x[State.ROLL], self.x[State.PITCH] = attitude
        self.P = np.eye(STATE_SIZE) * self.initial_variance
        self.P[State.ROLL, State.ROLL] += attitude_sigma**2
        self.P[State.PITCH, State.PITCH] += attitude_sigma**2
        self.P[ACCEL, ACCEL] = np.eye(3) * 0.1
        self.time = time

    def predict(self, time: float) -> None:
        """Propagate the state to ``time`` [s] (no-op for a stamp at or before the filter's time)."""
        if self.time is None:
            self.time = time
            return
        dt = time - self.time
        if dt <= 0.0:
            return
        x = self.x
        roll, pitch, yaw = x[State.ROLL], x[State.PITCH], x[State.YAW]
        cr, sr = math.cos(roll), math.sin(roll)
        cp, sp = math.cos(pitch), math.sin(pitch)
        tp = sp / cp
        p, q, r = x[RATES]
        rotation = rpy_to_matrix(roll, pitch, yaw)
        displacement = x[VELOCITY] * dt + 0.5 * x[ACCEL] * dt * dt

        F = np.eye(STATE_SIZE)
        # Position along the body's attitude.
        F[POSE.start : POSE.start + 3, VELOCITY] = rotation * dt
        F[POSE.start : POSE.start + 3, ACCEL] = rotation * (0.5 * dt * dt)
        for k, d_rotation in enumerate(_rotation_derivatives(roll, pitch, yaw)):
            F[0:3, State.ROLL + k] = d_rotation @ displacement
        # Euler angle rates of the body angular velocity (ZYX convention).
        qs_rc = q * sr + r * cr
        qc_rs = q * cr - r * sr
        rates = np.array([p + qs_rc * tp, qc_rs, qs_rc / cp])
        F[State.ROLL, State.ROLL] += dt * qc_rs * tp
        F[State.ROLL, State.PITCH] = dt * qs_rc / (cp * cp)
        F[State.ROLL, RATES] = dt * np.array([1.0, sr * tp, cr * tp])
        F[State.PITCH, State.ROLL] = -dt * qs_rc
        F[State.PITCH, RATES] = dt * np.array([0.0, cr, -sr])
        F[State.YAW, State.ROLL] = dt * qc_rs / cp
        F[State.YAW, State.PITCH] = dt * qs_rc * sp / (cp * cp)
        F[State.YAW, RATES] = dt * np.array([0.0, sr / cp, cr / cp])
        F[VELOCITY, ACCEL] = np.eye(3) * dt

        x = x.copy()
        x[0:3] += rotation @ displacement
        x[ANGLES] += rates * dt
        x[State.ROLL] = wrap_angle(x[State.ROLL])
        x[State.YAW] = wrap_angle(x[State.YAW])
        x[VELOCITY] += x[ACCEL] * dt
        self.x = x
        self.P = F @ self.P @ F.T + np.diag(self.process_noise.diagonal() * dt)
        self.time = time

    def correct(self, measurement: Measurement) -> tuple[bool, float]:
        """Fuse a measurement at the filter's time; (accepted, squared Mahalanobis distance)."""
        predicted, H = measurement.model(self.x)
        innovation = np.asarray(measurement.values, dtype=float) - predicted
        angular = measurement.angular()
        if angular.any():
            innovation[angular] = (innovation[angular] + math.pi) % (2 * math.pi) - math.pi
        S = H @ self.P @ H.T + measurement.covariance
        try:
            S_inv = np.linalg.inv(S)
        except np.linalg.LinAlgError:
            return False, math.inf
        distance = float(innovation @ S_inv @ innovation)
        if not math.isfinite(distance) or distance > measurement.mahalanobis_threshold**2:
            return False, distance
        K = self.P @ H.T @ S_inv
        self.x = self.x + K @ innovation
        self.x[State.ROLL] = wrap_angle(self.x[State.ROLL])
        self.x[State.YAW] = wrap_angle(self.x[State.YAW])
        I_KH = np.eye(STATE_SIZE) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + K @ measurement.covariance @ K.T
        self.P = 0.5 * (self.P + self.P.T)
        return True, distance


def _rotation_derivatives(roll: float, pitch: float, yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dR/droll, dR/dpitch, dR/dyaw of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    drx = np.array([[0, 0, 0], [0, -sr, -cr], [0, cr, -sr]])
    dry = np.array([[-sp, 0, cp], [0, 0, 0], [-cp, 0, -sp]])
    drz = np.array([[-sy, -cy, 0], [cy, -sy, 0], [0, 0, 0]])
    return rz @ ry @ drx, rz @ dry @ rx, drz @ ry @ rx
