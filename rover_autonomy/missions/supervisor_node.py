"""Mission supervisor: brings up the sim profile, sends the goal, watches ground truth, judges the mission.

The whole stack runs as child processes of the embedded launcher (the same graph as
``launch/sim.launch.py``), with the simulator in lockstep so the outcome does not depend on machine load.
This process only observes: ground truth, odometry, contacts, plans, the navigation state, and the
stereo → costmap → ``cmd_vel`` chain for latency. A global wall-clock timeout is always enforced and
every child is stopped on the way out, whatever happened.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from rover_autonomy.bringup.launcher import Launcher
from rover_autonomy.bringup.overrides import merge_overrides
from rover_autonomy.bringup.ros_profiles import ProfileSetup, sim_setup
from rover_autonomy.geometry import yaw_to_quaternion
from rover_autonomy.missions import metrics
from rover_autonomy.missions.metrics import MissionLog
from rover_autonomy.resources import config_dir
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    grid_to_array,
    make_pose_stamped,
    odometry_to_data,
    stamp_to_ns,
)
from rover_autonomy.worlds.world import World


@dataclass(frozen=True)
class MissionSpec:
    world: World
    goal: tuple[float, float]  # [m] in map
    timeout: float  # [s] of sim time
    wall_timeout: float  # [s] of wall time, always enforced
    goal_tolerance: float  # [m]
    report_dir: Path
    camera_rate: float = 2.0  # [Hz]
    overrides: dict | None = None  # extra per-node parameters
    record: Path | None = None  # rosbag2 MCAP bag of the contract's topics (rover-autonomy replay)


FOLLOWING_STATES = ("driving", "recovering", "blocked")  # navigation/state while a plan is followed


class MissionSupervisor(Node):
    """Observes the running stack and fills a :class:`MissionLog`."""

    def __init__(self, log: MissionLog, **kwargs):
        super().__init__("mission_supervisor", **kwargs)
        self.log = log
        self.sim_time = 0.0
        self.start_sim_time: float | None = None
        self.state = ""
        self.speed = math.inf
        self.costmap: tuple[np.ndarray, float, float, float] | None = None
        self._image_wall: dict[int, float] = {}
        self._pending_costmaps: list[tuple[int, float]] = []
        self.goal_publisher = self.create_publisher(PoseStamped, "goal_pose", qos.for_topic("goal_pose"))
        sub = self.create_subscription
        sub(Odometry, "ground_truth/odom", self._on_truth, qos.for_topic("ground_truth/odom"))
        sub(Odometry, "odom", self._on_odom, qos.for_topic("odom"))
        sub(MarkerArray, "sim/contacts", self._on_contacts, qos.for_topic("sim/contacts"))
        sub(PathMsg, "plan", self._on_plan, qos.for_topic("plan"))
        sub(String, "navigation/state", self._on_state, qos.for_topic("navigation/state"))
        sub(OccupancyGrid, "terrain/costmap", self._on_costmap, qos.for_topic("terrain/costmap"))
        sub(Image, "stereo/left/image_rect", self._on_image, qos.for_topic("stereo/left/image_rect"))
        sub(TwistStamped, "cmd_vel", self._on_cmd_vel, qos.for_topic("cmd_vel"))

    # -- observations --------------------------------------------------------------------------
    def _on_truth(self, msg: Odometry) -> None:
        data = odometry_to_data(msg)
        self.sim_time = data.stamp_ns * 1e-9
        if self.start_sim_time is None:
            self.start_sim_time = self.sim_time
        self.speed = float(np.linalg.norm(data.linear[:2]))
        self.log.add_truth(self.sim_time, data.position, data.quaternion)

    def _on_odom(self, msg: Odometry) -> None:
        try:
            data = odometry_to_data(msg)
        except ConversionError:
            return  # a broken odometry shows up as drift in the report
        self.log.add_odometry(data.stamp_ns * 1e-9, data.position)

    def _on_contacts(self, msg: MarkerArray) -> None:
        self.log.add_contacts([(m.ns, m.text) for m in msg.markers])

    def _on_plan(self, msg: PathMsg) -> None:
        points = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses]).reshape(-1, 2)
        if points.size:
            self.log.plans.append(points)

    def _on_state(self, msg: String) -> None:
        self.state = msg.data
        self.log.add_state(self.sim_time, msg.data)

    def _on_image(self, msg: Image) -> None:
        self._image_wall[stamp_to_ns(msg.header.stamp)] = time.monotonic()

    def _on_costmap(self, msg: OccupancyGrid) -> None:
        try:
            costs, geometry = grid_to_array(msg)
        except ConversionError:
            return
        self.costmap = (costs.copy(), geometry.resolution, geometry.origin_x, geometry.origin_y)
        stamp = stamp_to_ns(msg.header.stamp)
        image_wall = self._image_wall.pop(stamp, None)
        for older in [t for t in self._image_wall if t < stamp]:
            del self._image_wall[older]  # frames the mapper never answered
        # Only a costmap the follower acts on (it is following a plan) leads to a command computed
        # from it; before the first plan (or after the last) the next cmd_vel would time planning.
        if image_wall is not None and self.state.split(":")[0] in FOLLOWING_STATES:
            self._pending_costmaps.append((stamp, image_wall))

    def _on_cmd_vel(self, msg: TwistStamped) -> None:
        # Latency: stereo pair received -> first command after the costmap that includes that pair.
        now = time.monotonic()
        for _, image_wall in self._pending_costmaps:
            self.log.latencies_ms.append(1000.0 * (now - image_wall))
        self._pending_costmaps.clear()

    def send_goal(self, goal: tuple[float, float]) -> None:
        x0, y0, _ = self.log.map_to_odom
        yaw = math.atan2(goal[1] - y0, goal[0] - x0)
        stamp = int(self.sim_time * 1e9)
        self.goal_publisher.publish(make_pose_stamped([*goal, 0.0], yaw_to_quaternion(yaw), stamp, "map"))


class Progress:
    """One status line: redrawn in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream=sys.stderr, period: float = 5.0):
        self.stream = stream
        self.tty = stream.isatty()
        self.period = period
        self.last = -math.inf

    def show(self, text: str) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
        elif now - self.last >= self.period:
            self.stream.write(text + "\n")
            self.last = now

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def mission_setup(spec: MissionSpec) -> ProfileSetup:
    """The sim profile on the mission's world, with lockstep, goal tolerance and any extra parameters."""
    setup = sim_setup(spec.world)
    overrides: dict[str, dict[str, object]] = {
        # Lockstep on the costmap: the slowest chain (stereo -> mapping) answers every camera frame; the
        # follower then decides on odometry with that costmap, whatever the machine load.
        "rover_sim": {
            "lockstep": True,
            "lockstep_topics": ["terrain/costmap:nav_msgs/msg/OccupancyGrid"],
            # Wait as long as a loaded machine needs: a frame let through early desynchronises the stack.
            "lockstep_timeout": 60.0,
            "real_time_factor": 0.0,  # as fast as the lockstep allows
            "camera_rate": spec.camera_rate,
        },
        # Aim tighter than the verdict: the follower stops by odometry, the verdict is on ground truth.
        "path_follower": {"goal_tolerance": spec.goal_tolerance / 2},
    }
    merge_overrides(setup.overrides, overrides)
    merge_overrides(setup.overrides, spec.overrides or {})
    return setup


def run_mission(spec: MissionSpec, echo=print) -> dict:
    """Run one mission to its end; returns the report (also written to ``report_dir``)."""
    start = spec.world.start
    log = MissionLog(spec.goal, spec.goal_tolerance, (start.x, start.y, start.yaw))
    spec.report_dir.mkdir(parents=True, exist_ok=True)
    node_log = (spec.report_dir / "nodes.log").open("w")
    setup = mission_setup(spec)
    launcher = Launcher(
        setup.plan("sim", str(config_dir())), log=lambda line: print(line, file=node_log, flush=True)
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    supervisor = MissionSupervisor(log, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(supervisor)
    recorder = None
    if spec.record is not None:
        from rover_autonomy.replay.bag import BagWriter, store_parameters
        from rover_autonomy.replay.recorder_node import Recorder, recordable_topics

        writer = BagWriter(spec.record)
        store_parameters(writer, setup.overrides)
        recorder = Recorder(writer, recordable_topics(), use_sim_time=True, context=context)
        executor.add_node(recorder)
    progress = Progress()
    wall_start = time.monotonic()
    failure: str | None = None
    goal_sent_at: float | None = None
    # Ctrl-C and SIGTERM set a flag the loop checks instead of raising KeyboardInterrupt anywhere: one
    # raised inside rclpy's take_message surfaces as a pybind11 RuntimeError, and no report is written.
    interrupted = threading.Event()
    previous_handlers = {
        sig: signal.signal(sig, lambda *_: interrupted.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        launcher.start()
        while not interrupted.is_set():
            executor.spin_once(timeout_sec=0.05)
            wall = time.monotonic() - wall_start
            died = launcher.poll()
            if died is not None:
                failure = f"{metrics.NODE_DIED}: {died[0]} exited with code {died[1]}"
                break
            if wall > spec.wall_timeout:
                failure = f"{metrics.TIMEOUT}: {spec.wall_timeout:.0f} s of wall time"
                break
            if supervisor.start_sim_time is None:
                progress.show(f"starting the stack… {wall:.0f} s")
                continue
            sim_elapsed = supervisor.sim_time - supervisor.start_sim_time
            ready = (
                supervisor.goal_publisher.get_subscription_count() > 0
                and supervisor.state.startswith("idle")
                and supervisor.costmap is not None
                and bool(log.odometry)
            )
            if goal_sent_at is None and ready:
                supervisor.send_goal(spec.goal)
                goal_sent_at = wall
            elif (
                goal_sent_at is not None and supervisor.state.startswith("idle") and wall - goal_sent_at > 5.0
            ):
                supervisor.send_goal(spec.goal)  # the planner missed it (subscription matched late)
                goal_sent_at = wall
            if log.body_contacts:
                failure = metrics.BODY_CONTACT
                break
            if sim_elapsed > spec.timeout:
                failure = f"{metrics.TIMEOUT}: {spec.timeout:.0f} s of sim time"
                break
            if supervisor.state.startswith("failed"):
                reason = supervisor.state.partition(":")[2].strip()
                kind = metrics.NO_PATH if "no path" in reason.lower() else metrics.NAVIGATION_FAILED
                failure = f"{kind}: {reason}" if reason else kind
                break
            if supervisor.state.startswith("reached") and supervisor.speed < 0.02:
                break
            position = log.position
            distance = (
                float(np.hypot(*(position - np.asarray(spec.goal)))) if position is not None else math.nan
            )
            progress.show(
                f"{supervisor.state or 'waiting':<28.28} to goal {distance:6.2f} m | sim {sim_elapsed:6.1f} s"
                f" | real-time factor {sim_elapsed / max(wall, 1e-6):4.2f}"
            )
        if interrupted.is_set():
            failure = metrics.INTERRUPTED
    except KeyboardInterrupt:
        failure = metrics.INTERRUPTED
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        progress.close()
        launcher.stop()
        executor.remove_node(supervisor)
        supervisor.destroy_node()
        if recorder is not None:
            executor.remove_node(recorder)
            recorder.close()
            recorder.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        node_log.close()
    report = log.report(failure, time.monotonic() - wall_start)
    report["world"] = str(spec.world.path)
    (spec.report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    from rover_autonomy.missions.plot import plot_mission

    verdict = "SUCCESS" if report["success"] else f"FAILURE ({report['failure_reason']})"
    plot_mission(
        spec.report_dir / "mission.png", spec.world, log, supervisor.costmap, f"{spec.world!r}\n{verdict}"
    )
    return report
