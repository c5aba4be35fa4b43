"""Configuration of the wheel odometry core: one frozen :class:`OdometryConfig` (IMU and wheel noise,
slip model and limits, visual fusion, time constants; units in brackets per field), built from the rover
model's IMU figures by :meth:`OdometryConfig.from_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.odometry.ekf import ProcessNoise
from rover_autonomy.odometry.slip import SlopeSlipModel
from rover_autonomy.rover_model import RoverModel


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
