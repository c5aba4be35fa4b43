"""Node ``wheel_odometry``: ``joint_states`` + ``imu/data`` (+ ``visual_odometry/odom``) -> ``odom``,
``odom/slip``, diagnostics.

Thin ROS layer over :mod:`rover_autonomy.odometry.estimator`: converts messages, hands them to the core
(which orders them by stamp and fuses them every sample) and publishes ``nav_msgs/Odometry`` at
``publish_rate``, stamped with the joint_states sample it was computed at (see
:class:`~rover_autonomy.ros_common.stamp_rate.StampRate`). Visual odometry is used differentially, as
robot_localization does with a pose source in ``differential`` mode: the motion between two consecutive
messages, skipped when the later one says it was not measured (``pose.covariance[0] = -1``).
``odom -> base_link`` goes to ``/tf`` only where ``tf2_msgs`` is importable (the stack itself never
needs TF).
"""

from __future__ import annotations

import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float32

from rover_autonomy.odometry.estimator import ERROR as CORE_ERROR
from rover_autonomy.odometry.estimator import OK as CORE_OK
from rover_autonomy.odometry.estimator import OdometryEstimate, WheelOdometry
from rover_autonomy.odometry.parameters import NODE_NAME, PARAMETERS, config_from, slip_model_path
from rover_autonomy.odometry.slip import load_slip_model
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    estimate_to_odometry,
    ns_to_stamp,
    pose_to_matrix,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import ERROR, OK, WARN, RoverNode, run_node
from rover_autonomy.ros_common.stamp_rate import StampRate

try:  # TF only for tools (RViz); not installable from PyPI here
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
except ImportError:
    TFMessage = None


class WheelOdometryNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        problem = self.check_parameters(vars(self.params))
        if problem:
            raise ValueError(problem)
        self.model = self.rover
        self.slip_model, self.slip_model_gravity = None, 0.0
        path = slip_model_path(self.params.slip_model_file)
        if path is not None and path.is_file():
            # A broken file stops the start with one line.
            self.slip_model, self.slip_model_gravity = load_slip_model(path)
            self.get_logger().info(f"slip model {path}: coefficients {self.slip_model.coefficients}")
        elif path is not None:
            self.get_logger().warning(
                f"no slip model at {path}: no slope correction (run rover-autonomy calibrate-slip)"
            )
        self.odometry = WheelOdometry(
            self.model, config_from(self.model, vars(self.params), self.slip_model, self.slip_model_gravity)
        )
        sensors = qos.profile("sensors")
        self._rate = StampRate.from_rate(self.params.publish_rate)
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
            Imu, "imu/data", self._guarded(self._on_imu), sensors, qos_overriding_options=qos.overridable()
        )
        self._visual_previous: tuple[float, object] | None = None  # (stamp, 4x4 pose) of the last message
        if self.params.use_visual_odometry:
            self.create_subscription(
                Odometry,
                "visual_odometry/odom",
                self._guarded(self._on_visual_odometry),
                sensors,
                qos_overriding_options=qos.overridable(),
            )
        self.set_status(OK, "waiting for joint_states")

    def check_parameters(self, values: dict) -> str | None:
        if values["slip_warn"] > values["slip_limit"]:
            return f"slip_warn {values['slip_warn']} exceeds slip_limit {values['slip_limit']}"
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        # The filter state is kept; only the configuration changes.
        self.odometry.reconfigure(
            config_from(self.model, vars(self.params), self.slip_model, self.slip_model_gravity)
        )

    # -- inputs ------------------------------------------------------------------------------
    def _guarded(self, callback):
        """A callback that reports an unexpected error (a bug) instead of killing the node."""

        def run(msg):
            try:
                callback(msg)
            except Exception as err:  # the node must keep serving
                self.warn_throttled(
                    "internal-error", f"{callback.__name__}: {type(err).__name__}: {err}", level=ERROR
                )

        return run

    def _on_joint_states(self, msg: JointState) -> None:
        stamp = stamp_to_ns(msg.header.stamp) * 1e-9
        self._publish(self.odometry.add_joint_state(stamp, msg.name, msg.position, msg.velocity))

    def _on_imu(self, msg: Imu) -> None:
        w, a = msg.angular_velocity, msg.linear_acceleration
        stamp = stamp_to_ns(msg.header.stamp) * 1e-9
        self._publish(self.odometry.add_imu(stamp, (w.x, w.y, w.z), (a.x, a.y, a.z)))

    def _on_visual_odometry(self, msg: Odometry) -> None:
        stamp = stamp_to_ns(msg.header.stamp) * 1e-9
        pose = pose_to_matrix(msg.pose.pose)
        previous, self._visual_previous = self._visual_previous, (stamp, pose)
        if previous is None or msg.pose.covariance[0] < 0.0:
            return  # no earlier pose, or this motion was not measured
        start, start_pose = previous
        if stamp <= start:
            self.warn_throttled(
                "visual-order", f"visual_odometry/odom at {stamp:.3f} s is not after {start:.3f} s; skipped"
            )
            return
        delta = np.linalg.solve(start_pose, pose)
        covariance = (
            np.asarray(msg.twist.covariance, dtype=float).reshape(6, 6)[:3, :3] * (stamp - start) ** 2
        )
        self.odometry.add_visual_odometry(start, stamp, delta[:3, 3], covariance)
        self._publish([])

    # -- outputs -----------------------------------------------------------------------------
    def _publish(self, estimates: list[OdometryEstimate]) -> None:
        for estimate in estimates:
            stamp_ns = round(estimate.stamp * 1e9)
            if not self._rate.due(stamp_ns):
                continue
            frames = (self.params.odom_frame, self.params.base_frame)
            self._odom_pub.publish(estimate_to_odometry(stamp_ns, *frames, estimate))
            self._slip_pub.publish(Float32(data=float(estimate.slip)))
            if self._tf_pub is not None and self.params.publish_tf:
                self._publish_tf(stamp_ns, estimate)
        for issue in self.odometry.pop_issues():
            if issue.level == CORE_OK:
                self.get_logger().info(issue.message)
                continue
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
        values["slip_model"] = "calibrated" if self.slip_model is not None else "none"
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
