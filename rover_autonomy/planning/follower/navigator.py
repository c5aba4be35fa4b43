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
ground (:class:`~.recovery.Backup`), reports the keep-out discs round the obstruction
(:class:`~.recovery.StuckPlaces`, :class:`KeepOut`), drops the plan and waits for the planner's plan
around them; at a place it got stuck at too often it gives up (``failed: stuck …``).

The follower drives on the costmap with the discs it reported folded in (``keep_out.mark_keep_out``, as
the planner does, both sparing the plan's end and the true goal a ``planned: … from the goal …`` status
names for it), so it never drives into a place the planner keeps out; inside one (a disc that grew round
it) its escape reaches that disc's radius further.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rover_autonomy.contract import (
    CANCELLED,
    STUCK,
    NavigationState,
    PlanStatus,
    format_state,
    parse_approach,
    parse_plan_status,
)
from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.actions import Healthy, Warn, collects_actions
from rover_autonomy.planning.arc_follower import ArcFollower, Decision, FollowerConfig, cost_at
from rover_autonomy.planning.costs import CostModel
from rover_autonomy.planning.follower.recovery import (
    GIVE_UP_AFTER,
    Backup,
    BackupConfig,
    KeepOutConfig,
    StuckConfig,
    StuckEvent,
    StuckMonitor,
    StuckPlaces,
    footprint_half_length,
    reverse_clearance,
)
from rover_autonomy.planning.keep_out import enclosing_radius, mark_keep_out
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
    x: float  # [m] in odom: centre of a disc the rover's centre must keep out of
    y: float  # [m] in odom
    radius: float  # [m]
    stamp_ns: int


@dataclass(frozen=True)
class NavigatorConfig:
    follower: FollowerConfig
    stuck: StuckConfig | None  # None: never recover
    backup: BackupConfig
    keep_out: KeepOutConfig
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
            stuck = StuckConfig.from_rover_model(
                model, window=values["stuck_window"], progress_fraction=values["stuck_progress"]
            )
        return cls(
            follower=follower,
            stuck=stuck,
            backup=BackupConfig(distance=values["backup_distance"], speed=values["backup_speed"]),
            keep_out=KeepOutConfig(values["keep_out_radius"], footprint_half_length(model)),
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
        self._received: np.ndarray | None = None  # the latest costmap, as received
        self._costmap: np.ndarray | None = None  # … with the keep-out discs folded in: driven on
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
        self._places = StuckPlaces(config.keep_out)
        self._stuck_event: tuple[StuckEvent, Pose] | None = None  # the event being recovered from

    @property
    def state(self) -> str:
        """The current navigation/state text."""
        return self._state

    @property
    def costmap(self) -> np.ndarray | None:
        """The costmap the follower drives on: the latest, with its keep-out discs folded in."""
        return self._costmap

    @property
    def passability(self) -> CostModel:
        """Which cells of :attr:`costmap` the rover's centre must not enter (the planner's test)."""
        return self.config.follower.passability

    def reconfigure(self, config: NavigatorConfig) -> None:
        """Changed parameters: the plan (with its approach) and the keep-out places are kept, the plan's
        progress and the stuck judgement start afresh."""
        plan, approach = self._follower.plan, self._follower.approach
        self.config = config
        self._follower = ArcFollower(config.follower)
        self._follower.set_plan(plan)
        self._follower.approach = approach
        self._stuck = StuckMonitor(config.stuck) if config.stuck is not None else None
        self._places.config = config.keep_out

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
        self._fold_keep_out()  # the discs spare the plan's end (and the goal it approaches)
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
        elif status is PlanStatus.PLANNED and (approach := parse_approach(reason)) is not None:
            self._follower.approach = approach  # a plan ending short of its goal: judge the true goal
            self._fold_keep_out()  # … and spare it, as the planner does
        elif status is PlanStatus.PLANNING and not self._active:
            self._set_state(format_state(NavigationState.PLANNING))
        elif status is PlanStatus.IDLE and reason == CANCELLED:
            self._active = False
            self._follower.clear()
            self._halt(NavigationState.IDLE, CANCELLED)

    @collects_actions
    def set_costmap(
        self, costs: np.ndarray, resolution: float, origin_x: float, origin_y: float, stamp_ns: int
    ) -> None:
        """A costmap: (H, W) costs, row = y, with cell (0, 0)'s corner at (origin_x, origin_y) in odom [m]."""
        geometry = GridGeometry(resolution, origin_x, origin_y, costs.shape[0], costs.shape[1])
        self._received, self._geometry = costs, geometry
        self._fold_keep_out()
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
        # Inside a keep-out disc the way out is that much longer than map noise under the rover.
        escape = self.config.follower.escape_length + enclosing_radius(self._places.discs, pose[0], pose[1])
        decision = self._follower.decide(pose, self._costmap, self._geometry, escape_length=escape)
        self._act(decision, stamp)
        if self._stuck is not None and self._active:
            vx, wz = (decision.vx, decision.wz) if decision.status in MOVING else (0.0, 0.0)
            why = self._stuck.observe(stamp * 1e-9, pose[0], pose[1], vx, wz)
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
        event = self._places.judge(x, y)
        if event.count > GIVE_UP_AFTER:
            self._emit(Warn("stuck", f"stuck at ({x:.2f}, {y:.2f}) in odom: {why}"))
            self._follower.clear()
            self._active = False
            fx, fy = event.first
            reason = f"{STUCK} {event.count} times at ({fx:.2f}, {fy:.2f}) in odom: no way past it"
            self._halt(NavigationState.FAILED, reason, stamp)
            return
        self._stuck_event = (event, pose)
        config = self.config.backup
        length = reverse_clearance(
            pose, self._costmap, self._geometry, config.distance, self.config.follower.max_cost
        )
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
        """Stop, drop the plan, keep the obstruction out and ask for a plan round it (the planner
        answers on keep_out)."""
        self._backup = None
        self._follower.clear()
        self._active = False
        event, stuck = self._stuck_event
        self._stuck_event = None
        rover = self._pose[:2] if self._pose is not None else stuck[:2]
        discs = self._places.keep_out(event, stuck, rover, self._unsafe)
        self._fold_keep_out()
        at = f"stuck at ({stuck[0]:.2f}, {stuck[1]:.2f})"
        reason = {
            1: f"{at}, {how}: planning around it",
            2: f"{at} again, {how}: planning a wider way round",
        }.get(event.count, f"{at} a third time, {how}: planning round the other side")
        self._halt(NavigationState.BLOCKED, reason, stamp)
        for disc in discs:
            self._emit(KeepOut(disc.x, disc.y, disc.radius, stamp))

    def _unsafe(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Which points lie on cells the rover's centre must not enter."""
        return self.passability.forbidden(cost_at(self._costmap, self._geometry, xs, ys))

    def _fold_keep_out(self) -> None:
        """The costmap to drive on: the latest with the keep-out discs, sparing what the planner spares:
        the plan's end and the true goal the planner's status names for it (an approached goal). The
        planner picks an approach point at least a cell clear of its discs, so sparing it shrinks none."""
        if self._received is None:
            return
        plan = self._follower.plan
        spare = [tuple(plan[-1])] if len(plan) else []
        if (goal := self._follower.named_goal) is not None:
            spare.append(goal)
        self._costmap = mark_keep_out(self._received, self._geometry, self._places.discs, spare=spare)

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
