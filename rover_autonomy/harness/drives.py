"""Synthetic drives: ground truth, joint states and IMU samples of a rover following a plan over terrain.

Used to test and benchmark the odometry independently of the simulator. The rover follows a list of
commanded twists (steer in place first, then ramp, cruise, ramp down), with its body on the terrain
(body z along the terrain normal, body x the heading projected on the tangent plane). Slip makes the body
move at ``(1 - s)`` of the commanded twist while the wheels turn at the commanded rates; the slip law of
the synthetic terrain is an argument (the odometry must learn it by calibration, never read it).
Wheel rates and steering come from :func:`rover_autonomy.kinematics.wheel_commands`; the IMU signals are
differentiated from the true attitude and position (gyro from successive rotations, accelerometer from
the second difference of position plus the planet's gravity), with the rover model's IMU noise, bias and
saturation, in the IMU's mounting frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from rover_autonomy.geometry import matrix_to_rpy, rpy_to_matrix
from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.rover_model import RoverModel


class Terrain:
    """Height field h(x, y) [m] with its gradient."""

    def height(self, x: float, y: float) -> float:
        return 0.0

    def gradient(self, x: float, y: float) -> tuple[float, float]:
        return 0.0, 0.0


@dataclass(frozen=True)
class PlaneTerrain(Terrain):
    slope: float  # [rad]
    azimuth: float = 0.0  # [rad] direction of steepest ascent in the world x-y plane

    def height(self, x, y):
        return math.tan(self.slope) * (x * math.cos(self.azimuth) + y * math.sin(self.azimuth))

    def gradient(self, x, y):
        t = math.tan(self.slope)
        return t * math.cos(self.azimuth), t * math.sin(self.azimuth)


@dataclass(frozen=True)
class WavyTerrain(Terrain):
    """Sum of plane waves: (amplitude [m], wavelength [m], direction [rad], phase [rad]) each."""

    waves: tuple[tuple[float, float, float, float], ...]

    def height(self, x, y):
        return sum(
            a * math.sin(2 * math.pi * (x * math.cos(d) + y * math.sin(d)) / w + p)
            for a, w, d, p in self.waves
        )

    def gradient(self, x, y):
        gx = gy = 0.0
        for a, w, d, p in self.waves:
            k = 2 * math.pi / w
            c = a * k * math.cos(k * (x * math.cos(d) + y * math.sin(d)) + p)
            gx += c * math.cos(d)
            gy += c * math.sin(d)
        return gx, gy

    def max_slope(self) -> float:
        """Upper bound of the slope angle [rad]."""
        return math.atan(sum(2 * math.pi * a / w for a, w, _, _ in self.waves))


@dataclass(frozen=True)
class Segment:
    duration: float  # [s] at full speed (ramps and steering come on top)
    vx: float  # [m/s] commanded
    wz: float  # [rad/s]


@dataclass
class SyntheticDrive:
    stamps: np.ndarray  # (K,) [s] IMU sample times
    position: np.ndarray  # (K, 3) [m] true base_link position in odom (the start position is the origin)
    rpy: np.ndarray  # (K, 3) [rad] true attitude
    gyro: np.ndarray  # (K, 3) [rad/s] IMU reading in imu_link
    accel: np.ndarray  # (K, 3) [m/s^2]
    joint_index: np.ndarray  # (J,) indices into stamps of the joint_states samples
    steer: np.ndarray  # (J, n_steer) [rad]
    drive_rate: np.ndarray  # (J, n) [rad/s]
    drive_position: np.ndarray  # (J, n) [rad]
    suspension: dict[str, float]  # [rad] constant rocker/bogie angles
    slip: np.ndarray  # (J,) true body slip ratio
    climb: np.ndarray  # (J,) [rad] true slope along the direction of travel

    @property
    def distance(self) -> float:
        """Path length [m] (3D)."""
        return float(np.sum(np.linalg.norm(np.diff(self.position, axis=0), axis=1)))


def attitude_on_terrain(terrain: Terrain, x: float, y: float, yaw: float) -> np.ndarray:
    """Body rotation: z along the terrain normal, x in the tangent plane with azimuth ``yaw``."""
    gx, gy = terrain.gradient(x, y)
    normal = np.array([-gx, -gy, 1.0]) / math.sqrt(gx * gx + gy * gy + 1.0)
    c, s = math.cos(yaw), math.sin(yaw)
    forward = np.array([c, s, -(normal[0] * c + normal[1] * s) / normal[2]])
    forward /= np.linalg.norm(forward)
    return np.column_stack([forward, np.cross(normal, forward), normal])


def _command_profile(
    model: RoverModel,
    segments,
    centres: np.ndarray,
    rate: float,
    accel: float,
    yaw_accel: float,
    steer_time: float,
):
    """Per-tick commanded twist and steering: steer in place, ramp up, cruise, ramp down."""
    twists, steers = [], []
    steer = np.zeros(len(model.steer_joints))
    for seg in segments:
        target = wheel_commands(model, seg.vx, seg.wz, centres=centres)
        n_steer = round(steer_time * rate)
        for k in range(n_steer):
            twists.append((0.0, 0.0))
            steers.append(steer + (target.steer - steer) * min(1.0, (k + 1) / (0.8 * n_steer)))
        steer = target.steer
        ramp = max(abs(target.vx) / accel, abs(target.wz) / yaw_accel, 0.2)
        n_ramp, n_cruise = round(ramp * rate), round(seg.duration * rate)
        profile = np.concatenate(
            [np.arange(1, n_ramp + 1) / n_ramp, np.ones(n_cruise), np.arange(n_ramp - 1, -1, -1) / n_ramp]
        )
        twists += [(a * target.vx, a * target.wz) for a in profile]
        steers += [steer] * len(profile)
    return np.array(twists), np.array(steers)


def synthesise(
    model: RoverModel,
    segments: list[Segment],
    terrain: Terrain | None = None,
    gravity: float = 3.711,
    slip_law: Callable[[float], float] | None = None,
    wheel_slip: dict[int, float] | None = None,
    yaw_slip: float = 0.0,
    suspension: dict[str, float] | None = None,
    seed: int = 0,
    rate: float | None = None,
    joint_decimation: int = 2,
    wheel_rate_noise: float = 0.005,
    imu_noise: bool = True,
    start_yaw: float = 0.0,
) -> SyntheticDrive:
    """Drive the plan; ``slip_law(climb [rad]) -> s`` is the terrain's slip, ``wheel_slip`` extra slip
    of single wheels (index -> s_i: that wheel turns 1 / (1 - s_i) times too fast), ``yaw_slip`` the
    share of the commanded yaw rate lost to skid when turning (wheels scrubbing sideways, as in point
    turns on loose soil)."""
    terrain = terrain or Terrain()
    rate = rate or model.imu.rate
    dt = 1.0 / rate
    rng = np.random.default_rng(seed)
    suspension = dict(suspension or {})
    centres = model.wheel_centres(suspension)
    twists, steers = _command_profile(model, segments, centres, rate, 0.5, 1.0, 1.0)
    k_total = len(twists) + 2
    twists = np.vstack([np.zeros((1, 2)), twists, np.zeros((1, 2))])
    steers = np.vstack([steers[:1] * 0, steers, steers[-1:]])

    position = np.zeros((k_total, 3))
    rotations = np.zeros((k_total, 3, 3))
    slip = np.zeros(k_total)
    climb = np.zeros(k_total)
    x, y, yaw = 0.0, 0.0, start_yaw
    for k in range(k_total):
        rotation = attitude_on_terrain(terrain, x, y, yaw)
        position[k] = (x, y, terrain.height(x, y))
        rotations[k] = rotation
        vx_cmd, wz_cmd = twists[k]
        direction = math.copysign(1.0, vx_cmd) if vx_cmd != 0 else 0.0
        climb[k] = math.asin(max(-1.0, min(1.0, rotation[2, 0] * direction)))
        slip[k] = slip_law(climb[k]) if (slip_law is not None and vx_cmd != 0.0) else 0.0
        v, w = (1.0 - slip[k]) * vx_cmd, (1.0 - slip[k]) * (1.0 - yaw_slip) * wz_cmd
        forward, normal = rotation[:, 0], rotation[:, 2]
        x += forward[0] * v * dt
        y += forward[1] * v * dt
        angle = w * dt
        turned = math.cos(angle) * forward + math.sin(angle) * np.cross(normal, forward)
        yaw = math.atan2(turned[1], turned[0])

    # IMU from the true motion: rotation increments and second differences of position.
    increments = (
        Rotation.from_matrix(np.einsum("kji,kjl->kil", rotations[:-1], rotations[1:])).as_rotvec() / dt
    )
    gyro = np.vstack([increments[:1], 0.5 * (increments[:-1] + increments[1:]), increments[-1:]])
    accel_world = np.zeros_like(position)
    accel_world[1:-1] = (position[2:] - 2 * position[1:-1] + position[:-2]) / dt**2
    specific = np.einsum("kji,kj->ki", rotations, accel_world + np.array([0.0, 0.0, gravity]))
    imu = model.imu
    if imu_noise:
        gyro = (
            gyro
            + rng.normal(0, imu.gyro_bias_sigma, 3)
            + rng.normal(0, imu.gyro_noise_density * math.sqrt(rate), gyro.shape)
        )
        specific = (
            specific
            + rng.normal(0, imu.accel_bias_sigma, 3)
            + rng.normal(0, imu.accel_noise_density * math.sqrt(rate), specific.shape)
        )
    mount = rpy_to_matrix(*imu.rpy)
    gyro = np.clip(gyro @ mount, -imu.gyro_range, imu.gyro_range)  # base_link -> imu_link: R^T v
    specific = np.clip(specific @ mount, -imu.accel_range, imu.accel_range)

    joint_index = np.arange(0, k_total, joint_decimation)
    n = len(model.wheels)
    drive_rate = np.zeros((len(joint_index), n))
    for j, k in enumerate(joint_index):
        cmd = wheel_commands(model, *twists[k], centres=centres)
        drive_rate[j] = cmd.drive
        for i, s_i in (wheel_slip or {}).items():
            drive_rate[j, i] /= 1.0 - s_i
    drive_position = np.cumsum(drive_rate * dt * joint_decimation, axis=0)
    drive_rate = drive_rate + rng.normal(0, wheel_rate_noise, drive_rate.shape)
    return SyntheticDrive(
        stamps=np.arange(k_total) * dt,
        position=position - position[0],  # in odom: the rover starts at its origin
        rpy=np.array([matrix_to_rpy(r) for r in rotations]),
        gyro=gyro,
        accel=specific,
        joint_index=joint_index,
        steer=steers[joint_index],
        drive_rate=drive_rate,
        drive_position=drive_position,
        suspension=suspension,
        slip=slip[joint_index],
        climb=climb[joint_index],
    )


def joint_names(model: RoverModel) -> list[str]:
    return [*model.drive_joints, *model.steer_joints, *model.suspension_joints]


def joint_message(
    model: RoverModel, drive: SyntheticDrive, j: int
) -> tuple[list[str], list[float], list[float]]:
    """(names, positions, velocities) of joint_states sample j, as a JointState carries them."""
    susp = [drive.suspension.get(name, 0.0) for name in model.suspension_joints]
    positions = [*drive.drive_position[j], *drive.steer[j], *susp]
    velocities = [*drive.drive_rate[j], *([0.0] * (len(model.steer_joints) + len(susp)))]
    return joint_names(model), [float(v) for v in positions], [float(v) for v in velocities]


def replay(odometry, model: RoverModel, drive: SyntheticDrive, imu: bool = True, start: float = 0.0):
    """Feed a drive to a WheelOdometry in stamp order; returns its estimates (one per joint sample).

    Stamps are quantised to nanoseconds as message headers carry them, so a node fed the same drive
    over ROS produces bit-identical output.
    """
    joints = dict(zip(drive.joint_index.tolist(), range(len(drive.joint_index)), strict=True))
    results = []
    for k, t in enumerate(drive.stamps):
        stamp = round((start + float(t)) * 1e9) * 1e-9
        if imu:
            odometry.add_imu(stamp, drive.gyro[k], drive.accel[k])
        if k in joints:
            for estimate in odometry.add_joint_state(stamp, *joint_message(model, drive, joints[k])):
                results.append(estimate)
    return results
