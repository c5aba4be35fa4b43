"""Base controller core: body twist -> steering angles and wheel rates, with the limits that need time.

The geometry is :func:`rover_autonomy.kinematics.wheel_commands` (arcs about one instantaneous centre of
rotation, point turns when the arc is tighter than the steering allows, drive limit). This module adds the
stateful part, driven by input stamps only (float seconds, never the wall clock):

* the twist is ramped towards its target under linear / angular acceleration limits, scaling the whole
  step so that the arc (the ratio vx / wz) is kept, and slowed further so that no wheel exceeds the
  drive acceleration limit and no steered wheel has to turn faster than the steering rate limit;
* steering commands slew at most ``steering.max_rate``;
* "steer, then drive" (as MER and MSL arcs): drive rates are held at zero, and the ramp restarted from
  standstill, until every steered wheel's *measured* angle (``joint_states``) is within
  ``steering.tolerance`` of its target;
* a command older than the timeout, an invalid command or the emergency stop stop the wheels at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.rover_model import RoverModel

# Why the wheels are stopped (empty when driving normally).
MOVING = ""
NO_COMMAND = "no_command"
TIMEOUT = "timeout"
EMERGENCY_STOP = "emergency_stop"
INVALID_COMMAND = "invalid_command"


@dataclass(frozen=True)
class ControllerLimits:
    max_linear_accel: float  # [m/s^2] body acceleration limit of the twist ramp
    max_angular_accel: float  # [rad/s^2]
    command_timeout: float  # [s] a command older than this stops the wheels
    max_speed: float  # [m/s] commands are clamped to this
    max_yaw_rate: float  # [rad/s]
    reject_speed: float  # [m/s] commands faster than this are absurd: rejected, wheels stopped
    reject_yaw_rate: float  # [rad/s]
    feedback_timeout: float = 0.5  # [s] steering feedback older than this is not trusted
    reset_jump: float = 1.0  # [s] time going back by more than this is a reset (sim restart)


@dataclass(frozen=True)
class ControllerOutput:
    stamp: float  # [s] the input stamp this output was computed at
    steer: np.ndarray  # [rad] steer_joints order
    drive: np.ndarray  # [rad/s] drive_joints order
    vx: float  # [m/s] twist being executed (after ramp and hold)
    wz: float  # [rad/s]
    held: bool  # drive held while the steered wheels reach their angles
    stopped: str  # why the wheels are stopped (MOVING when not)
    steering_feedback: bool  # measured steering angles were used for the hold


def check_twist(
    linear: tuple[float, float, float], angular: tuple[float, float, float], limits: ControllerLimits
):
    """(vx, wz, problem, ignored): the usable twist, why it is rejected (or None), and ignored components.

    A rover with fixed middle wheels cannot move sideways or roll/pitch itself: those components are
    ignored (reported, not an error) rather than silently mixed into the arc.
    """
    values = (*linear, *angular)
    if not all(math.isfinite(v) for v in values):
        return 0.0, 0.0, f"cmd_vel contains NaN or infinite values {values}", ()
    vx, wz = float(linear[0]), float(angular[2])
    if abs(vx) > limits.reject_speed or abs(wz) > limits.reject_yaw_rate:
        return (
            0.0,
            0.0,
            f"cmd_vel is absurd (vx {vx:.3g} m/s, wz {wz:.3g} rad/s; limits for rejection "
            f"{limits.reject_speed} m/s, {limits.reject_yaw_rate} rad/s)",
            (),
        )
    ignored = tuple(
        name
        for name, v in zip(("linear.y", "linear.z", "angular.x", "angular.y"), values[1:5], strict=True)
        if abs(v) > 1e-6
    )
    return vx, wz, None, ignored


class BaseController:
    """Stateful twist -> wheel command conversion; feed it inputs, call :meth:`update` at input stamps."""

    def __init__(self, model: RoverModel, limits: ControllerLimits):
        self.model = model
        self.limits = limits
        self._steer_index = {name: i for i, name in enumerate(model.steer_joints)}
        self.reset()

    def reset(self) -> None:
        """Forget time, command and ramp state (sim reset); the steering stays where it was commanded."""
        n_steer = len(self.model.steer_joints)
        self._time: float | None = None
        self._command: tuple[float, float] | None = None
        self._command_time: float | None = None
        self._invalid = False
        self._twist = (0.0, 0.0)
        self._steer_cmd = getattr(self, "_steer_cmd", np.zeros(n_steer))
        self._drive = np.zeros(len(self.model.wheels))
        self._measured: np.ndarray | None = None
        self._measured_time: float | None = None
        self._estop = getattr(self, "_estop", False)  # an e-stop survives a reset

    # -- inputs ------------------------------------------------------------------------------
    def _advance(self, t: float) -> float:
        """Move the controller clock to t; returns dt [s] (0 for out-of-order stamps)."""
        if self._time is not None and t < self._time - self.limits.reset_jump:
            self.reset()
        if self._time is None:
            self._time = t
            return 0.0
        dt = max(0.0, t - self._time)
        self._time = max(self._time, t)
        return dt

    def set_command(self, t: float, vx: float, wz: float) -> None:
        """A valid body twist received at t [s]: clamped to the navigation limits."""
        if self._time is not None and t < self._time - self.limits.reset_jump:
            self.reset()
        vx = float(np.clip(vx, -self.limits.max_speed, self.limits.max_speed))
        wz = float(np.clip(wz, -self.limits.max_yaw_rate, self.limits.max_yaw_rate))
        self._command, self._command_time, self._invalid = (vx, wz), t, False

    def reject_command(self, t: float) -> None:
        """An invalid command received at t: the wheels stop until the next valid one."""
        self._command, self._command_time, self._invalid = None, t, True

    def set_emergency_stop(self, active: bool) -> None:
        self._estop = bool(active)

    @property
    def emergency_stop(self) -> bool:
        return self._estop

    def set_steering_feedback(self, t: float, angles: np.ndarray) -> None:
        """Measured steering angles [rad] in steer_joints order (NaN where a joint was not reported)."""
        angles = np.asarray(angles, dtype=float)
        if self._measured is not None:
            angles = np.where(np.isfinite(angles), angles, self._measured)
        self._measured, self._measured_time = angles, t

    # -- output ------------------------------------------------------------------------------
    def stop_reason(self, t: float) -> str:
        if self._estop:
            return EMERGENCY_STOP
        if self._invalid:
            return INVALID_COMMAND
        if self._command is None:
            return NO_COMMAND
        if t - self._command_time > self.limits.command_timeout:
            return TIMEOUT
        return MOVING

    def needs_stop(self, t: float) -> bool:
        """True when a stop is due at t but the last output still drove the wheels (timer check)."""
        return self.stop_reason(t) != MOVING and bool(np.any(self._drive != 0.0))

    def update(self, t: float) -> ControllerOutput:
        dt = self._advance(t)
        now = self._time
        reason = self.stop_reason(now)
        feedback = self._feedback(now)
        if reason != MOVING:
            self._twist = (0.0, 0.0)
            self._drive = np.zeros_like(self._drive)
            return self._output(now, held=False, reason=reason, feedback=feedback is not None)
        # The achievable target: point turns drop vx, the drive limit scales both.
        target_cmd = wheel_commands(self.model, *self._command)
        target = (target_cmd.vx, target_cmd.wz)
        twist = self._ramp(target, dt)
        moving = twist != (0.0, 0.0)
        geometry = wheel_commands(self.model, *twist) if moving else target_cmd
        steer_target = geometry.steer if (moving or target != (0.0, 0.0)) else self._steer_cmd
        step = self.model.steering.max_rate * dt
        self._steer_cmd = self._steer_cmd + np.clip(steer_target - self._steer_cmd, -step, step)
        actual = feedback if feedback is not None else self._steer_cmd
        aligned = (
            actual.size == 0 or float(np.max(np.abs(actual - steer_target))) <= self.model.steering.tolerance
        )
        if not aligned:
            # Steer first: no drive, and the ramp starts again from standstill once aligned.
            self._twist = (0.0, 0.0)
            self._drive = np.zeros_like(self._drive)
            return self._output(now, held=True, reason=MOVING, feedback=feedback is not None)
        self._twist = twist
        self._drive = geometry.drive if moving else np.zeros_like(self._drive)
        return self._output(now, held=False, reason=MOVING, feedback=feedback is not None)

    def _feedback(self, t: float) -> np.ndarray | None:
        if self._measured is None or t - self._measured_time > self.limits.feedback_timeout:
            return None
        return self._measured

    def _ramp(self, target: tuple[float, float], dt: float) -> tuple[float, float]:
        """Step the twist towards target along the straight line (keeps the arc when starting/stopping).

        The step is the largest fraction of the remaining difference that respects the body
        acceleration limits, the wheel acceleration limit and the steering rate limit (the last two are
        linearised and refined by a few shrinking passes; a step that cannot satisfy them, because the
        steering geometry jumps, is taken whole and caught by the drive hold).
        """
        vx0, wz0 = self._twist
        dvx, dwz = target[0] - vx0, target[1] - wz0
        if dvx == 0.0 and dwz == 0.0:
            return target
        alpha = 1.0
        if dvx != 0.0:
            alpha = min(alpha, self.limits.max_linear_accel * dt / abs(dvx))
        if dwz != 0.0:
            alpha = min(alpha, self.limits.max_angular_accel * dt / abs(dwz))
        from_rest = (vx0, wz0) == (0.0, 0.0)
        first = (vx0 + alpha * dvx, wz0 + alpha * dwz)
        for _ in range(4):
            candidate = (vx0 + alpha * dvx, wz0 + alpha * dwz)
            if candidate == (0.0, 0.0):
                return candidate
            cmd = wheel_commands(self.model, *candidate)
            excess = float(np.max(np.abs(cmd.drive - self._drive))) / max(
                self.model.wheel_max_accel * dt, 1e-12
            )
            if not from_rest and cmd.steer.size:
                steer_step = float(np.max(np.abs(cmd.steer - self._steer_cmd)))
                excess = max(excess, steer_step / max(self.model.steering.max_rate * dt, 1e-12))
            if excess <= 1.0 + 1e-9:
                return candidate
            alpha /= excess
        # A jump in the geometry (crossing into a point turn, reversing an arc) cannot be ramped
        # smoothly: take the step and let the drive hold stop, steer and restart the rover.
        return first

    def _output(self, t: float, held: bool, reason: str, feedback: bool) -> ControllerOutput:
        return ControllerOutput(
            stamp=t,
            steer=self._steer_cmd.copy(),
            drive=self._drive.copy(),
            vx=self._twist[0],
            wz=self._twist[1],
            held=held,
            stopped=reason,
            steering_feedback=feedback,
        )
