"""Parameters of node ``base_controller`` (pure: shared by the node, benchmarks and calibration drives)."""

from __future__ import annotations

from rover_autonomy.control.base_controller import ControllerLimits
from rover_autonomy.parameters import ParamSpec
from rover_autonomy.rover_model import RoverModel

NODE_NAME = "base_controller"
TITLE = "base_controller: cmd_vel -> per-wheel drive rates and corner steering angles"
PARAMETERS = (
    ParamSpec(
        "cmd_vel_stamped",
        True,
        "Subscribe to cmd_vel as geometry_msgs/TwistStamped (true) or plain geometry_msgs/Twist (false)",
        read_only=True,
    ),
    ParamSpec(
        "command_timeout", 0.5, "A cmd_vel older than this stops the wheels", range=(0.05, 10.0), unit="s"
    ),
    ParamSpec(
        "max_linear_accel", 0.5, "Body acceleration limit of the twist ramp", range=(0.01, 10.0), unit="m/s^2"
    ),
    ParamSpec(
        "max_angular_accel",
        1.0,
        "Body angular acceleration limit of the twist ramp",
        range=(0.01, 20.0),
        unit="rad/s^2",
    ),
    ParamSpec(
        "max_speed",
        0.0,
        "Commands are clamped to this speed; 0 for the rover model's limits.max_speed",
        range=(0.0, 5.0),
        unit="m/s",
    ),
    ParamSpec(
        "max_yaw_rate",
        0.0,
        "Commands are clamped to this yaw rate; 0 for the rover model's limits.max_yaw_rate",
        range=(0.0, 5.0),
        unit="rad/s",
    ),
    ParamSpec(
        "reject_speed",
        5.0,
        "A cmd_vel faster than this is absurd: rejected and the wheels stopped",
        range=(0.1, 100.0),
        unit="m/s",
    ),
    ParamSpec(
        "reject_yaw_rate",
        5.0,
        "A cmd_vel turning faster than this is absurd: rejected and the wheels stopped",
        range=(0.1, 100.0),
        unit="rad/s",
    ),
    ParamSpec(
        "update_rate",
        20.0,
        "Commands sent on joint_states feedback at most this often (on stamps; each cmd_vel and each change "
        "of the hold or stop state is sent at once); 0 sends one per joint_states sample",
        range=(0.0, 1000.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec(
        "feedback_timeout",
        0.5,
        "Steering angles from joint_states older than this are not trusted (the commanded angles are used)",
        range=(0.01, 10.0),
        unit="s",
        advanced=True,
    ),
    ParamSpec(
        "stop_check_period",
        0.05,
        "Period of the timeout check while no input arrives (node clock)",
        range=(0.01, 1.0),
        unit="s",
        read_only=True,
        advanced=True,
    ),
)


def limits_from(model: RoverModel, values: dict | None = None) -> ControllerLimits:
    """The controller's limits from parameter values (defaults where missing) and the rover model."""
    values = {**{spec.name: spec.default for spec in PARAMETERS}, **(values or {})}
    return ControllerLimits(
        max_linear_accel=values["max_linear_accel"],
        max_angular_accel=values["max_angular_accel"],
        command_timeout=values["command_timeout"],
        max_speed=values["max_speed"] or model.limits.max_speed,
        max_yaw_rate=values["max_yaw_rate"] or model.limits.max_yaw_rate,
        reject_speed=values["reject_speed"],
        reject_yaw_rate=values["reject_yaw_rate"],
        feedback_timeout=values["feedback_timeout"],
    )
