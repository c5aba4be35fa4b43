"""Node ``rover_sim``: the embedded MuJoCo simulator publishing the sensor contract on sim time.

Subscribes ``drive_controller/commands`` and ``steer_controller/commands`` (std_msgs/Float64MultiArray
in the rover model's drive / steer order, as rover hardware would) and publishes ``/clock``,
``imu/data``, ``joint_states``, ``ground_truth/odom``, ``sim/slip``, ``sim/contacts`` and, with
cameras on, ``stereo/{left,right}/image_rect`` + ``camera_info``. See docs/simulator.md.

The physics runs in a steady-clock timer: each tick advances one IMU period (or catches up to the
real-time factor) and publishes what fell due, so command callbacks are served between ticks. In
lockstep mode the ticks stop after each camera frame until :class:`~.lockstep.LockstepGate` releases.
"""

from __future__ import annotations

import importlib
import math
import time

import cv2
import numpy as np
from builtin_interfaces.msg import Duration
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from visualization_msgs.msg import Marker, MarkerArray

from rover_autonomy.contract import TOPICS
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import OdometryData, array_to_image, data_to_odometry, ns_to_stamp
from rover_autonomy.ros_common.node_base import OK, RoverNode, run_node
from rover_autonomy.rover_model import RoverModelError
from rover_autonomy.sim.engine import CommandError, RoverSim, SimConfig
from rover_autonomy.sim.lockstep import LockstepGate, parse_gate_topics
from rover_autonomy.sim.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.sim.scene import SimWorld, WorldError, resolve_world
from rover_autonomy.sim.sensors import RenderError, projection_matrices


def _periods(rate: float, tick_ns: int, what: str) -> int:
    ticks = round(1e9 / rate / tick_ns)
    if ticks < 1 or abs(ticks * tick_ns - 1e9 / rate) > 1e3:
        raise ValueError(f"{what} {rate:g} Hz is not a whole number of IMU periods ({tick_ns * 1e-9:g} s)")
    return ticks


class RoverSimNode(RoverNode):
    def __init__(self, world: SimWorld | None = None, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        p = self.params
        world = world or resolve_world(p.world)
        if p.start_pose != [0.0]:
            if len(p.start_pose) != 3 or not all(math.isfinite(v) for v in p.start_pose):
                raise ValueError(f"start_pose: expected [x, y, yaw], got {p.start_pose}")
            world = SimWorld(
                world.name, world.make_spec, tuple(p.start_pose), world.gravity, world.soil, world.info
            )
        tick_s = 1.0 / self.rover.imu.rate
        steps = round(tick_s / p.timestep)
        if steps < 1 or abs(steps * p.timestep - tick_s) > 1e-9:
            raise ValueError(f"timestep {p.timestep:g} s does not divide the IMU period {tick_s:g} s")
        self.tick_steps = steps
        tick_ns = round(tick_s * 1e9)
        self.camera_ticks = _periods(p.camera_rate, tick_ns, "camera_rate")
        self.clock_ticks = _periods(p.clock_rate, tick_ns, "clock_rate")
        self.joint_ticks = _periods(p.joint_state_rate, tick_ns, "joint_state_rate")
        self.truth_ticks = _periods(p.ground_truth_rate, tick_ns, "ground_truth_rate")
        self.contact_ticks = _periods(p.contacts_rate, tick_ns, "contacts_rate")
        self.gate = LockstepGate([t.topic for t in parse_gate_topics(p.lockstep_topics)], p.lockstep_timeout)
        self.sim = RoverSim(
            world,
            self.rover,
            SimConfig(timestep=p.timestep, seed=p.seed, cameras=p.cameras, shadows=p.shadows),
        )
        self.world = world
        imu = self.rover.imu
        # Per-sample variance: white noise over the sample period plus the unknown turn-on bias.
        gyro_var = imu.gyro_noise_density**2 * imu.rate + imu.gyro_bias_sigma**2
        accel_var = imu.accel_noise_density**2 * imu.rate + imu.accel_bias_sigma**2
        self._gyro_covariance = np.diag([gyro_var] * 3).reshape(9)
        self._accel_covariance = np.diag([accel_var] * 3).reshape(9)
        self.ticks = 0
        self.rejected = 0
        self._markers: list[Marker] = []
        lifetime_ns = round(1.5e9 / p.contacts_rate)  # a marker outlives its period by half
        self._marker_lifetime = Duration(
            sec=lifetime_ns // 1_000_000_000, nanosec=lifetime_ns % 1_000_000_000
        )
        self._imu_msg = Imu()
        self._imu_msg.header.frame_id = self.rover.imu.frame
        self._imu_msg.orientation_covariance[0] = -1.0
        self._joints_msg = JointState(name=self.sim.joint_state()[0])
        self._slip_msg = Float64MultiArray()
        n = len(self.rover.wheels)
        self._slip_msg.layout.dim = [MultiArrayDimension(label="wheel", size=n, stride=n)]
        self._zero_covariance = np.zeros((6, 6))

        def pub(msg_type, topic):
            return self.create_publisher(msg_type, topic, qos.for_topic(topic))

        self.pub_clock = pub(ClockMsg, "/clock")
        self.pub_imu = pub(Imu, "imu/data")
        self.pub_joints = pub(JointState, "joint_states")
        self.pub_truth = pub(Odometry, "ground_truth/odom")
        self.pub_slip = pub(Float64MultiArray, "sim/slip")
        self.pub_contacts = pub(MarkerArray, "sim/contacts")
        if p.cameras:
            self.pub_images = [
                pub(type_, f"stereo/{side}/{what}")
                for side in ("left", "right")
                for what, type_ in (("image_rect", Image), ("camera_info", CameraInfo))
            ]
            self.camera_infos = self._camera_infos()
        self.create_subscription(
            Float64MultiArray,
            "drive_controller/commands",
            self._on_drive,
            qos.for_topic("drive_controller/commands"),
        )
        self.create_subscription(
            Float64MultiArray,
            "steer_controller/commands",
            self._on_steer,
            qos.for_topic("steer_controller/commands"),
        )
        for gate_topic in parse_gate_topics(p.lockstep_topics):
            self._subscribe_gate(gate_topic)
        self._wall = Clock(clock_type=ClockType.STEADY_TIME)
        self._pace_origin = None
        self._timer = self.create_timer(self._timer_period(), self._tick, clock=self._wall)
        # While a frame is held the stepping timer is cancelled (at 0.5 ms it would poll away a core the
        # stack needs to answer the frame): answers resume it, this slow timer enforces the timeout.
        self.create_timer(0.05, self._check_hold, clock=self._wall)
        self.set_status(OK, "running", world=world.name)
        if p.lockstep and not p.cameras:
            self.get_logger().warning("lockstep holds after camera frames; with cameras off it never holds")
        self.get_logger().info(
            f"simulating world {world.name} (g = {world.gravity} m/s^2, soil {world.soil.name}), "
            f"start {world.start}, cameras {'on' if p.cameras else 'off'}, lockstep {'on' if p.lockstep else 'off'}"
        )

    def _timer_period(self) -> float:
        """Tick often enough to keep pace (half an IMU period of wall time), never busy-wait."""
        if self.params.real_time_factor <= 0:
            return 0.0005
        return max(0.0005, 0.5 / (self.rover.imu.rate * self.params.real_time_factor))

    def on_parameters_changed(self, changed: dict) -> None:
        if "real_time_factor" in changed:
            self._pace_origin = None  # pace from now at the new factor
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(self._timer_period(), self._tick, clock=self._wall)
            if self.gate.holding:
                self._timer.cancel()

    # -- inputs --------------------------------------------------------------------------------
    def _on_drive(self, msg: Float64MultiArray) -> None:
        self._command(self.sim.command_drive, msg, "drive_controller/commands")

    def _on_steer(self, msg: Float64MultiArray) -> None:
        self._command(self.sim.command_steer, msg, "steer_controller/commands")

    def _command(self, apply, msg: Float64MultiArray, topic: str) -> None:
        try:
            apply(np.asarray(msg.data, dtype=float))
        except CommandError as err:
            self.sim.stop()
            self.rejected += 1
            self.warn_throttled(topic, f"rejected {topic}: {err}; wheels stopped")
            return
        if self.rejected and self._status[0] != OK:
            self.set_status(OK, "running", world=self.world.name)
        self._observe_gate(topic, None)

    def _subscribe_gate(self, gate_topic) -> None:
        try:
            module = importlib.import_module(f"{gate_topic.package}.msg")
            msg_type = getattr(module, gate_topic.type_name)
        except (ImportError, AttributeError) as err:
            raise ValueError(
                f"lockstep topic {gate_topic.topic}: unknown type {gate_topic.type_path}"
            ) from err
        if gate_topic.topic in ("drive_controller/commands", "steer_controller/commands"):
            return  # observed by the command callbacks
        stamped = hasattr(msg_type, "header")

        def observe(msg, topic=gate_topic.topic):
            stamp = msg.header.stamp if stamped else None
            self._observe_gate(topic, None if stamp is None else stamp.sec * 1_000_000_000 + stamp.nanosec)

        profile = qos.for_topic(gate_topic.topic) if gate_topic.topic in TOPICS else qos.profile("commands")
        self.create_subscription(msg_type, gate_topic.topic, observe, profile)

    def _observe_gate(self, topic: str, stamp_ns: int | None) -> None:
        if not self.gate.holding:
            return
        self.gate.observe(topic, stamp_ns)
        self._check_hold()

    def _check_hold(self) -> None:
        """Release a held frame once answered (or timed out) and resume stepping."""
        if not self.gate.holding:
            return
        reason = self.gate.poll(time.monotonic())
        if reason:
            self.warn_throttled("lockstep", reason)
        if not self.gate.holding:
            self._pace_origin = None  # a hold is not lag: restart real-time pacing
            self._timer.reset()

    # -- stepping ------------------------------------------------------------------------------
    def _tick(self) -> None:
        try:
            self._advance()
        except Exception:
            if self.context.ok():
                raise
            # Shut down (SIGINT/SIGTERM) between two publications of this tick: nothing to do.

    def _advance(self) -> None:
        now = time.monotonic()
        if self.gate.holding:
            self._timer.cancel()  # resumed by _check_hold
            return
        p = self.params
        deadline = now + p.max_tick_wall
        while True:
            if p.real_time_factor > 0:
                if self._pace_origin is None:
                    self._pace_origin = (now, self.sim.time_ns)
                wall0, sim0 = self._pace_origin
                due_ns = sim0 + (time.monotonic() - wall0) * p.real_time_factor * 1e9
                if self.sim.time_ns + self.tick_steps * self.sim.step_ns > due_ns:
                    return
            self.sim.step(self.tick_steps)
            self.ticks += 1
            self._publish()
            if self.gate.holding or time.monotonic() > deadline:
                return

    def _publish(self) -> None:
        stamp_ns = self.sim.time_ns
        stamp = ns_to_stamp(stamp_ns)
        frame = self.params.cameras and self.ticks % self.camera_ticks == 0
        if frame or self.ticks % self.clock_ticks == 0:
            self.pub_clock.publish(ClockMsg(clock=stamp))
        self._publish_imu(stamp)
        if self.ticks % self.joint_ticks == 0:
            self._publish_joints(stamp)
        if self.ticks % self.truth_ticks == 0:
            self._publish_truth(stamp_ns)
        if self.ticks % self.contact_ticks == 0:
            self._publish_contacts(stamp)
        if frame:
            self._publish_stereo(stamp_ns, stamp)
            if self.params.lockstep:
                self.gate.hold(stamp_ns, time.monotonic())
                if self.gate.holding:
                    self._timer.cancel()

    def _publish_imu(self, stamp) -> None:
        sample = self.sim.imu_sample()
        msg = self._imu_msg
        msg.header.stamp = stamp
        w, a = sample.angular_velocity.tolist(), sample.linear_acceleration.tolist()
        msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = w
        msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = a
        msg.angular_velocity_covariance = self._gyro_covariance
        msg.linear_acceleration_covariance = self._accel_covariance
        self.pub_imu.publish(msg)

    def _publish_joints(self, stamp) -> None:
        _, positions, rates = self.sim.joint_state()
        msg = self._joints_msg
        msg.header.stamp = stamp
        msg.position = positions.tolist()
        msg.velocity = rates.tolist()
        self.pub_joints.publish(msg)

    def _publish_truth(self, stamp_ns: int) -> None:
        self._slip_msg.data = self.sim.wheel_slip.tolist()
        self.pub_slip.publish(self._slip_msg)
        truth = self.sim.ground_truth()
        zeros = self._zero_covariance
        data = OdometryData(
            stamp_ns,
            "map",
            "base_link",
            truth.position,
            truth.quaternion,
            truth.linear,
            truth.angular,
            zeros,
            zeros,
        )
        self.pub_truth.publish(data_to_odometry(data))

    def _marker(self, index: int) -> Marker:
        """Marker objects are pooled: building one costs more than publishing it."""
        while len(self._markers) <= index:
            marker = Marker()
            marker.header.frame_id = "map"
            marker.id = len(self._markers)
            marker.type = Marker.SPHERE
            marker.action = Marker.ADD
            marker.pose.orientation.w = 1.0
            marker.scale.x = marker.scale.y = marker.scale.z = 0.06
            marker.color.a = 1.0
            marker.lifetime = self._marker_lifetime
            self._markers.append(marker)
        return self._markers[index]

    def _publish_contacts(self, stamp) -> None:
        markers = MarkerArray()
        for i, contact in enumerate(self.sim.contacts()):
            marker = self._marker(i)
            marker.header.stamp = stamp
            marker.ns = "wheel" if contact.wheel else "body"
            position = marker.pose.position
            position.x, position.y, position.z = (float(v) for v in contact.position)
            marker.color.r, marker.color.g = (0.2, 0.9) if contact.wheel else (1.0, 0.1)
            marker.text = f"{contact.part}:{contact.other}"
            markers.markers.append(marker)
        self.pub_contacts.publish(markers)

    def _camera_infos(self) -> list[CameraInfo]:
        stereo = self.rover.stereo
        infos = []
        for side, projection in zip(("left", "right"), projection_matrices(stereo), strict=True):
            info = CameraInfo()
            info.header.frame_id = stereo.left_frame if side == "left" else stereo.right_frame
            info.width, info.height = stereo.width, stereo.height
            info.distortion_model = "plumb_bob"
            info.d = [0.0] * 5
            info.k = stereo.intrinsics().reshape(9).tolist()
            info.r = np.eye(3).reshape(9).tolist()
            info.p = projection.reshape(12).tolist()
            infos.append(info)
        return infos

    def _publish_stereo(self, stamp_ns: int, stamp) -> None:
        images = self.sim.render_stereo()
        encoding = self.params.image_encoding
        for k, (image, info) in enumerate(zip(images, self.camera_infos, strict=True)):
            if encoding == "mono8":
                image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            msg = array_to_image(image, encoding, stamp_ns, info.header.frame_id)
            info.header.stamp = stamp
            self.pub_images[2 * k].publish(msg)
            self.pub_images[2 * k + 1].publish(info)

    def publish_diagnostics(self) -> None:
        level, message, values = self._status
        values.update(
            sim_time=f"{self.sim.time_ns * 1e-9:.2f}",
            rejected_commands=self.rejected,
            lockstep_timeouts=self.gate.timeouts,
        )
        self._status = (level, message, values)
        super().publish_diagnostics()

    def destroy_node(self) -> None:
        if hasattr(self, "sim"):  # absent when construction failed
            self.sim.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    def rover_sim():
        try:
            return RoverSimNode()
        except (RoverModelError, RenderError, WorldError) as err:
            raise ValueError(str(err)) from err

    return run_node(rover_sim, args)


if __name__ == "__main__":
    import sys

    sys.exit(main())
