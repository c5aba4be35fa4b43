"""Wheel odometry of a rocker-bogie rover: 3D dead reckoning fused with the IMU, with slip detection.

Inputs are replayed in (stamp, topic) order by :class:`InputSequencer` (the IMU before joint_states at
equal stamps), so the output depends only on the input sequence — bit-identical on replay. Each sample
updates one :class:`~rover_autonomy.odometry.ekf.Ekf`:

* IMU: the gyro measures the body rates; the accelerometer's specific force measures roll and pitch
  through gravity (planet gravity from the parameters, or measured at start) together with the body
  acceleration — its noise is
  inflated when the rover is not quasi-static, so tilt is corrected by gravity mostly when it is
  observable. Saturated axes are not fused.
* joint_states: the body velocity from all wheels by robust least squares over the layout, with contact
  points moved by the rocker/bogie angles (:mod:`rover_autonomy.odometry.wheels`); it is corrected by the
  slip-versus-slope model on climbs (:mod:`rover_autonomy.odometry.slip`) and fused with a covariance that
  grows with the estimated slip and with the wheel/gyro yaw-rate disagreement.

Slip is estimated from three cues: the slope model (uniform slip, invisible to the wheels), the wheel
residuals (one wheel spinning or dragging), and the wheel/IMU disagreement (yaw rate). A slip above the
limit is flagged (MER's onboard check stopped the drive at 40 %).

Visual odometry increments (:mod:`rover_autonomy.odometry.visual_fusion`) correct the position after the fact
and measure the slip directly; while they keep coming, that slip replaces the slope model's.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix, rpy_to_quaternion
from rover_autonomy.kinematics import body_velocity
from rover_autonomy.odometry.ekf import (
    ANGLES,
    POSE,
    RATES,
    TWIST,
    Ekf,
    ImuMeasurement,
    Measurement,
    ProcessNoise,
    SpecificForceMeasurement,
    State,
)
from rover_autonomy.odometry.slip import SlopeSlipModel
from rover_autonomy.odometry.visual_fusion import PoseHistory, VisualIncrement, correct
from rover_autonomy.odometry.wheels import DriveRates, parse_joint_state, robust_body_velocity
from rover_autonomy.rover_model import RoverModel

IMU, JOINTS = "imu/data", "joint_states"
TOPIC_ORDER = {IMU: 0, JOINTS: 1}  # at equal stamps the IMU goes first: odometry then includes it

OK, WARN, ERROR = "ok", "warn", "error"
RATES_INDICES = (State.VROLL, State.VPITCH, State.VYAW)


@dataclass(frozen=True)
class OdometryConfig:
    gravity: float = 3.711  # [m/s^2] planet gravity (Mars); 0: measured by the accelerometer at start
    slip_model_gravity: float = 0.0  # [m/s^2] gravity the slip model was calibrated under (0: unknown)
    gyro_sigma: float = 1.7e-3  # [rad/s] per sample
    accel_sigma: float = 0.05  # [m/s^2] per sample (noise, bias and vibration)
    gyro_range: float = 8.7  # [rad/s] saturation
    accel_range: float = 80.0  # [m/s^2]
    imu_rotation: tuple = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))  # imu_link -> base_link
    quasi_static_tolerance: float = 0.05  # [fraction of g] beyond it the tilt correction is down-weighted
    wheel_speed_sigma: float = 0.01  # [m/s]
    wheel_lateral_sigma: float = 0.02  # [m/s]
    wheel_vertical_sigma: float = 0.05  # [m/s]
    wheel_yaw_rate_sigma: float = 0.03  # [rad/s]
    residual_scale: float = 0.02  # [m/s] Cauchy scale of the wheel fit
    slip_covariance_gain: float = 1.0  # [-] velocity sigma grows by gain * slip * speed
    slip_model: SlopeSlipModel = field(default_factory=SlopeSlipModel)
    climb_time_constant: float = 1.0  # [s] low-pass of the climb angle fed to the slope model
    slip_time_constant: float = 0.5  # [s] low-pass of the published slip
    slip_warn: float = 0.2  # [-] slip reported as a warning
    slip_limit: float = 0.4  # [-] slip flagged as over the limit
    min_speed: float = 0.02  # [m/s] below it the rover is not moving (no slip estimate)
    imu_timeout: float = 0.25  # [s] IMU silent this long: wheels only, inflated attitude covariance
    dropout_angle_noise: float = 1e-4  # [rad^2/s] attitude random walk added while the IMU is missing
    reset_jump: float = 1.0  # [s] time going back by more than this is a reset (simulator restart)
    visual_wheel_sigma: float = 0.5  # [-] how wrong the wheels may be over a visual increment, per m rolled
    visual_sigma_floor: float = 0.02  # [m] ... and regardless of distance (point turns, scrub)
    visual_gate: float = 16.27  # squared Mahalanobis distance beyond which an increment is refused
    visual_slip_time_constant: float = 1.0  # [s] low-pass of the slip measured by visual odometry
    visual_timeout: float = 3.0  # [s] no increment this long: back to the slope model
    visual_history: float = 10.0  # [s] poses kept for increments that arrive late
    process_noise: ProcessNoise = field(default_factory=ProcessNoise)

    @classmethod
    def from_model(cls, model: RoverModel, **overrides) -> OdometryConfig:
        """IMU noise, ranges and mounting from the rover model; everything else from ``overrides``."""
        imu = model.imu
        gyro = math.hypot(imu.gyro_noise_density * math.sqrt(imu.rate), imu.gyro_bias_sigma)
        accel = math.hypot(imu.accel_noise_density * math.sqrt(imu.rate), imu.accel_bias_sigma)
        values = dict(
            gyro_sigma=gyro,
            accel_sigma=max(accel, overrides.pop("accel_noise_floor", 0.0)),
            gyro_range=imu.gyro_range,
            accel_range=imu.accel_range,
            imu_rotation=tuple(map(tuple, rpy_to_matrix(*imu.rpy))),
        )
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Issue:
    key: str  # stable key for throttling
    message: str
    level: str = WARN


@dataclass(frozen=True)
class OdometryEstimate:
    stamp: float  # [s]
    position: np.ndarray  # (3,) [m] in odom
    rpy: np.ndarray  # (3,) [rad]
    quaternion: np.ndarray  # (4,) x, y, z, w
    linear: np.ndarray  # (3,) [m/s] in base_link
    angular: np.ndarray  # (3,) [rad/s] in base_link
    pose_covariance: np.ndarray  # (6, 6) x, y, z, roll, pitch, yaw
    twist_covariance: np.ndarray  # (6, 6)
    slip: float  # [-] estimated body slip, 0 … 1
    slip_flag: bool  # slip over the limit
    imu_ok: bool
    climb: float  # [rad] low-passed slope along the direction of travel (positive uphill)
    wheel_speed: float  # [m/s] body speed from the wheels before the slip correction (NaN: no wheels)
    wheel_weights: np.ndarray  # (N,) robust weight of each wheel in the fit (low: slipping or failing)


class InputSequencer:
    """Releases samples of several topics in (stamp, topic) order once every live topic has passed them.

    A topic silent for ``stale_after`` [s] of input time (the IMU dropping out) stops holding the others
    back. Samples older than what was already released, and repeated stamps, are refused.
    """

    def __init__(self, topics: dict[str, int], stale_after: float):
        self.topics = topics
        self.stale_after = stale_after
        self.reset()

    def reset(self) -> None:
        self._pending: list = []
        self._latest: dict[str, float] = {}
        self._first: float | None = None
        self._released: tuple[float, int] = (-math.inf, -1)  # (stamp, topic order) of the last release
        self._count = 0

    @property
    def newest(self) -> float | None:
        return max(self._latest.values()) if self._latest else None

    def push(self, topic: str, stamp: float, payload) -> str | None:
        """Queue a sample; returns why it was refused ('duplicate', 'out_of_order') or None."""
        latest = self._latest.get(topic)
        if latest is not None and stamp == latest:
            return "duplicate"
        # Even a refused sample shows that its topic is alive again.
        self._latest[topic] = stamp if latest is None else max(latest, stamp)
        if (stamp, self.topics[topic]) <= self._released:
            return "out_of_order"
        self._first = stamp if self._first is None else min(self._first, stamp)
        heapq.heappush(self._pending, (stamp, self.topics[topic], self._count, topic, payload))
        self._count += 1
        return None

    def pop_ready(self) -> list[tuple[float, str, object]]:
        if not self._latest:
            return []
        newest = self.newest
        horizon = []
        for topic in self.topics:
            latest = self._latest.get(topic)
            if latest is None:
                if newest - self._first <= self.stale_after:
                    return []  # still waiting for this topic's first sample
            elif newest - latest <= self.stale_after:
                horizon.append(latest)
        watermark = min(horizon)
        ready = []
        while self._pending and self._pending[0][0] <= watermark:
            stamp, order, _, topic, payload = heapq.heappop(self._pending)
            ready.append((stamp, topic, payload))
            self._released = (stamp, order)
        return ready


class WheelOdometry:
    """The odometry core: feed joint states and IMU samples, get one estimate per joint state."""

    def __init__(self, model: RoverModel, config: OdometryConfig):
        self.model = model
        self.config = config
        self._imu_rotation = np.asarray(config.imu_rotation, dtype=float)
        self.sequencer = InputSequencer(TOPIC_ORDER, config.imu_timeout)
        self.ekf = Ekf(process_noise=config.process_noise)
        self._drive_rates = DriveRates(len(model.wheels))
        self.issues: list[Issue] = []
        self.resets = 0
        self.counts = {"joint_states": 0, "imu": 0, "refused": 0, "imu_saturated": 0, "visual": 0}
        self.counts["visual_refused"] = 0
        self._history = PoseHistory(config.visual_history)
        self.reset()

    # -- public API --------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the origin, forgetting every input (a simulator restart)."""
        self.sequencer.reset()
        self.ekf.reset()
        self._drive_rates.reset()
        self._initialised = False
        self._last_imu: float | None = None
        self._last_joint: float | None = None
        self._gyro_z: float | None = None
        self._climb = 0.0
        self._slip = 0.0
        self._slope_slip = 0.0
        self._wheel_slip = 0.0
        self._yaw_disagreement = 0.0
        self._velocity_disagreement = 0.0
        self._wheel_speed = math.nan
        self._weights = np.ones(len(self.model.wheels))
        self._imu_ok = False
        self._last_issue: tuple[float | None, Issue | None] = (None, None)
        self._gravity = self.config.gravity if self.config.gravity > 0 else 9.80665
        self._slip_model = self.config.slip_model
        self._history.clear()
        self._pending_visual: list[VisualIncrement] = []
        self._rolled = 0.0  # [m] forward distance the wheels rolled, before any slip correction
        self._visual_slip = 0.0
        self._last_visual: float | None = None  # end stamp of the last increment used

    def add_joint_state(self, stamp: float, names, positions, velocities) -> list[OdometryEstimate]:
        return self._add(JOINTS, stamp, (list(names), list(positions), list(velocities)))

    def add_imu(self, stamp: float, angular_velocity, linear_acceleration) -> list[OdometryEstimate]:
        return self._add(
            IMU, stamp, (np.asarray(angular_velocity, float), np.asarray(linear_acceleration, float))
        )

    def add_visual_odometry(self, start: float, end: float, translation, covariance) -> None:
        """A visual odometry increment: base_link moved ``translation`` [m] (in base_link at ``start``)
        between the frame stamps ``start`` and ``end``; applied once the wheels have reached ``end``."""
        increment = VisualIncrement(
            float(start), float(end), np.asarray(translation, float), np.asarray(covariance, float)
        )
        problem = increment.problem()
        if problem:
            self.counts["visual_refused"] += 1
            self._issue(Issue("visual-bad", f"visual odometry increment refused: {problem}"))
            return
        if self._last_joint is None or increment.end > self._last_joint:
            self._pending_visual.append(increment)
            del self._pending_visual[:-10]  # increments far ahead of the wheels: keep the newest
            return
        self._apply_visual(increment)

    def _apply_visual(self, increment: VisualIncrement) -> None:
        cfg = self.config
        outcome = correct(
            increment,
            self._history,
            cfg.visual_wheel_sigma,
            cfg.visual_sigma_floor,
            cfg.visual_gate,
            cfg.min_speed * (increment.end - increment.start),
        )
        if outcome is None or not outcome.accepted:
            self.counts["visual_refused"] += 1
            why = (
                f"older than the {cfg.visual_history:g} s of pose history"
                if outcome is None
                else f"disagrees with the wheels beyond the gate (Mahalanobis² {outcome.mahalanobis2:.0f})"
            )
            self._issue(
                Issue("visual-refused", f"visual odometry increment ending {increment.end:.3f} s {why}")
            )
            return
        self.counts["visual"] += 1
        self.ekf.x[0:3] += outcome.offset
        self._history.shift(increment.start, increment.end, outcome.offset)
        if outcome.slip is not None:
            blend = 1.0 - math.exp(-(increment.end - increment.start) / cfg.visual_slip_time_constant)
            self._visual_slip += (float(np.clip(outcome.slip, -1.0, 1.0)) - self._visual_slip) * blend
        self._last_visual = increment.end

    def reconfigure(self, config: OdometryConfig) -> None:
        """New parameters; the filter state is kept."""
        self.config = config
        self._history.seconds = config.visual_history
        if config.gravity > 0:
            self._gravity = config.gravity
        self._check_slip_model()

    def _issue(self, issue: Issue, stamp: float | None = None) -> None:
        self.issues.append(issue)
        self._last_issue = (self.sequencer.newest if stamp is None else stamp, issue)

    def pop_issues(self) -> list[Issue]:
        issues, self.issues = self.issues, []
        return issues

    def status(self) -> tuple[str, str, dict]:
        """(level, message, values) for diagnostics."""
        values = {
            "slip": f"{self._slip:.3f}",
            "slope_slip": f"{self._slope_slip:.3f}",
            "visual_slip": f"{self._visual_slip:.3f}" if self.visual_fresh else "no visual odometry",
            "wheel_slip": f"{self._wheel_slip:.3f}",
            "climb_deg": f"{math.degrees(self._climb):.1f}",
            "yaw_rate_disagreement": f"{self._yaw_disagreement:.4f}",
            "speed_disagreement": f"{self._velocity_disagreement:.4f}",
            "imu": "ok" if self._imu_ok else "missing",
            "wheel_weights": " ".join(f"{w:.2f}" for w in self._weights),
            "resets": self.resets,
            **self.counts,
        }
        if self._slip >= self.config.slip_limit:
            return ERROR, f"slip {self._slip:.0%} exceeds the limit {self.config.slip_limit:.0%}", values
        stamp, issue = self._last_issue
        newest = self.sequencer.newest
        recent = issue is not None and stamp is not None and newest is not None and newest - stamp <= 1.0
        if recent and issue.key not in ("imu-dropout", "slip-limit"):
            return issue.level, issue.message, values
        if not self._imu_ok and self._initialised:
            return WARN, "IMU missing: wheel-only odometry, attitude not corrected", values
        if self._slip >= self.config.slip_warn:
            return WARN, f"slipping: {self._slip:.0%}", values
        return OK, "tracking", values

    # -- sequencing --------------------------------------------------------------------------
    def _add(self, topic: str, stamp: float, payload) -> list[OdometryEstimate]:
        if not math.isfinite(stamp):
            self._issue(Issue("bad-stamp", f"{topic}: stamp is not finite; sample dropped"))
            return []
        newest = self.sequencer.newest
        if newest is not None and stamp < newest - self.config.reset_jump:
            self.resets += 1
            self.reset()
            message = f"{topic}: time went back {newest - stamp:.2f} s (simulator reset?): odometry reset"
            self._issue(Issue("reset", message), stamp)
        refused = self.sequencer.push(topic, stamp, payload)
        if refused:
            self.counts["refused"] += 1
            what = (
                "repeats the previous stamp" if refused == "duplicate" else "is older than data already used"
            )
            self._issue(Issue(f"{refused}-{topic}", f"{topic} at {stamp:.3f} s {what}; sample dropped"))
            return []
        estimates = []
        for t, kind, data in self.sequencer.pop_ready():
            if kind == IMU:
                self._process_imu(t, *data)
            else:
                estimate = self._process_joints(t, *data)
                if estimate is not None:
                    estimates.append(estimate)
            if not (np.all(np.isfinite(self.ekf.x)) and np.all(np.isfinite(self.ekf.P))):
                # Never publish NaN: start again from the origin and say so.
                self.resets += 1
                self.reset()
                self._issue(
                    Issue("diverged", f"odometry diverged at {t:.3f} s: reset to the origin", ERROR), t
                )
                return [e for e in estimates if e.stamp < t]
        return estimates

    # -- IMU ---------------------------------------------------------------------------------
    def _process_imu(self, t: float, gyro: np.ndarray, accel: np.ndarray) -> None:
        cfg = self.config
        self.counts["imu"] += 1
        if (
            gyro.shape != (3,)
            or accel.shape != (3,)
            or not (np.all(np.isfinite(gyro)) and np.all(np.isfinite(accel)))
        ):
            self._issue(Issue("imu-nan", "imu/data contains NaN or infinite values; sample dropped"))
            return
        gyro_saturated = bool(np.any(np.abs(gyro) >= 0.99 * cfg.gyro_range))
        accel_saturated = bool(np.any(np.abs(accel) >= 0.99 * cfg.accel_range))
        if gyro_saturated or accel_saturated:
            self.counts["imu_saturated"] += 1
            which = " and ".join(
                n for n, s in (("gyro", gyro_saturated), ("accelerometer", accel_saturated)) if s
            )
            self._issue(Issue("imu-saturated", f"IMU {which} saturated: those axes not fused"))
        gyro = self._imu_rotation @ gyro
        accel = self._imu_rotation @ accel
        if not self._initialised:
            if accel_saturated:
                return
            self._initialise(t, accel)
        self.ekf.predict(t)
        gyro_covariance = np.eye(3) * cfg.gyro_sigma**2
        if not accel_saturated:
            # Far from quasi-static (bumps, impacts) the specific force says little about gravity.
            dynamic = abs(float(np.linalg.norm(accel)) - self._gravity) / self._gravity
            sigma = cfg.accel_sigma * (1.0 + (dynamic / cfg.quasi_static_tolerance) ** 2)
            accel_covariance = np.eye(3) * sigma**2
        if not (gyro_saturated or accel_saturated):
            covariance = np.zeros((6, 6))
            covariance[:3, :3], covariance[3:, 3:] = gyro_covariance, accel_covariance
            values = np.concatenate([gyro, accel])
            self.ekf.correct(ImuMeasurement("imu", values, covariance, gravity=self._gravity))
        elif not gyro_saturated:
            self.ekf.correct(Measurement("gyro", gyro, gyro_covariance, RATES_INDICES))
        elif not accel_saturated:
            self.ekf.correct(
                SpecificForceMeasurement("accel", accel, accel_covariance, gravity=self._gravity)
            )
        if not gyro_saturated:
            self._gyro_z = float(gyro[2])
        self._last_imu = t
        self._imu_ok = True

    def _initialise(self, t: float, accel: np.ndarray | None) -> None:
        attitude, sigma = (0.0, 0.0), math.radians(5.0)  # without an IMU: level, give or take 5 deg
        if accel is not None:
            attitude = (math.atan2(accel[1], accel[2]), math.atan2(-accel[0], math.hypot(accel[1], accel[2])))
            if self.config.gravity <= 0.0:
                self._gravity = float(np.linalg.norm(accel))  # at rest the accelerometer reads g
                self._issue(Issue("gravity", f"gravity measured at start: {self._gravity:.3f} m/s^2", OK))
            sigma = self.config.accel_sigma / self._gravity  # one sample; later samples refine it
            self._check_slip_model()
        self.ekf.reset(t, attitude, sigma)
        self._initialised = True

    def _check_slip_model(self) -> None:
        """A slope model calibrated under another gravity belongs to another planet's soil: not used."""
        calibrated = self.config.slip_model_gravity
        self._slip_model = self.config.slip_model
        if calibrated > 0 and abs(calibrated - self._gravity) > 0.1 * self._gravity:
            self._slip_model = SlopeSlipModel()
            self._issue(
                Issue(
                    "slip-model-planet",
                    f"slip model calibrated under g = {calibrated:.2f} m/s^2, here {self._gravity:.2f}: not used",
                )
            )

    # -- wheels ------------------------------------------------------------------------------
    def _process_joints(self, t: float, names, positions, velocities) -> OdometryEstimate | None:
        cfg = self.config
        self.counts["joint_states"] += 1
        if len(positions) not in (0, len(names)) or len(velocities) not in (0, len(names)):
            self._issue(
                Issue(
                    "joint-lengths", "joint_states arrays differ in length from name; extra entries ignored"
                )
            )
        reading = parse_joint_state(self.model, t, names, positions, velocities)
        if reading.unknown:
            self._issue(
                Issue("unknown-joints", f"joint_states: unknown joints ignored: {', '.join(reading.unknown)}")
            )
        if reading.missing:
            self._issue(Issue("missing-joints", f"joint_states lacks usable {', '.join(reading.missing)}"))
        if not self._initialised:
            self._issue(Issue("no-imu-start", "no IMU at start: assuming the rover starts level"))
            self._initialise(t, None)
        self.ekf.predict(t)
        dt = 0.0 if self._last_joint is None else max(0.0, t - self._last_joint)
        self._last_joint = t
        self._imu_ok = self._last_imu is not None and t - self._last_imu <= cfg.imu_timeout
        if not self._imu_ok:
            self._issue(Issue("imu-dropout", "no imu/data: wheel-only odometry, covariance inflated"))
            self.ekf.P[ANGLES, ANGLES] += np.eye(3) * cfg.dropout_angle_noise * dt

        rates = self._drive_rates.rates(reading)
        implausible = np.abs(rates) > 3.0 * self.model.wheel_max_rate
        if np.any(implausible):
            names = ", ".join(j for j, bad in zip(self.model.drive_joints, implausible, strict=True) if bad)
            self._issue(Issue("implausible-rate", f"joint_states: implausible drive rates ignored ({names})"))
            rates = np.where(implausible, math.nan, rates)
        nan_rates = np.isnan(reading.drive_rate) & np.isfinite(rates)
        if np.any(nan_rates):
            self._issue(
                Issue("nan-velocity", "joint_states drive velocities NaN: using position differences")
            )
        centres = self.model.wheel_centres(reading.suspension)
        wheels = robust_body_velocity(self.model, reading.steer, rates, centres, cfg.residual_scale)
        self._wheel_speed = math.nan if wheels is None else wheels.vx
        if wheels is None:
            self._issue(Issue("too-few-wheels", "fewer than 2 usable wheels: odometry coasts on the IMU"))
        else:
            self._rolled += wheels.vx * dt
            self._fuse_wheels(dt, wheels)
        self._history.append(t, self.ekf.x[0:3], rpy_to_matrix(*self.ekf.x[ANGLES]), self._rolled)
        ready = [v for v in self._pending_visual if v.end <= t]
        self._pending_visual = [v for v in self._pending_visual if v.end > t]
        for increment in ready:
            self._apply_visual(increment)
        return self._estimate(t)

    @property
    def visual_fresh(self) -> bool:
        """Visual odometry measured the slip recently: it replaces the slope model."""
        newest = self._last_joint
        return (
            self._last_visual is not None
            and newest is not None
            and newest - self._last_visual <= self.config.visual_timeout
        )

    def _fuse_wheels(self, dt: float, wheels) -> None:
        cfg = self.config
        x = self.ekf.x
        moving = abs(wheels.vx) > cfg.min_speed
        blend = 1.0 - math.exp(-dt / cfg.climb_time_constant) if dt > 0 else 0.0
        if moving:
            # Climb angle: slope along the direction of travel (body x tilted by pitch, REP-103 sign).
            climb = -math.copysign(1.0, wheels.vx) * float(x[State.PITCH])
            self._climb += (climb - self._climb) * blend
        self._slope_slip = self._slip_model.slip(self._climb) if moving else 0.0
        # Visual odometry measures the slip itself (on slopes, sand and rocks alike): it replaces the
        # slope model while it keeps coming.
        scale_slip = self._visual_slip if self.visual_fresh else self._slope_slip
        slipping = wheels.wheel_slip[np.isfinite(wheels.wheel_slip)]
        self._wheel_slip = float(np.mean(np.clip(slipping, 0.0, 1.0))) if slipping.size else 0.0
        self._weights = wheels.weights
        body_slip = 1.0 - (1.0 - max(scale_slip, 0.0)) * (1.0 - self._wheel_slip) if moving else 0.0
        slip_blend = 1.0 - math.exp(-dt / cfg.slip_time_constant) if dt > 0 else 0.0
        self._slip += (body_slip - self._slip) * slip_blend

        factor = 1.0 - scale_slip
        vx, vy, wz = wheels.vx * factor, wheels.vy * factor, wheels.wz * factor
        # Wheel/IMU disagreement: yaw rate against the gyro, and speed against the velocity the filter
        # carried forward with the accelerometer (a wheel spin-up the body does not follow).
        self._yaw_disagreement = (
            abs(wz - self._gyro_z) if (self._imu_ok and self._gyro_z is not None) else 0.0
        )
        innovation = abs(vx - float(x[State.VX])) if self._imu_ok else 0.0
        self._velocity_disagreement += (innovation - self._velocity_disagreement) * slip_blend
        # The velocity carried on the accelerometer drifts within seconds (bias, tilt): it may cast doubt
        # on moving wheels, bounded to half their speed, but never on still ones (a rover whose wheels
        # stand still is not moving: the wheels then pin the velocity).
        doubt = min(self._velocity_disagreement, 0.5 * abs(vx)) if moving else 0.0
        gain = cfg.slip_covariance_gain * self._slip
        sigma_v = math.hypot(math.hypot(cfg.wheel_speed_sigma, gain * abs(vx)), doubt)
        sigma_lat = math.hypot(cfg.wheel_lateral_sigma, gain * abs(vx))
        sigma_wz = math.hypot(math.hypot(cfg.wheel_yaw_rate_sigma, gain * abs(wz)), self._yaw_disagreement)
        self.ekf.correct(
            Measurement(
                "wheels",
                np.array([vx, vy, 0.0, wz]),
                np.diag([sigma_v**2, sigma_lat**2, cfg.wheel_vertical_sigma**2, sigma_wz**2]),
                (State.VX, State.VY, State.VZ, State.VYAW),
            )
        )
        if self._slip >= cfg.slip_limit:
            self._issue(
                Issue("slip-limit", f"slip {self._slip:.0%} exceeds the limit {cfg.slip_limit:.0%}", ERROR)
            )

    def _estimate(self, t: float) -> OdometryEstimate:
        x, P = self.ekf.x, self.ekf.P
        rpy = x[ANGLES].copy()
        return OdometryEstimate(
            stamp=t,
            position=x[0:3].copy(),
            rpy=rpy,
            quaternion=rpy_to_quaternion(*rpy),
            linear=x[TWIST][:3].copy(),
            angular=x[RATES].copy(),
            pose_covariance=P[POSE, POSE].copy(),
            twist_covariance=P[TWIST, TWIST].copy(),
            slip=float(np.clip(self._slip, 0.0, 1.0)),
            slip_flag=self._slip >= self.config.slip_limit,
            imu_ok=self._imu_ok,
            climb=self._climb,
            wheel_speed=self._wheel_speed,
            wheel_weights=self._weights.copy(),
        )


class PlanarWheelOdometry:
    """The naive reference: 2D dead reckoning of (vx, wz) from the wheels at nominal geometry, no IMU."""

    def __init__(self, model: RoverModel):
        self.model = model
        self.pose = np.zeros(3)  # x, y, yaw
        self._time: float | None = None

    def add(self, stamp: float, steer: np.ndarray, drive: np.ndarray) -> np.ndarray:
        fit = body_velocity(self.model, steer, drive)
        if self._time is not None and stamp > self._time:
            dt = stamp - self._time
            yaw = self.pose[2] + 0.5 * fit.wz * dt
            self.pose += np.array([fit.vx * math.cos(yaw) * dt, fit.vx * math.sin(yaw) * dt, fit.wz * dt])
        self._time = stamp
        return self.pose.copy()
