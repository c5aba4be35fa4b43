"""The path follower without ROS: drives the plan with :class:`ArcFollower` and owns ``navigation/state``.

Inputs are plain values: the plan as (N, 2) points [m] in odom, costmaps as (H, W) cell costs placed in
odom, the rover's odometry pose (x, y [m], yaw [rad]), the planner's ``navigation/plan_status`` text,
the emergency stop, stamps [ns] of odometry time and the node clock [ns] at which odometry arrived (the
watchdog's only use of it). Every input method returns the actions for the node, in order:
:class:`Command` (a body twist), :class:`PublishState` (``navigation/state`` text, only when it
changes), :class:`KeepOut` (a place the rover got stuck) and the log and diagnostics actions of
:mod:`rover_autonomy.planning.actions`.

States (:class:`~rover_autonomy.contract.NavigationState`): ``idle`` until a plan, ``planning`` while the
planner works on one, ``driving`` it (point turns included), ``blocked: <reason>`` whenever the rover
must not move (emergency stop, no or stale costmap, odometry lost or unusable, nothing safe to drive:
``blocked: hazard…`` asks the planner for a new plan), ``reached``, ``failed`` with the planner's reason,
``idle: cancelled``. Every stop commands a zero twist. When the odometry shows the rover not moving while
it is told to (:class:`~.recovery.StuckMonitor`) it is ``recovering``: it backs straight up over mapped
ground (:class:`~.recovery.Backup`), reports the place (:class:`KeepOut`), drops the plan and waits for
the planner's plan around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rover_autonomy.contract import (
    CANCELLED,
    NavigationState,
    PlanStatus,
    format_state,
    parse_plan_status,
)
from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.actions import Healthy, Warn, collects_actions
from rover_autonomy.planning.arc_follower import ArcFollower, Decision, FollowerConfig
from rover_autonomy.planning.follower.recovery import (
    Backup,
    BackupConfig,
    StuckConfig,
    StuckMonitor,
    reverse_clearance,
)
from rover_autonomy.rover_model import RoverModel

Pose = tuple[float, float, float]  # x, y [m], yaw [rad] in odom
MOVING = ("driving", "turning")  # ArcFollower decisions that move the rover


@dataclass(frozen=True)
class Command:
    vx: float  # [m/s] forward
    wz: float  # [rad/s] yaw rate
    stamp_ns: int  # of the odometry it was decided on (0 before any)


@dataclass(frozen=True)
class PublishState:
    text: str  # navigation/state


@dataclass(frozen=True)
class KeepOut:
    x: float  # [m] in odom
    y: float  # [m] in odom
    stamp_ns: int


@dataclass(frozen=True)
class NavigatorConfig:
    follower: FollowerConfig
    stuck: StuckConfig | None  # None: never recover
    backup: BackupConfig
    control_period: float  # [s] of odometry time between decisions, at least
    costmap_timeout: float  # [s] of costmap age against the odometry stamp
    odom_timeout: float  # [s] without odometry (node clock) before the rover stops

    @classmethod
    def from_parameters(cls, values: dict, model: RoverModel) -> NavigatorConfig:
        """From path_follower's parameter values; raises ValueError on an invalid combination."""
        limits = model.limits
        # The rover model's navigation limits are ceilings: a parameter can only lower them.
        max_speed = min(values["max_speed"] or limits.max_speed, limits.max_speed)
        max_yaw_rate = min(values["max_yaw_rate"] or limits.max_yaw_rate, limits.max_yaw_rate)
        follower = FollowerConfig(
            max_speed=max_speed,
            max_yaw_rate=max_yaw_rate,
            min_turn_radius=model.min_turn_radius,
            arcs=values["arcs"],
            horizon=values["horizon"],
            lookahead=values["lookahead"],
            min_safe_length=values["min_safe_length"],
            max_cost=values["max_cost"],
            unknown_cost=values["unknown_cost"] if values["allow_unknown"] else None,
            progress_weight=values["progress_weight"],
            cost_weight=values["cost_weight"],
            path_weight=values["path_weight"],
            clearance_weight=values["clearance_weight"],
            point_turn_angle=values["point_turn_angle"],
            point_turn_max_cost=values["max_cost"],
            cost_slowdown=values["cost_slowdown"],
            turn_slowdown=values["turn_slowdown"],
            min_speed=min(values["min_speed"], max_speed),
            escape_length=values["escape_length"],
            goal_tolerance=values["goal_tolerance"],
        )
        stuck = None
        if values["stuck_window"] > 0:
            stuck = StuckConfig(window=values["stuck_window"], progress_fraction=values["stuck_progress"])
        return cls(
            follower=follower,
            stuck=stuck,
            backup=BackupConfig(distance=values["backup_distance"], speed=values["backup_speed"]),
            control_period=values["control_period"],
            costmap_timeout=values["costmap_timeout"],
            odom_timeout=values["odom_timeout"],
        )


class Navigator:
    """One plan at a time, from the planner; see the module docstring."""

    def __init__(self, config: NavigatorConfig):
        self.config = config
        self._follower = ArcFollower(config.follower)
        self._stuck = StuckMonitor(config.stuck) if config.stuck is not None else None
        self._actions: list = []
        self._costmap: np.ndarray | None = None
        self._geometry: GridGeometry | None = None
        self._costmap_stamp: int | None = None
        self._last_odom_stamp: int | None = None
        self._last_decision_stamp: int | None = None
        self._odom_received_at: int | None = None  # node clock [ns] when odometry last arrived
        self._estop = False
        self._active = False  # a plan is being followed
        self._state = ""
        self._pose: Pose | None = None  # the last odometry
        self._backup: Backup | None = None
        self._stuck_place: tuple[float, float] | None = None

    @property
    def state(self) -> str:
        """The current navigation/state text."""
        return self._state

    def reconfigure(self, config: NavigatorConfig) -> None:
        """Changed parameters: the plan is kept, its progress and the stuck judgement start afresh."""
        plan = self._follower.plan
        self.config = config
        self._follower = ArcFollower(config.follower)
        self._follower.set_plan(plan)
        self._stuck = StuckMonitor(config.stuck) if config.stuck is not None else None

    # -- inputs -------------------------------------------------------------------------------
    @collects_actions
    def start(self) -> None:
        """The first state: idle."""
        self._set_state(format_state(NavigationState.IDLE))

    @collects_actions
    def set_plan(self, points: np.ndarray, frame_id: str) -> None:
        """A plan of (N, 2) finite points [m] in ``frame_id``; none withdraws it."""
        if len(points) == 0:
            self._follower.clear()
            if self._active:
                self._active = False
                self._send(0.0, 0.0, self._last_odom_stamp or 0)
            return
        if frame_id.lstrip("/") != "odom":
            self._halt(NavigationState.FAILED, f"plan rejected: frame {frame_id!r}, expected odom")
            return
        self._follower.set_plan(points)
        self._last_decision_stamp = None
        if self._backup is not None:
            return  # dropped once backed up: the planner then plans around the stuck place
        self._active = True
        if not self._estop:
            self._set_state(format_state(NavigationState.DRIVING))

    @collects_actions
    def refuse_plan(self, problem: str) -> None:
        """A plan that could not be read (``problem`` says why)."""
        self._halt(NavigationState.FAILED, f"plan rejected: {problem}")
        self._follower.clear()
        self._active = False

    @collects_actions
    def on_plan_status(self, text: str) -> None:
        """The planner's ``navigation/plan_status``: failures and cancels stop the rover."""
        parsed = parse_plan_status(text)
        if parsed is None:
            return
        status, reason = parsed
        if status is PlanStatus.FAILED:
            self._active = False
            self._follower.clear()
            self._halt(NavigationState.FAILED, reason)
        elif status is PlanStatus.PLANNING and not self._active:
            self._set_state(format_state(NavigationState.PLANNING))
        elif status is PlanStatus.IDLE and reason == CANCELLED:
            self._active = False
            self._follower.clear()
            self._halt(NavigationState.IDLE, CANCELLED)

    @collects_actions
    def set_costmap(self, costs: np.ndarray, geometry: GridGeometry, stamp_ns: int) -> None:
        """A costmap: (H, W) costs, row = y, placed in odom by ``geometry``."""
        self._costmap, self._geometry = costs, geometry
        self._costmap_stamp = stamp_ns
        # New terrain is decided on at once, from the latest pose, rather than at the next control
        # period: a hazard the frame revealed is acted on, and a frame reaches cmd_vel in the time
        # perception and mapping take.
        if self._pose is not None and self._active and not self._estop:
            self._decide(self._pose, self._last_odom_stamp)

    @collects_actions
    def set_emergency_stop(self, engaged: bool) -> None:
        self._estop = bool(engaged)
        if self._estop:
            self._halt(NavigationState.BLOCKED, "emergency stop")
        elif self._active:
            self._set_state(format_state(NavigationState.DRIVING))

    @collects_actions
    def odometry_unusable(self, stamp_ns: int, problem: str, received_at_ns: int) -> None:
        """Odometry at ``stamp_ns`` that could not be read (``problem`` says why): the rover stops."""
        self._odom_received_at = received_at_ns
        self._last_odom_stamp = stamp_ns
        self._pose = None
        if self._active:
            self._halt(NavigationState.BLOCKED, f"odometry unusable: {problem}", stamp_ns)

    @collects_actions
    def set_pose(self, x: float, y: float, yaw: float, stamp_ns: int, received_at_ns: int) -> None:
        """The odometry pose at ``stamp_ns``: one decision, at most every ``control_period``."""
        self._odom_received_at = received_at_ns
        self._last_odom_stamp = stamp_ns
        self._pose = (x, y, yaw)
        if not self._active:
            return
        if self._estop:
            self._halt(NavigationState.BLOCKED, "emergency stop", stamp_ns)
            return
        last = self._last_decision_stamp
        if last is not None and 0 <= stamp_ns - last < self.config.control_period * 1e9:
            return
        self._decide(self._pose, stamp_ns)

    @collects_actions
    def check_odometry(self, now_ns: int) -> None:
        """Odometry lost: stop and say so (the only check driven by the node clock ``now_ns``)."""
        if not self._active or self._odom_received_at is None:
            return
        silent = (now_ns - self._odom_received_at) * 1e-9
        if silent > self.config.odom_timeout:
            limit = self.config.odom_timeout
            self._halt(
                NavigationState.BLOCKED,
                f"odometry lost: none for more than {limit:.2f} s",
                self._last_odom_stamp or 0,
            )

    # -- deciding -----------------------------------------------------------------------------
    def _decide(self, pose: Pose, stamp: int) -> None:
        """One decision at the odometry stamp ``stamp`` [ns]: drive, back up, or stop and say why."""
        self._last_decision_stamp = stamp
        if self._costmap is None:
            self._halt(NavigationState.BLOCKED, "no costmap received yet", stamp)
            return
        age = (stamp - self._costmap_stamp) * 1e-9
        timeout = self.config.costmap_timeout
        if age > timeout:
            self._halt(NavigationState.BLOCKED, f"costmap is {age:.1f} s old (limit {timeout:.1f} s)", stamp)
            return
        if self._backup is not None:
            self._back_up(pose, stamp)
            return
        decision = self._follower.decide(pose, self._costmap, self._geometry)
        self._act(decision, stamp)
        if self._stuck is not None and self._active:
            moving = decision.status in MOVING
            why = self._stuck.observe(stamp * 1e-9, pose[0], pose[1], decision.vx if moving else 0.0)
            if why:
                self._start_backup(pose, stamp, why)

    def _act(self, decision: Decision, stamp: int) -> None:
        if decision.status in MOVING:
            self._send(decision.vx, decision.wz, stamp)
            self._set_state(format_state(NavigationState.DRIVING))
            self._emit(
                Healthy(
                    "driving",
                    {
                        "vx": f"{decision.vx:.3f}",
                        "wz": f"{decision.wz:.3f}",
                        "safe_arcs": decision.safe_arcs,
                        "distance_to_goal": f"{decision.distance_to_goal:.2f}",
                    },
                )
            )
        elif decision.status == "reached":
            self._send(0.0, 0.0, stamp)
            self._active = False
            self._follower.clear()
            self._set_state(format_state(NavigationState.REACHED, decision.reason))
            self._emit(Healthy(f"goal reached ({decision.reason})"))
        else:
            self._halt(NavigationState.BLOCKED, decision.reason, stamp, judging_progress=True)

    # -- getting unstuck ----------------------------------------------------------------------
    def _start_backup(self, pose: Pose, stamp: int, why: str) -> None:
        x, y, _ = pose
        self._stuck_place = (x, y)
        config = self.config.backup
        length = reverse_clearance(pose, self._costmap, self._geometry, config.distance)
        self._emit(Warn("stuck", f"stuck at ({x:.2f}, {y:.2f}) in odom: {why}; backing up {length:.2f} m"))
        if length < config.min_distance:
            self._end_recovery(stamp, f"no room to back up ({length:.2f} m clear behind)")
            return
        self._backup = Backup(config, stamp * 1e-9, (x, y), length)
        self._set_state(
            format_state(
                NavigationState.RECOVERING,
                f"stuck at ({x:.2f}, {y:.2f}) in odom ({why}); backing up {length:.1f} m",
            )
        )
        self._back_up(pose, stamp)

    def _back_up(self, pose: Pose, stamp: int) -> None:
        vx, outcome = self._backup.step(stamp * 1e-9, pose[0], pose[1])
        if outcome is None:
            self._send(vx, 0.0, stamp)
        else:
            self._end_recovery(stamp, "backed up" if outcome == "done" else "backing up timed out")

    def _end_recovery(self, stamp: int, how: str) -> None:
        """Stop, drop the plan and ask for one around the stuck place (the planner answers on keep_out)."""
        self._backup = None
        self._follower.clear()
        self._active = False
        x, y = self._stuck_place
        self._halt(NavigationState.BLOCKED, f"stuck at ({x:.2f}, {y:.2f}), {how}: planning around it", stamp)
        self._emit(KeepOut(x, y, stamp))

    # -- outputs ------------------------------------------------------------------------------
    def _halt(
        self, state: NavigationState, reason: str, stamp: int | None = None, judging_progress: bool = False
    ) -> None:
        """Stop the rover. Unless the stop is a decision of the follower (``judging_progress``), it also
        ends a backup and restarts the stuck judgement: the rover was not trying to move."""
        if not judging_progress:
            self._backup = None
            if self._stuck is not None:
                self._stuck.reset()
        self._send(0.0, 0.0, (self._last_odom_stamp or 0) if stamp is None else stamp)
        self._set_state(format_state(state, reason))
        if state is not NavigationState.IDLE:
            self._emit(Warn(f"{state.value}:{reason}", f"rover stopped: {state.value}: {reason}"))

    def _emit(self, action) -> None:
        self._actions.append(action)

    def _send(self, vx: float, wz: float, stamp: int) -> None:
        self._emit(Command(vx, wz, stamp))

    def _set_state(self, text: str) -> None:
        if text != self._state:
            self._state = text
            self._emit(PublishState(text))
