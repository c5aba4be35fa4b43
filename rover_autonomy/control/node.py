"""Node ``base_controller``: ``cmd_vel`` -> ``drive_controller/commands`` + ``steer_controller/commands``.

Thin ROS layer over :mod:`rover_autonomy.control.base_controller`. Commands are computed at each input's
stamp and published on each ``cmd_vel`` and on ``joint_states`` at ``update_rate`` (at once when the hold
or stop state changes), as a ros2_control update loop would; a timer on the node
clock (sim time under ``use_sim_time``) only sends the stop when a command times out while no input
arrives. ``emergency_stop`` (latched) true halts the wheels until false.
"""

from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from rover_autonomy.control.base_controller import (
    EMERGENCY_STOP,
    INVALID_COMMAND,
    MOVING,
    TIMEOUT,
    BaseController,
    ControllerLimits,
    ControllerOutput,
    check_twist,
)
from rover_autonomy.control.parameters import NODE_NAME, PARAMETERS, limits_from
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import stamp_to_ns
from rover_autonomy.ros_common.node_base import ERROR, OK, WARN, RoverNode, run_node
from rover_autonomy.ros_common.stamp_rate import StampRate


class BaseControllerNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        self.model = self.rover
        self.controller = BaseController(self.model, self._limits(vars(self.params)))
        self._steer_index = {name: i for i, name in enumerate(self.model.steer_joints)}
        self._counts = {"commands": 0, "rejected": 0}
        self._update_rate = StampRate.from_rate(self.params.update_rate)
        self._sent_state: tuple[bool, str] | None = None  # (held, stopped) of the last output sent
        commands = qos.profile("commands")
        self._drive_pub = self.create_publisher(Float64MultiArray, "drive_controller/commands", commands)
        self._steer_pub = self.create_publisher(Float64MultiArray, "steer_controller/commands", commands)
        if self.params.cmd_vel_stamped:
            self.create_subscription(TwistStamped, "cmd_vel", self._guarded(self._on_twist_stamped), commands)
        else:
            self.create_subscription(Twist, "cmd_vel", self._guarded(self._on_twist), commands)
        self.create_subscription(
            JointState,
            "joint_states",
            self._guarded(self._on_joint_states),
            qos.profile("sensors"),
            qos_overriding_options=qos.overridable(),
        )
        self.create_subscription(
            Bool, "emergency_stop", self._guarded(self._on_emergency_stop), qos.profile("latched")
        )
        self.create_timer(self.params.stop_check_period, self._guarded(self._check_stop))
        self.set_status(OK, "waiting for cmd_vel")

    def _limits(self, values: dict) -> ControllerLimits:
        return limits_from(self.model, values)

    def on_parameters_changed(self, changed: dict) -> None:
        self.controller.limits = self._limits(vars(self.params))

    # -- inputs ------------------------------------------------------------------------------
    def _guarded(self, callback):
        """A callback that stops the wheels and reports an unexpected error (a bug) instead of dying."""

        def run(*args):
            try:
                callback(*args)
            except Exception as err:  # the node must keep serving
                self.controller.reject_command(self._now())
                self._drive_pub.publish(Float64MultiArray(data=[0.0] * len(self.model.drive_joints)))
                message = f"{callback.__name__}: {type(err).__name__}: {err}; wheels stopped"
                self.warn_throttled("internal-error", message, level=ERROR)

        return run

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stamp(self, stamp) -> float:
        """An input's stamp [s]; unset stamps (0) are taken as the node clock's now."""
        ns = stamp_to_ns(stamp)
        return ns * 1e-9 if ns > 0 else self._now()

    def _on_twist_stamped(self, msg: TwistStamped) -> None:
        self._command(self._stamp(msg.header.stamp), msg.twist)

    def _on_twist(self, msg: Twist) -> None:
        self._command(self._now(), msg)

    def _command(self, t: float, twist: Twist) -> None:
        lin, ang = twist.linear, twist.angular
        vx, wz, problem, ignored = check_twist(
            (lin.x, lin.y, lin.z), (ang.x, ang.y, ang.z), self.controller.limits
        )
        self._counts["commands"] += 1
        if problem:
            self._counts["rejected"] += 1
            self.controller.reject_command(t)
            self.warn_throttled("invalid-cmd_vel", f"rejected {problem}; wheels stopped", level=ERROR)
        else:
            if ignored:
                self.warn_throttled(
                    "ignored-components",
                    f"cmd_vel {', '.join(ignored)} ignored: the rover drives arcs (vx, wz) only",
                )
            self.controller.set_command(t, vx, wz)
        self._publish(self.controller.update(t))

    def _on_joint_states(self, msg: JointState) -> None:
        angles = np.full(len(self._steer_index), math.nan)
        for name, position in zip(msg.name, msg.position, strict=False):
            i = self._steer_index.get(name)
            if i is not None and math.isfinite(position):
                angles[i] = position
        t = self._stamp(msg.header.stamp)
        if np.all(np.isnan(angles)) and self._steer_index:
            self.warn_throttled("no-steering", "joint_states carries no (finite) steering angle")
            return
        self.controller.set_steering_feedback(t, angles)
        out = self.controller.update(t)
        due = self._update_rate.due(round(t * 1e9))
        if due or (out.held, out.stopped) != self._sent_state:
            self._publish(out)

    def _on_emergency_stop(self, msg: Bool) -> None:
        self.controller.set_emergency_stop(msg.data)
        self.get_logger().warning("emergency stop " + ("ACTIVE: wheels halted" if msg.data else "released"))
        self._publish(self.controller.update(self._now()))

    def _check_stop(self) -> None:
        t = self._now()
        if self.controller.needs_stop(t):
            self._publish(self.controller.update(t))

    # -- output ------------------------------------------------------------------------------
    def _publish(self, out: ControllerOutput) -> None:
        self._sent_state = (out.held, out.stopped)
        self._drive_pub.publish(Float64MultiArray(data=[float(v) for v in out.drive]))
        self._steer_pub.publish(Float64MultiArray(data=[float(v) for v in out.steer]))
        values = {
            "vx": f"{out.vx:.3f}",
            "wz": f"{out.wz:.3f}",
            "held_for_steering": out.held,
            "steering_feedback": out.steering_feedback,
            **self._counts,
        }
        if out.stopped == EMERGENCY_STOP:
            self.set_status(ERROR, "emergency stop active: wheels halted", **values)
        elif out.stopped == INVALID_COMMAND:
            self.set_status(ERROR, "last cmd_vel rejected (NaN, inf or absurd): wheels stopped", **values)
        elif out.stopped == TIMEOUT:
            self.set_status(WARN, "cmd_vel timed out: wheels stopped", **values)
        elif out.stopped == MOVING and not out.steering_feedback:
            self.set_status(WARN, "no steering feedback on joint_states: commanded angles assumed", **values)
        else:
            self.set_status(OK, "idle" if out.stopped else "driving", **values)


def main(args: list[str] | None = None) -> int:
    return run_node(BaseControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
