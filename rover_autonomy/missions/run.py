"""A mission run: brings up the sim profile, sends the goal, watches ground truth, judges the mission and
writes its report (``report.json``, ``mission.png``, ``nodes.log``).

The whole stack runs as child processes of the embedded launcher (the same graph as
``launch/sim.launch.py``), with the simulator in lockstep: it holds sim time after each camera frame until
that frame's costmap is out, so a loaded machine slows the mission but never lets the rover drive blind.
Between frames the wheel commands land at sim times that depend on scheduling, so two runs of one mission
follow slightly different tracks (docs/benchmarks.md, Missions).
This process only observes, through :class:`~rover_autonomy.missions.supervisor_node.MissionSupervisor`.
A global wall-clock timeout is always enforced and every child is stopped on the way out, whatever
happened.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rover_autonomy.bringup.launcher import Launcher
from rover_autonomy.bringup.overrides import merge_overrides
from rover_autonomy.bringup.ros_profiles import ProfileSetup, sim_setup
from rover_autonomy.contract import NavigationState
from rover_autonomy.missions import metrics
from rover_autonomy.missions.metrics import MissionLog
from rover_autonomy.missions.progress import Progress
from rover_autonomy.missions.supervisor_node import MissionSupervisor, SupervisorContext
from rover_autonomy.resources import config_dir
from rover_autonomy.worlds.world import World

GOAL_RESEND = 5.0  # [s] of wall time idle after the goal went out: the planner missed it, send it again
STOPPED = 0.02  # [m/s] ground-truth speed below which a rover that reached the goal has stopped


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


def run_mission(spec: MissionSpec) -> dict:
    """Run one mission to its end; returns the report (also written to ``report_dir``)."""
    start = spec.world.start
    log = MissionLog(spec.goal, spec.goal_tolerance, (start.x, start.y, start.yaw))
    spec.report_dir.mkdir(parents=True, exist_ok=True)
    node_log = (spec.report_dir / "nodes.log").open("w")
    setup = mission_setup(spec)
    launcher = Launcher(
        setup.plan("sim", str(config_dir())), log=lambda line: print(line, file=node_log, flush=True)
    )
    ros = SupervisorContext(log)
    if spec.record is not None:
        from rover_autonomy.replay.bag import BagWriter, store_parameters

        writer = BagWriter(spec.record)
        store_parameters(writer, setup.overrides)
        ros.add_recorder(writer)
    supervisor = ros.supervisor
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
            ros.spin_once(0.05)
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
            idle = supervisor.navigation[0] is NavigationState.IDLE
            if goal_sent_at is None and _ready_for_goal(supervisor, log):
                supervisor.send_goal(spec.goal)
                goal_sent_at = wall
            elif goal_sent_at is not None and idle and wall - goal_sent_at > GOAL_RESEND:
                supervisor.send_goal(spec.goal)  # the planner missed it (subscription matched late)
                goal_sent_at = wall
            ended, failure = _verdict(spec, supervisor, log, sim_elapsed)
            if ended:
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
        ros.close()
        node_log.close()
    return _write_report(spec, log, failure, time.monotonic() - wall_start, supervisor.costmap)


def _ready_for_goal(supervisor: MissionSupervisor, log: MissionLog) -> bool:
    """The planner listens, the follower is idle, and a costmap and odometry have come."""
    return (
        supervisor.goal_publisher.get_subscription_count() > 0
        and supervisor.navigation[0] is NavigationState.IDLE
        and supervisor.costmap is not None
        and bool(log.odometry)
    )


def _verdict(
    spec: MissionSpec, supervisor: MissionSupervisor, log: MissionLog, sim_elapsed: float
) -> tuple[bool, str | None]:
    """(whether the mission has ended, why it failed: None while it runs or once it succeeded)."""
    if log.body_contacts:
        return True, metrics.BODY_CONTACT
    if sim_elapsed > spec.timeout:
        return True, f"{metrics.TIMEOUT}: {spec.timeout:.0f} s of sim time"
    state, reason = supervisor.navigation
    if state is NavigationState.FAILED:
        kind = metrics.NO_PATH if "no path" in reason.lower() else metrics.NAVIGATION_FAILED
        return True, f"{kind}: {reason}" if reason else kind
    if state is NavigationState.REACHED and supervisor.speed < STOPPED:
        return True, None
    return False, None


def _write_report(
    spec: MissionSpec, log: MissionLog, failure: str | None, wall_s: float, costmap: tuple | None
) -> dict:
    """``report.json`` and ``mission.png`` (the track over the last costmap) in ``report_dir``."""
    report = log.report(failure, wall_s)
    report["world"] = str(spec.world.path)
    (spec.report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    from rover_autonomy.missions.plot import plot_mission

    verdict = "SUCCESS" if report["success"] else f"FAILURE ({report['failure_reason']})"
    plot_mission(spec.report_dir / "mission.png", spec.world, log, costmap, f"{spec.world!r}\n{verdict}")
    return report
