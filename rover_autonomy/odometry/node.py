"""Node ``wheel_odometry``: ``joint_states`` + ``imu/data`` -> ``odom``, ``odom/slip``, diagnostics.

Thin ROS layer over :mod:`rover_autonomy.odometry.estimator`: converts messages, hands them to the core
(which orders them by stamp and fuses them) and publishes one ``nav_msgs/Odometry`` per joint_states
sample, stamped with that sample's stamp. ``odom -> base_link`` goes to ``/tf`` only where ``tf2_msgs``
is importable (the stack itself never needs TF).
"""

from __future__ import annotations

from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float32

from rover_autonomy.odometry.estimator import ERROR as CORE_ERROR
from rover_autonomy.odometry.estimator import OK as CORE_OK
from rover_autonomy.odometry.estimator import OdometryConfig, OdometryEstimate, WheelOdometry
from rover_autonomy.odometry.slip import SlopeSlipModel
from rover_autonomy.parameters import ParamSpec
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    OdometryData,
    data_to_odometry,
    ns_to_stamp,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import ERROR, OK, WARN, RoverNode, run_node
from rover_autonomy.rover_model import load_rover_model

try:  # TF only for tools (RViz); not installable from PyPI here
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
except ImportError:
    TFMessage = None

NODE_NAME = "wheel_odometry"
TITLE = "wheel_odometry: joint_states + imu/data -> odom (odom -> base_link), odom/slip"
PARAMETERS = (
    ParamSpec(
        "rover_model", "", "Rover model file; empty for the package's config/rover.yaml", read_only=True
    ),
    ParamSpec(
        "gravity",
        3.711,
        "Planet gravity (Mars 3.711, Moon 1.62, Earth 9.81)",
        range=(0.1, 30.0),
        unit="m/s^2",
    ),
    ParamSpec("odom_frame", "odom", "Frame of the published pose", read_only=True),
    ParamSpec("base_frame", "base_link", "Child frame of the published pose", read_only=True),
    ParamSpec("publish_tf", True, "Publish odom -> base_link on /tf (only where tf2_msgs is importable)"),
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
        "slip_model",
        [0.0, 0.0, 0.0],
        "Slip-versus-slope coefficients [a1 (1/rad), a2 (1/rad^2), b1 (1/rad)] of "
        "s = a1 max(theta,0) + a2 max(theta,0)^2 + b1 min(theta,0); written by rover-autonomy calibrate-slip",
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
        "reset_jump",
        1.0,
        "Input time going back by more than this resets the odometry (simulator restart)",
        range=(0.01, 3600.0),
        unit="s",
        advanced=True,
    ),
)


def config_from(model, values: dict) -> OdometryConfig:
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
        slip_model=SlopeSlipModel.from_coefficients(values["slip_model"]),
        climb_time_constant=values["climb_time_constant"],
        slip_time_constant=values["slip_time_constant"],
        slip_warn=values["slip_warn"],
        slip_limit=values["slip_limit"],
        imu_timeout=values["imu_timeout"],
        reset_jump=values["reset_jump"],
    )


class WheelOdometryNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        problem = self.check_parameters(vars(self.params))
        if problem:
            raise ValueError(problem)
        self.model = load_rover_model(self.params.rover_model or None)
        self.odometry = WheelOdometry(self.model, config_from(self.model, vars(self.params)))
        sensors = qos.profile("sensors")
        self._odom_pub = self.create_publisher(Odometry, "odom", sensors)
        self._slip_pub = self.create_publisher(Float32, "odom/slip", sensors)
        self._tf_pub = self.create_publisher(TFMessage, "/tf", 100) if TFMessage is not None else None
        self.create_subscription(
            JointState,
            "joint_states",
            self._on_joint_states,
            sensors,
            qos_overriding_options=qos.overridable(),
        )
        self.create_subscription(
            Imu, "imu/data", self._on_imu, sensors, qos_overriding_options=qos.overridable()
        )
        self.set_status(OK, "waiting for joint_states")

    def check_parameters(self, values: dict) -> str | None:
        if len(values["slip_model"]) != 3:
            return f"slip_model needs 3 coefficients (a1, a2, b1), got {len(values['slip_model'])}"
        if values["slip_warn"] > values["slip_limit"]:
            return f"slip_warn {values['slip_warn']} exceeds slip_limit {values['slip_limit']}"
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        # The filter state is kept; only the configuration changes.
        self.odometry.config = config_from(self.model, vars(self.params))

    # -- inputs ------------------------------------------------------------------------------
    def _on_joint_states(self, msg: JointState) -> None:
        stamp = stamp_to_ns(msg.header.stamp) * 1e-9
        self._publish(self.odometry.add_joint_state(stamp, msg.name, msg.position, msg.velocity))

    def _on_imu(self, msg: Imu) -> None:
        w, a = msg.angular_velocity, msg.linear_acceleration
        stamp = stamp_to_ns(msg.header.stamp) * 1e-9
        self._publish(self.odometry.add_imu(stamp, (w.x, w.y, w.z), (a.x, a.y, a.z)))

    # -- outputs -----------------------------------------------------------------------------
    def _publish(self, estimates: list[OdometryEstimate]) -> None:
        for estimate in estimates:
            stamp_ns = round(estimate.stamp * 1e9)
            data = OdometryData(
                stamp_ns=stamp_ns,
                frame_id=self.params.odom_frame,
                child_frame_id=self.params.base_frame,
                position=estimate.position,
                quaternion=estimate.quaternion,
                linear=estimate.linear,
                angular=estimate.angular,
                pose_covariance=estimate.pose_covariance,
                twist_covariance=estimate.twist_covariance,
            )
            self._odom_pub.publish(data_to_odometry(data))
            self._slip_pub.publish(Float32(data=float(estimate.slip)))
            if self._tf_pub is not None and self.params.publish_tf:
                self._publish_tf(stamp_ns, estimate)
        for issue in self.odometry.pop_issues():
            level = ERROR if issue.level == CORE_ERROR else WARN
            self.warn_throttled(issue.key, issue.message, level=level)

    def _publish_tf(self, stamp_ns: int, estimate: OdometryEstimate) -> None:
        transform = TransformStamped()
        transform.header.stamp = ns_to_stamp(stamp_ns)
        transform.header.frame_id = self.params.odom_frame
        transform.child_frame_id = self.params.base_frame
        t = transform.transform
        t.translation.x, t.translation.y, t.translation.z = (float(v) for v in estimate.position)
        t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w = (float(v) for v in estimate.quaternion)
        self._tf_pub.publish(TFMessage(transforms=[transform]))

    def publish_diagnostics(self) -> None:
        level, message, values = self.odometry.status()
        levels = {CORE_OK: OK, CORE_ERROR: ERROR}
        if self.odometry.counts["joint_states"] == 0:
            self.set_status(WARN, "no joint_states received yet", **values)
        else:
            self.set_status(levels.get(level, WARN), message, **values)
        super().publish_diagnostics()


def main(args: list[str] | None = None) -> int:
    return run_node(WheelOdometryNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
