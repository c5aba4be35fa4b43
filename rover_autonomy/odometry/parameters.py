"""Parameters of node ``wheel_odometry`` (pure: shared by the node, the CLI and the benchmarks)."""

from __future__ import annotations

from pathlib import Path

from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.slip import SlopeSlipModel
from rover_autonomy.parameters import ParamSpec
from rover_autonomy.resources import config_path

NODE_NAME = "wheel_odometry"
TITLE = (
    "wheel_odometry: joint_states + imu/data (+ visual_odometry/odom) -> odom (odom -> base_link), odom/slip"
)
PARAMETERS = (
    ParamSpec(
        "gravity",
        0.0,
        "Planet gravity (Mars 3.711, Moon 1.62); 0: measured by the accelerometer at start (rover at rest)",
        range=(0.0, 30.0),
        unit="m/s^2",
    ),
    ParamSpec("odom_frame", "odom", "Frame of the published pose", read_only=True),
    ParamSpec("base_frame", "base_link", "Child frame of the published pose", read_only=True),
    ParamSpec("publish_tf", True, "Publish odom -> base_link on /tf (only where tf2_msgs is importable)"),
    ParamSpec(
        "publish_rate",
        50.0,
        "Rate of odom, odom/slip and /tf: the first estimate in each whole period of stamps "
        "(so a camera frame at a multiple of the period has its pose); 0 publishes every joint_states sample",
        range=(0.0, 1000.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec(
        "accel_noise_floor",
        0.05,
        "Smallest accelerometer sigma used in the tilt correction (vibration)",
        range=(0.0, 5.0),
        unit="m/s^2",
    ),
    ParamSpec(
        "quasi_static_tolerance",
        0.05,
        "Specific-force deviation from gravity, as a fraction of g, beyond which the tilt correction is down-weighted",
        range=(0.001, 1.0),
        advanced=True,
    ),
    ParamSpec(
        "wheel_speed_sigma", 0.01, "Sigma of the wheel-derived forward speed", range=(1e-4, 1.0), unit="m/s"
    ),
    ParamSpec(
        "wheel_yaw_rate_sigma", 0.03, "Sigma of the wheel-derived yaw rate", range=(1e-4, 1.0), unit="rad/s"
    ),
    ParamSpec(
        "residual_scale",
        0.02,
        "Cauchy scale of the robust wheel fit: a wheel this far off keeps half its weight",
        range=(1e-4, 1.0),
        unit="m/s",
        advanced=True,
    ),
    ParamSpec(
        "slip_covariance_gain",
        1.0,
        "Velocity sigma grows by gain x slip x speed",
        range=(0.0, 10.0),
        advanced=True,
    ),
    ParamSpec(
        "slip_model_file",
        "slip_model.yaml",
        "Slip-versus-slope model written by rover-autonomy calibrate-slip (relative names: in the package's "
        "config/); empty, or no such file: no slope correction",
        read_only=True,
    ),
    ParamSpec(
        "climb_time_constant",
        1.0,
        "Low-pass time constant of the climb angle fed to the slip model",
        range=(0.01, 30.0),
        unit="s",
    ),
    ParamSpec(
        "slip_time_constant",
        0.5,
        "Low-pass time constant of the published slip",
        range=(0.01, 30.0),
        unit="s",
    ),
    ParamSpec("slip_warn", 0.2, "Slip reported as a warning", range=(0.0, 1.0)),
    ParamSpec(
        "slip_limit", 0.4, "Slip flagged as over the limit (an error; MER stopped at 0.4)", range=(0.0, 1.0)
    ),
    ParamSpec(
        "imu_timeout",
        0.25,
        "IMU silent this long: wheel-only odometry with inflated covariance",
        range=(0.01, 10.0),
        unit="s",
    ),
    ParamSpec(
        "use_visual_odometry",
        True,
        "Fuse the increments of visual_odometry/odom (position and measured slip); false: wheels and IMU only",
    ),
    ParamSpec(
        "visual_wheel_sigma",
        0.5,
        "How wrong the wheels may be over one visual increment, as a fraction of the distance rolled "
        "(sets how much of the disagreement goes to the wheels, and the outlier gate)",
        range=(0.01, 2.0),
        advanced=True,
    ),
    ParamSpec(
        "visual_slip_time_constant",
        1.0,
        "Low-pass time constant of the slip measured by visual odometry",
        range=(0.01, 30.0),
        unit="s",
        advanced=True,
    ),
    ParamSpec(
        "visual_timeout",
        3.0,
        "No visual increment this long: the wheel speed goes back to the slope model",
        range=(0.1, 60.0),
        unit="s",
    ),
    ParamSpec(
        "reset_jump",
        1.0,
        "Input time going back by more than this resets the odometry (simulator restart)",
        range=(0.01, 3600.0),
        unit="s",
        advanced=True,
    ),
)


def config_from(
    model, values: dict, slip_model: SlopeSlipModel | None = None, slip_model_gravity: float = 0.0
) -> OdometryConfig:
    """The core's configuration from the node's parameter values (and the rover model's IMU figures)."""
    return OdometryConfig.from_model(
        model,
        gravity=values["gravity"],
        accel_noise_floor=values["accel_noise_floor"],
        quasi_static_tolerance=values["quasi_static_tolerance"],
        wheel_speed_sigma=values["wheel_speed_sigma"],
        wheel_yaw_rate_sigma=values["wheel_yaw_rate_sigma"],
        residual_scale=values["residual_scale"],
        slip_covariance_gain=values["slip_covariance_gain"],
        slip_model=slip_model or SlopeSlipModel(),
        slip_model_gravity=slip_model_gravity,
        climb_time_constant=values["climb_time_constant"],
        slip_time_constant=values["slip_time_constant"],
        slip_warn=values["slip_warn"],
        slip_limit=values["slip_limit"],
        imu_timeout=values["imu_timeout"],
        reset_jump=values["reset_jump"],
        visual_wheel_sigma=values["visual_wheel_sigma"],
        visual_slip_time_constant=values["visual_slip_time_constant"],
        visual_timeout=values["visual_timeout"],
    )


def slip_model_path(name: str) -> Path | None:
    """Where the slip model file is: absolute names as given, relative ones in the package's config/."""
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else config_path(name)
