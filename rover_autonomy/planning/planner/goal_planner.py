"""The path planner without ROS: one goal at a time, planned on the latest costmap and kept current.

Inputs are plain values: goal and keep-out points [m] in ``map`` or ``odom`` (``map_to_odom`` is the
pose of odom in map), costmaps as (H, W) cell costs placed in odom, the rover's odometry position [m],
stamps [ns]. ``now_ns`` is the node clock [ns], against which odometry ages. Every input method returns
the actions for the node, in order: :class:`PublishPlan` (a plan in odom; empty withdraws it),
:class:`PublishStatus` (``navigation/plan_status`` text, only when it changes) and the log and
diagnostics actions of :mod:`rover_autonomy.planning.actions`.

Replans, reusing the previous search where the core can (``GlobalPlanner.replan``): on every costmap
update, when the rover is more than ``max_path_deviation`` from the plan (at most every
``min_replan_interval`` after a full plan), when the follower reports ``blocked: hazard…`` (in full) and
every ``replan_period`` seconds (in full, which restores optimality after local repairs). Times compare
input stamps (costmap and odometry), so a replay plans the same. A goal waits for its first costmap and
for odometry; the last :data:`MAX_KEEP_OUT` places where the rover got stuck are lethal to every plan.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from rover_autonomy.contract import CANCELLED, NavigationState, PlanStatus, format_state, parse_state
from rover_autonomy.geometry import GridGeometry, Pose2D
from rover_autonomy.planning.actions import Healthy, Info, Warn, collects_actions
from rover_autonomy.planning.arc_follower import HAZARD
from rover_autonomy.planning.costs import CostModel
from rover_autonomy.planning.global_planner import GlobalPlanner, PlanResult, cover, keep_out

NO_COSTMAP_YET = "no costmap received yet"
NO_ODOMETRY_YET = "no odometry received yet"
ODOMETRY_LOST = "odometry lost"
MAX_KEEP_OUT = 32  # keep-out places remembered (oldest forgotten first)
GOAL_MARGIN = 2.0  # [m] of unknown cells the costmap is grown by around a goal beyond it

# Parameters of path_planner that make a new GlobalPlanner (make_global_planner).
SEARCH_PARAMETERS = frozenset(
    {
        "cost_weight",
        "unknown_cost",
        "allow_unknown",
        "lethal_cost",
        "heuristic_block",
        "repair_margin",
        "start_escape_radius",
    }
)


@dataclass(frozen=True)
class PublishPlan:
    points: np.ndarray  # (N, 2) in odom [m]; none withdraws the plan
    stamp_ns: int  # of the costmap it was planned on (0 before the first)


@dataclass(frozen=True)
class PublishStatus:
    text: str  # navigation/plan_status


@dataclass(frozen=True)
class GoalPlannerConfig:
    map_to_odom: Pose2D  # pose of odom in map [m, m, rad]
    max_goal_distance: float  # [m] from the rover
    keep_out_radius: float  # [m]
    replan_period: float  # [s] of odometry time between full replans; 0: never
    max_path_deviation: float  # [m]
    min_replan_interval: float  # [s] of odometry time
    costmap_timeout: float  # [s] of costmap age against the odometry stamp
    odom_timeout: float  # [s] of odometry age against the node clock

    @classmethod
    def from_parameters(cls, values: dict) -> GoalPlannerConfig:
        """From path_planner's parameter values (``map_to_odom`` already checked: three finite numbers)."""
        return cls(
            map_to_odom=Pose2D(*(float(v) for v in values["map_to_odom"])),
            max_goal_distance=values["max_goal_distance"],
            keep_out_radius=values["keep_out_radius"],
            replan_period=values["replan_period"],
            max_path_deviation=values["max_path_deviation"],
            min_replan_interval=values["min_replan_interval"],
            costmap_timeout=values["costmap_timeout"],
            odom_timeout=values["odom_timeout"],
        )


def make_global_planner(values: dict) -> GlobalPlanner:
    """The search of path_planner's parameter values (the :data:`SEARCH_PARAMETERS`)."""
    model = CostModel(
        weight=values["cost_weight"],
        unknown_cost=values["unknown_cost"] if values["allow_unknown"] else None,
        lethal_cost=values["lethal_cost"],
    )
    return GlobalPlanner(
        model,
        block=values["heuristic_block"],
        repair_margin=values["repair_margin"],
        start_escape_radius=values["start_escape_radius"],
    )


class GoalPlanner:
    """Keeps one goal planned; see the module docstring. Goals and plans are in odom."""

    def __init__(self, config: GoalPlannerConfig, planner: GlobalPlanner):
        self.config = config
        self._planner = planner
        self._actions: list = []
        self._waiting_for: str | None = None  # a goal waits for its first costmap or pose
        self._costmap_stamp: int | None = None
        self._costmap: tuple[np.ndarray, GridGeometry] | None = None  # as received
        self._pose: tuple[float, float] | None = None
        self._pose_stamp: int | None = None
        self._goal: tuple[float, float] | None = None
        self._goal_text = ""
        self._last_full_plan: int | None = None  # odometry stamp of the last full plan [ns]
        self._plan_points: np.ndarray | None = None
        self._status_text = ""
        self._keep_out: deque[tuple[float, float]] = deque(maxlen=MAX_KEEP_OUT)

    @property
    def has_goal(self) -> bool:
        return self._goal is not None

    @property
    def goal(self) -> tuple[float, float] | None:
        """The active goal in odom [m]."""
        return self._goal

    @property
    def keep_out_places(self) -> list[tuple[float, float]]:
        """Places kept out of every plan, oldest first, in odom [m]."""
        return list(self._keep_out)

    # -- inputs -------------------------------------------------------------------------------
    @collects_actions
    def start(self) -> None:
        """The first status: idle."""
        self._publish_status(format_state(PlanStatus.IDLE))

    @collects_actions
    def set_goal(self, frame_id: str, x: float, y: float, now_ns: int) -> None:
        """A goal at (x, y) [m] of frame ``frame_id`` (map or odom): refused, or planned."""
        frame = frame_id.lstrip("/")
        goal = self._to_odom(frame, x, y)
        if goal is None:
            self._fail(f"goal rejected: unknown frame {frame_id!r} (use map or odom)")
            return
        if self._pose is not None:
            distance = math.hypot(goal[0] - self._pose[0], goal[1] - self._pose[1])
            if distance > self.config.max_goal_distance:
                self._fail(
                    f"goal ({x:.2f}, {y:.2f}) is outside the map: {distance:.0f} m away"
                    f" (max_goal_distance {self.config.max_goal_distance:g} m)"
                )
                return
        self._goal = goal
        self._goal_text = f"({x:.2f}, {y:.2f}) in {frame}"
        self._emit(Info(f"new goal {self._goal_text}"))
        self._install_costmap()
        self._plan_full(now_ns)

    @collects_actions
    def refuse_goal(self, problem: str) -> None:
        """A goal that could not be read (``problem`` says why)."""
        self._fail(f"goal rejected: {problem}")

    @collects_actions
    def add_keep_out(self, frame_id: str, x: float, y: float, now_ns: int) -> None:
        """A place (x, y) [m] of ``frame_id`` where the rover got stuck: lethal to every later plan."""
        place = self._to_odom(frame_id.lstrip("/"), x, y)
        if place is None or not all(math.isfinite(v) for v in place):
            self._emit(Warn("keep_out", f"navigation/keep_out refused: frame {frame_id!r}, point ({x}, {y})"))
            return
        self._keep_out.append(place)
        self._emit(Info(f"keeping out of ({place[0]:.2f}, {place[1]:.2f}) in odom"))
        self._install_costmap()
        if self._goal is not None:
            self._plan_full(now_ns)

    @collects_actions
    def set_costmap(self, costs: np.ndarray, geometry: GridGeometry, stamp_ns: int, now_ns: int) -> None:
        """A costmap: (H, W) costs, row = y, placed in odom by ``geometry``."""
        self._costmap = (costs, geometry)
        self._install_costmap()
        self._costmap_stamp = stamp_ns
        if self._goal is not None:
            self._replan(now_ns)

    def odometry_unusable(self) -> None:
        """Odometry that could not be read: no pose until the next; the plan stays for then."""
        self._pose = None

    @collects_actions
    def set_pose(self, x: float, y: float, stamp_ns: int, now_ns: int) -> None:
        """The rover's odometry position [m] at ``stamp_ns``: plans a waiting goal, replans when due."""
        self._pose = (x, y)
        self._pose_stamp = stamp_ns
        if self._goal is not None and self._waiting_for is not None:
            self._plan_full(now_ns)
            return
        if self._goal is None or self._plan_points is None:
            return
        c = self.config
        period = c.replan_period
        if (
            period > 0
            and self._last_full_plan is not None
            and stamp_ns - self._last_full_plan >= period * 1e9
        ):
            self._plan_full(now_ns)
            return
        d = np.hypot(self._plan_points[:, 0] - x, self._plan_points[:, 1] - y).min()
        recent = self._last_full_plan is not None and (
            0 <= stamp_ns - self._last_full_plan < c.min_replan_interval * 1e9
        )
        if d > c.max_path_deviation and not recent:
            self._emit(Info(f"rover {d:.2f} m off the plan: replanning"))
            self._plan_full(now_ns)

    @collects_actions
    def on_navigation_state(self, text: str, now_ns: int) -> None:
        """The follower's ``navigation/state``: ``reached`` ends the goal, a hazard stop asks for a plan."""
        parsed = parse_state(text)
        if self._goal is None or parsed is None:
            return
        state, reason = parsed
        if state is NavigationState.REACHED:
            self._goal = None
            self._plan_points = None
            self._publish_plan(None)  # a follower (re)starting later must not pick the old plan up
            self._publish_status(format_state(PlanStatus.IDLE, "goal reached"))
        elif state is NavigationState.BLOCKED and reason.startswith(HAZARD) and self._plan_points is not None:
            self._emit(Info(f"follower {text!r}: replanning"))
            self._plan_full(now_ns, only_if_changed=True)

    @collects_actions
    def cancel(self) -> None:
        """Drop the goal and withdraw the plan."""
        self._goal = None
        self._plan_points = None
        self._publish_plan(None)
        self._publish_status(format_state(PlanStatus.IDLE, CANCELLED))

    @collects_actions
    def replace_planner(self, planner: GlobalPlanner) -> None:
        """A search built from changed parameters: it plans from the next costmap on."""
        self._planner = planner
        self._costmap_stamp = None  # the next costmap is taken afresh
        if self._goal is not None:
            self._fail("planner parameters changed: waiting for the next costmap")

    # -- planning -----------------------------------------------------------------------------
    def _to_odom(self, frame: str, x: float, y: float) -> tuple[float, float] | None:
        """A point of ``map`` or ``odom`` in odom; None for any other frame."""
        if frame == "odom":
            return float(x), float(y)
        if frame == "map":
            return self.config.map_to_odom.to_child(x, y)
        return None

    def _install_costmap(self) -> None:
        """Hand the planner the latest costmap, grown with unknown cells to hold the goal."""
        if self._costmap is None:
            return
        costs, geometry = self._costmap
        if self._goal is not None:
            costs, geometry = cover(costs, geometry, [self._goal], margin=GOAL_MARGIN)
        costs = keep_out(costs, geometry, list(self._keep_out), self.config.keep_out_radius, spare=self._goal)
        self._planner.set_costmap(costs, geometry)

    def _ready(self, now_ns: int) -> str | None:
        """Why planning cannot run now, or None."""
        if self._costmap_stamp is None:
            return NO_COSTMAP_YET
        if self._pose is None or self._pose_stamp is None:
            return NO_ODOMETRY_YET
        c = self.config
        age = (self._pose_stamp - self._costmap_stamp) * 1e-9
        if age > c.costmap_timeout:
            return f"costmap is {age:.1f} s older than the odometry (limit {c.costmap_timeout:.1f} s)"
        if now_ns - self._pose_stamp > c.odom_timeout * 1e9 and now_ns > self._pose_stamp:
            return f"{ODOMETRY_LOST}: last pose {(now_ns - self._pose_stamp) * 1e-9:.1f} s old"
        return None

    def _wait_or_fail(self, problem: str | None) -> bool:
        """True when planning cannot run now. Missing or late odometry and a missing first costmap are
        waited for (the goal is planned when the input arrives; the follower stops the rover meanwhile);
        anything else fails the goal."""
        self._waiting_for = None
        if problem is None:
            return False
        if problem in (NO_COSTMAP_YET, NO_ODOMETRY_YET) or problem.startswith(ODOMETRY_LOST):
            self._waiting_for = problem
            self._publish_status(format_state(PlanStatus.PLANNING, f"waiting: {problem}"))
        else:
            self._fail(problem)
        return True

    def _plan_full(self, now_ns: int, only_if_changed: bool = False) -> None:
        if self._wait_or_fail(self._ready(now_ns)):
            return
        self._publish_status(format_state(PlanStatus.PLANNING))
        result = self._planner.plan(self._pose, self._goal)
        self._last_full_plan = self._pose_stamp
        if only_if_changed and result.ok and _is_tail_of(result.points, self._plan_points):
            # The follower stopped where the planner sees a way: republishing the same plan would
            # only make it try again at once. It re-evaluates on every odometry message anyway.
            self._publish_status(
                format_state(PlanStatus.PLANNED, f"unchanged, the follower reports {HAZARD}s on it")
            )
            return
        self._take(result)

    def _replan(self, now_ns: int) -> None:
        if self._plan_points is None:  # no current plan: nothing to reuse
            self._plan_full(now_ns)
            return
        if self._wait_or_fail(self._ready(now_ns)):
            return
        result = self._planner.replan(self._pose)
        if result.ok and result.method == "kept" and self._plan_points is not None:
            return  # the published plan still holds
        self._take(result)

    def _take(self, result: PlanResult) -> None:
        if not result.ok:
            self._fail(result.reason)
            return
        self._plan_points = result.points
        self._publish_plan(result.points)
        self._emit(
            Healthy(
                f"plan to {self._goal_text}",
                {"cost": f"{result.cost:.2f}", "cells": len(result.points), "method": result.method},
            )
        )
        self._publish_status(
            format_state(
                PlanStatus.PLANNED, f"{len(result.points)} cells, cost {result.cost:.1f} ({result.method})"
            )
        )

    def _fail(self, reason: str) -> None:
        """Withdraw the plan and say why: the follower stops and reports ``failed: <reason>``."""
        self._plan_points = None
        self._publish_plan(None)
        self._publish_status(format_state(PlanStatus.FAILED, reason))
        self._emit(Warn(reason, f"no plan: {reason}"))

    # -- outputs ------------------------------------------------------------------------------
    def _emit(self, action) -> None:
        self._actions.append(action)

    def _publish_plan(self, points: np.ndarray | None) -> None:
        self._emit(PublishPlan(points if points is not None else np.empty((0, 2)), self._costmap_stamp or 0))

    def _publish_status(self, text: str) -> None:
        if text != self._status_text:
            self._status_text = text
            self._emit(PublishStatus(text))


def _is_tail_of(points: np.ndarray, previous: np.ndarray | None) -> bool:
    """True when ``points`` is the end of ``previous`` (the rover moved along an unchanged plan)."""
    if previous is None or len(points) == 0 or len(points) > len(previous):
        return False
    return bool(np.allclose(points, previous[-len(points) :]))
