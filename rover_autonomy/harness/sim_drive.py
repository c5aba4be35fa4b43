"""Closed-loop drives in the embedded simulator: plan -> base controller core -> rover_sim -> odometry.

No ROS: every IMU period (10 ms) the simulator (``rover_autonomy.sim.engine.RoverSim``) steps, its IMU
sample and joint states go to the odometry core, and the base controller core turns the plan's twist
into the wheel commands executed next — the same cores the nodes run. With ``visual``, the stereo pair
is rendered at the camera rate and goes through the stereo and visual odometry cores; each increment
reaches the odometry ``visual_latency`` later, as it would from the nodes. Used by the benchmark and by
``rover-autonomy calibrate-slip --sim``; needs the simulator (MuJoCo), imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rover_autonomy.control.base_controller import BaseController
from rover_autonomy.control.parameters import limits_from
from rover_autonomy.geometry import quaternion_to_yaw, rpy_to_matrix
from rover_autonomy.odometry.calibration import TRUTH
from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.estimator import PlanarWheelOdometry, WheelOdometry
from rover_autonomy.odometry.inputs import IMU, JOINTS
from rover_autonomy.rover_model import RoverModel


def sim_available() -> bool:
    try:
        import rover_autonomy.sim.engine  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class SimRun:
    stamps: list = field(default_factory=list)  # [s] of the joint_states samples
    estimates: list = field(default_factory=list)  # OdometryEstimate per sample
    truth: list = field(default_factory=list)  # (position in odom (3,), yaw [rad] from the start) per sample
    planar: list = field(default_factory=list)  # naive planar odometry pose (x, y, yaw) per sample
    true_slip: list = field(default_factory=list)  # mean simulator slip of the driven wheels per sample
    events: list = field(default_factory=list)  # (topic, stamp, payload) for calibration, when recorded
    distance: float = 0.0  # [m] driven (3D)
    stuck_at: float | None = None  # [s] when the drive ended because the rover was wedged (stop_when_stuck)
    visual_steps: list = field(default_factory=list)  # VisualStep per rendered frame (visual drives)


def sim_drive(
    model: RoverModel,
    world,
    plan: list[tuple[float, float, float]],
    config: OdometryConfig,
    seed: int = 0,
    record_events: bool = False,
    settle_after: float = 3.0,
    stop_when_stuck: float | None = None,
    visual: bool = False,
    visual_latency: float = 0.3,
) -> SimRun:
    """Drive ``plan`` [(duration [s], vx [m/s], wz [rad/s])] in ``world`` (a ``rover_autonomy.sim``
    world) and return the odometry against ground truth in ``odom`` (the start pose).

    ``stop_when_stuck`` [s]: end the drive once the true body has moved less than 5 cm in that long
    while the plan commanded motion — a blind plan wedged against a rock (no planner in this loop).
    ``visual``: fuse stereo visual odometry, each increment ``visual_latency`` [s] after its frame.
    """
    from rover_autonomy.sim.engine import RoverSim, SimConfig

    sim = RoverSim(world, model, SimConfig(seed=seed, cameras=visual))
    cameras = VisualPipeline(model, visual_latency) if visual else None
    try:
        return _drive(sim, model, plan, config, record_events, settle_after, stop_when_stuck, cameras)
    finally:
        sim.close()


class VisualPipeline:
    """The stereo and visual odometry cores on the simulator's rendered pairs (as the nodes run them)."""

    def __init__(self, model: RoverModel, latency: float):
        from rover_autonomy.perception.camera import CameraCalibration
        from rover_autonomy.perception.stereo.processor import StereoProcessor
        from rover_autonomy.sim.sensors import projection_matrices

        stereo = model.stereo
        self.model, self.latency, self.period = model, latency, 1.0 / stereo.rate
        self.calibrations = [
            CameraCalibration.from_arrays(
                stereo.width, stereo.height, stereo.intrinsics(), [0.0] * 5, np.eye(3), projection, side=side
            )
            for side, projection in zip(("left", "right"), projection_matrices(stereo), strict=True)
        ]
        self.stereo = StereoProcessor()
        self.odometry = None
        self.next_frame = 0.0
        self.in_flight: list = []  # (delivery time, previous stamp, VisualStep)
        self.previous_stamp: float | None = None

    def frame(self, sim, t: float) -> object | None:
        """Render and process a pair when one is due; returns its VisualStep."""
        import cv2

        from rover_autonomy.perception.visual_odometry.estimator import StereoVisualOdometry

        if t + 1e-9 < self.next_frame:
            return None
        self.next_frame += self.period
        left, right = sim.render_stereo()
        result = self.stereo.process(left, right, "rgb8", "rgb8", *self.calibrations)
        if self.odometry is None:
            footprint = np.vstack([self.model.body.footprint, self.model.nominal_wheel_centres()[:, :2]])
            camera_to_base = self.model.stereo.camera_to_base("left")
            self.odometry = StereoVisualOdometry(result.geometry, camera_to_base, footprint)
        disparity = result.disparity - result.geometry.disparity_offset
        step = self.odometry.process(t, cv2.cvtColor(left, cv2.COLOR_RGB2GRAY), disparity)
        if step.valid:
            self.in_flight.append((t + self.latency, self.previous_stamp, step))
        self.previous_stamp = t
        return step

    def deliver(self, t: float, odometry: WheelOdometry) -> None:
        """Hand the increments whose processing time has passed to the wheel odometry."""
        while self.in_flight and self.in_flight[0][0] <= t:
            _, start, step = self.in_flight.pop(0)
            odometry.add_visual_odometry(start, step.stamp, step.delta[:3, 3], step.covariance[:3, :3])


def _drive(sim, model, plan, config, record_events, settle_after, stop_when_stuck, cameras) -> SimRun:
    controller = BaseController(model, limits_from(model))
    odometry = WheelOdometry(model, config)
    reference = PlanarWheelOdometry(model)
    n, ns = len(model.drive_joints), len(model.steer_joints)
    start = sim.ground_truth()
    yaw0 = quaternion_to_yaw(start.quaternion)
    to_odom = rpy_to_matrix(0.0, 0.0, yaw0).T
    ticks = max(1, round((1.0 / model.imu.rate) / sim.config.timestep))
    ends = np.cumsum([step[0] for step in plan])
    run = SimRun()
    previous = start.position.copy()
    anchor = (0.0, start.position.copy())  # (time, position) the stuck check measures from
    while True:
        sim.step(ticks)
        t = sim.time_ns * 1e-9
        if t > ends[-1] + settle_after:
            return run
        imu = sim.imu_sample()
        names, positions, velocities = sim.joint_state()
        truth = sim.ground_truth()
        odometry.add_imu(t, imu.angular_velocity, imu.linear_acceleration)
        estimates = odometry.add_joint_state(t, names, positions, velocities)
        if cameras is not None:
            step = cameras.frame(sim, t)
            if step is not None:
                run.visual_steps.append(step)
            cameras.deliver(t, odometry)
        pose = reference.add(t, positions[n : n + ns], velocities[:n])
        if record_events:
            run.events.append((IMU, t, (imu.angular_velocity.copy(), imu.linear_acceleration.copy())))
            run.events.append((JOINTS, t, (list(names), positions.tolist(), velocities.tolist())))
            run.events.append((TRUTH, t, float(truth.linear[0])))
        run.distance += float(np.linalg.norm(truth.position - previous))
        previous = truth.position.copy()
        for estimate in estimates:
            run.stamps.append(t)
            run.estimates.append(estimate)
            run.truth.append(
                (to_odom @ (truth.position - start.position), quaternion_to_yaw(truth.quaternion) - yaw0)
            )
            run.planar.append(pose)
            driven = np.abs(sim.drive_setpoint) > 0.5
            run.true_slip.append(float(np.mean(sim.wheel_slip[driven])) if driven.any() else 0.0)
        segment = int(np.searchsorted(ends, t))
        if stop_when_stuck is not None:
            if np.linalg.norm(truth.position - anchor[1]) > 0.05 or segment >= len(plan):
                anchor = (t, truth.position.copy())
            elif t - anchor[0] > stop_when_stuck and (plan[segment][1] or plan[segment][2]):
                run.stuck_at = t
                return run
        if segment < len(plan):
            controller.set_command(t, plan[segment][1], plan[segment][2])
        controller.set_steering_feedback(t, positions[n : n + ns])
        out = controller.update(t)
        sim.command_drive(out.drive)
        sim.command_steer(out.steer)


def calibration_drives(
    model: RoverModel,
    config: OdometryConfig,
    planet: str,
    slopes=(5.0, 10.0, 15.0),
    seconds: float = 20.0,
    seed: int = 0,
) -> list[list]:
    """Event streams of drives up and back down the simulator's test slopes (for the slope model)."""
    from rover_autonomy.sim.scene import resolve_world

    drives = []
    for degrees in slopes:
        world = resolve_world(f"slope:{degrees:g}:{planet}")
        plan = [(seconds, 0.3, 0.0), (seconds, -0.3, 0.0)]
        drives.append(sim_drive(model, world, plan, config, seed, record_events=True).events)
    return drives
