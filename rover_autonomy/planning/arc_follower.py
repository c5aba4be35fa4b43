"""Arc-based path following with hazard avoidance, in the spirit of GESTALT (MER) and ENav (Perseverance).

Every decision evaluates a fan of drivable arcs — constant curvatures within the steering limits of the
rover model (``1 / min_turn_radius``) — over a short horizon against the rover-centre costmap: each arc is
sampled every few centimetres and the cost of putting the rover's centre at each sample is read directly
(the map is already in rover-centre cost space, so no footprint is swept). An arc is *safe* while its
samples stay below ``max_cost`` (lethal cells, and unknown cells unless allowed); it must be safe for at
least ``min_safe_length``, and when some arcs are safe over the whole horizon only those count. Safe arcs are scored, as GESTALT's votes are combined, by

    progress towards a carrot ``lookahead`` ahead on the plan   (weight ``progress_weight``)
  − terrain cost along the arc / 100: mean and worst, averaged   (weight ``cost_weight``)
  − mean distance of the arc from the plan / lookahead           (weight ``path_weight``)
  + safe length of the arc / horizon                             (weight ``clearance_weight``)

and the best one is driven. Speed drops on rough terrain (the highest cost within ``slowdown_length``)
and on tight arcs, is capped by the yaw-rate limit and tapers near the goal. When the carrot lies far
off the heading the rover turns in place (the rocker-bogie steers its corner wheels for a point turn).
When no arc is safe the rover stops and asks for a replan. When the map puts the rover's own centre on
an unsafe cell, arcs that leave unsafe ground within ``escape_length`` may be driven, at ``min_speed``.
The goal is reached within ``goal_tolerance`` of the plan's last point.

Biesiadecki, Leger, Maimone, "Tradeoffs Between Directed and Autonomous Driving on the Mars
Exploration Rovers" (IJRR 2007); Toupet et al., "Traverse the Terrain: ENav" (IEEE Aerospace 2020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL

HAZARD = "hazard"  # reasons of stops caused by the terrain begin with this: the planner replans on them


@dataclass(frozen=True)
class FollowerConfig:
    max_speed: float = 0.4  # [m/s]
    max_yaw_rate: float = 0.5  # [rad/s]
    min_turn_radius: float = 0.8  # [m] tightest arc the steering allows
    arcs: int = 21  # number of curvatures in the fan (odd: includes straight ahead)
    horizon: float = 2.0  # [m] arc length evaluated
    sample_step: float = 0.05  # [m] spacing of the cost samples along an arc
    lookahead: float = 1.5  # [m] carrot distance along the plan
    min_safe_length: float = 0.8  # [m] an arc must stay safe at least this far
    max_cost: int = 100  # samples at or above this cost end an arc's safe length (100: lethal only)
    unknown_cost: float | None = 50.0  # cost of unknown samples; None makes them unsafe
    progress_weight: float = 1.0
    cost_weight: float = 1.5
    path_weight: float = 0.4
    clearance_weight: float = 0.8
    point_turn_angle: float = 1.0  # [rad] carrot bearing beyond which the rover turns in place
    point_turn_max_cost: int = 100  # no point turn on a cell at or above this cost
    slowdown_length: float = 1.0  # [m] stretch of the arc whose worst cost sets the speed
    cost_slowdown: float = 0.7  # speed × (1 − cost_slowdown · cost / 100)
    turn_slowdown: float = 0.5  # speed × (1 − turn_slowdown · |curvature| / max curvature)
    min_speed: float = 0.05  # [m/s] slowest forward speed while driving
    escape_length: float = 0.5  # [m] on a cell at or above max_cost, arcs may cross such cells this far
    goal_tolerance: float = 0.3  # [m]
    goal_slowdown_distance: float = 1.0  # [m] speed tapers linearly inside this distance
    progress_window: float = 4.0  # [m] of plan searched ahead of the last progress point

    @classmethod
    def from_rover_model(cls, model, **overrides) -> FollowerConfig:
        """Limits from the rover model (``load_rover_model()``); other fields from ``overrides``."""
        limits = {
            "max_speed": model.limits.max_speed,
            "max_yaw_rate": model.limits.max_yaw_rate,
            "min_turn_radius": model.min_turn_radius,
        }
        return cls(**{**limits, **overrides})

    def __post_init__(self):
        positive = ("max_speed", "max_yaw_rate", "min_turn_radius", "horizon", "sample_step", "lookahead")
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if self.arcs < 1:
            raise ValueError("arcs must be >= 1")
        if self.min_speed > self.max_speed:
            raise ValueError("min_speed must not exceed max_speed")


@dataclass(frozen=True)
class Decision:
    """One control decision. ``status``: driving | turning | reached | blocked | no_plan."""

    vx: float  # [m/s]
    wz: float  # [rad/s]
    status: str
    reason: str = ""
    curvature: float = 0.0  # [1/m] of the chosen arc
    safe_arcs: int = 0
    distance_to_goal: float = math.nan  # [m] straight line to the plan's last point


def _stop(status: str, reason: str, **extra) -> Decision:
    return Decision(0.0, 0.0, status, reason, **extra)


class ArcFollower:
    """Follows one plan at a time; keeps the index of its progress along it (monotone)."""

    def __init__(self, config: FollowerConfig | None = None):
        self.config = config or FollowerConfig()
        c = self.config
        max_curvature = 1.0 / c.min_turn_radius
        self.curvatures = np.linspace(-max_curvature, max_curvature, c.arcs) if c.arcs > 1 else np.zeros(1)
        self.arc_lengths = np.arange(1, math.ceil(c.horizon / c.sample_step) + 1) * c.sample_step
        self._plan = np.empty((0, 2))
        self._along = np.empty(0)
        self._progress = 0
        self._usable = np.empty((0, 2))

    @property
    def plan(self) -> np.ndarray:
        return self._plan

    def set_plan(self, points: np.ndarray) -> None:
        """A new plan: (N, 2) world points [m] from (near) the rover to the goal."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        if not np.all(np.isfinite(points)):
            raise ValueError("plan points must be finite")
        self._plan = points
        steps = np.hypot(*np.diff(points, axis=0).T) if len(points) > 1 else np.empty(0)
        self._along = np.concatenate([[0.0], np.cumsum(steps)])
        self._progress = 0

    def clear(self) -> None:
        self.set_plan(np.empty((0, 2)))

    def decide(
        self, pose: tuple[float, float, float], costmap: np.ndarray, geometry: GridGeometry
    ) -> Decision:
        """Body twist for the rover at ``pose`` = (x, y, yaw) [m, m, rad] in the costmap's frame."""
        c = self.config
        x, y, yaw = pose
        if not all(math.isfinite(v) for v in (x, y, yaw)):
            return _stop("blocked", "rover pose is not finite")
        if len(self._plan) == 0:
            return _stop("no_plan", "no plan to follow")
        goal = self._plan[-1]
        to_goal = math.hypot(goal[0] - x, goal[1] - y)
        if to_goal <= c.goal_tolerance:
            return _stop("reached", f"within {to_goal:.2f} m of the goal", distance_to_goal=to_goal)

        carrot = self._carrot(x, y, costmap, geometry)
        bearing = math.atan2(carrot[1] - y, carrot[0] - x)
        heading_error = math.remainder(bearing - yaw, math.tau)
        if abs(heading_error) > c.point_turn_angle:
            here = cost_at(costmap, geometry, np.array([x]), np.array([y]))[0]
            if here >= c.point_turn_max_cost:
                return _stop(
                    "blocked",
                    f"{HAZARD}: cell cost {here} too high to turn in place "
                    f"(the plan is {heading_error:+.2f} rad off the heading)",
                )
            wz = math.copysign(min(c.max_yaw_rate, 2.0 * abs(heading_error)), heading_error)
            return Decision(
                0.0,
                wz,
                "turning",
                f"point turn towards the plan ({heading_error:+.2f} rad)",
                distance_to_goal=to_goal,
            )

        # Sample every arc: (arcs, samples) positions from the closed-form unicycle arc.
        turn = np.outer(self.curvatures, self.arc_lengths)  # heading change dθ = κ s
        along = self.arc_lengths * np.sinc(turn / math.pi)  # s · sin(dθ)/dθ
        side = self.arc_lengths * (turn / 2) * np.sinc(turn / (2 * math.pi)) ** 2  # s · (1 − cos dθ)/dθ
        cos_y, sin_y = math.cos(yaw), math.sin(yaw)
        px = x + along * cos_y - side * sin_y
        py = y + along * sin_y + side * cos_y
        cost = cost_at(costmap, geometry, px, py).astype(float)

        unknown = cost < 0
        blocked = cost >= c.max_cost
        if c.unknown_cost is None:
            blocked |= unknown
        cost[unknown] = c.unknown_cost if c.unknown_cost is not None else LETHAL
        escaping = cost_at(costmap, geometry, np.array([x]), np.array([y]))[0] >= c.max_cost
        if escaping:
            # The map puts the rover's centre on an unsafe cell (map noise, or the map changed under
            # it): let arcs that leave unsafe ground within escape_length drive out, slowly.
            leave = np.where((~blocked).any(axis=1), (~blocked).argmax(axis=1), len(self.arc_lengths))
            exits = self.arc_lengths[np.minimum(leave, len(self.arc_lengths) - 1)] <= c.escape_length
            before_exit = (np.arange(blocked.shape[1])[None, :] < leave[:, None]) & exits[:, None]
            blocked &= ~before_exit
        first_blocked = np.where(blocked.any(axis=1), blocked.argmax(axis=1), len(self.arc_lengths))
        safe_length = np.where(first_blocked > 0, self.arc_lengths[np.maximum(first_blocked - 1, 0)], 0.0)
        safe_length[first_blocked == len(self.arc_lengths)] = self.arc_lengths[-1]
        required = min(c.min_safe_length, to_goal)
        safe = safe_length >= required - 1e-9
        if not safe.any():
            return _stop(
                "blocked",
                f"{HAZARD}: no safe arc, every arc meets cost >= {c.max_cost} within {required:.2f} m",
                distance_to_goal=to_goal,
            )

        # Arcs safe over the whole horizon (or up to the goal) win over arcs that are only safe for the
        # minimum length: the rover keeps its distance instead of grazing hazards.
        clear = safe_length >= min(self.arc_lengths[-1], to_goal) - 1e-9
        if clear.any():
            safe = clear

        # Score the arcs over the stretch to the carrot distance (or their safe length).
        reach = np.minimum(safe_length, c.lookahead)
        in_reach = self.arc_lengths[None, :] <= reach[:, None] + 1e-9
        count = np.maximum(in_reach.sum(axis=1), 1)
        mean_cost = (cost * in_reach).sum(axis=1) / count
        worst_cost = np.where(in_reach, cost, 0.0).max(axis=1)
        end = np.maximum(
            np.minimum(np.round(reach / c.sample_step).astype(int) - 1, len(self.arc_lengths) - 1), 0
        )
        rows = np.arange(len(self.curvatures))
        start_gap = math.hypot(carrot[0] - x, carrot[1] - y)
        end_gap = np.hypot(carrot[0] - px[rows, end], carrot[1] - py[rows, end])
        progress = (start_gap - end_gap) / c.lookahead
        off_path = self._distance_to_plan(px, py)
        mean_off = (off_path * in_reach).sum(axis=1) / count
        score = (
            c.clearance_weight * safe_length / self.arc_lengths[-1]
            + c.progress_weight * progress
            - c.cost_weight * (mean_cost + worst_cost) / 200.0
            - c.path_weight * mean_off / c.lookahead
        )
        score[~safe] = -np.inf
        best = int(np.argmax(score))
        curvature = float(self.curvatures[best])

        near = self.arc_lengths <= c.slowdown_length
        worst_near = float(cost[best, near].max()) if near.any() else float(cost[best, 0])
        speed = c.max_speed * (1.0 - c.cost_slowdown * worst_near / 100.0)
        speed *= 1.0 - c.turn_slowdown * abs(curvature) * c.min_turn_radius
        speed = min(speed, c.max_speed * to_goal / c.goal_slowdown_distance)
        speed = c.min_speed if escaping else max(speed, c.min_speed)
        if abs(curvature) * speed > c.max_yaw_rate:
            speed = c.max_yaw_rate / abs(curvature)
        return Decision(
            speed,
            curvature * speed,
            "driving",
            "escaping unsafe ground" if escaping else "",
            curvature=curvature,
            safe_arcs=int(safe.sum()),
            distance_to_goal=to_goal,
        )

    # -- plan geometry ------------------------------------------------------------------------
    def _window(self) -> slice:
        stop = int(
            np.searchsorted(self._along, self._along[self._progress] + self.config.progress_window, "right")
        )
        return slice(self._progress, max(stop, self._progress + 1))

    def _carrot(self, x: float, y: float, costmap: np.ndarray, geometry: GridGeometry) -> np.ndarray:
        """Advance the progress index to the plan point nearest the rover; return the carrot.

        The carrot is the first plan point at least ``lookahead`` further along the plan whose cell is
        below ``max_cost``: when the map has changed under the plan, the rover aims past the hazard
        instead of at it (the plan's unsafe points are also left out of the path term).
        """
        window = self._window()
        pts = self._plan[window]
        nearest = int(np.argmin(np.hypot(pts[:, 0] - x, pts[:, 1] - y)))
        self._progress = window.start + nearest
        ahead = self._plan[self._progress :]
        blocked = cost_at(costmap, geometry, ahead[:, 0], ahead[:, 1]) >= self.config.max_cost
        near = self._window().stop - self._progress
        self._usable = ahead[:near][~blocked[:near]]
        target = self._along[self._progress] + self.config.lookahead
        first = int(np.searchsorted(self._along, target)) - self._progress
        candidates = np.flatnonzero(~blocked[first:])
        if first >= len(ahead) or candidates.size == 0:
            return self._plan[-1]
        return ahead[first + candidates[0]]

    def _distance_to_plan(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Distance from each sample to the nearest usable plan point of the progress window [m]."""
        pts = self._usable
        if len(pts) == 0:
            return np.zeros(px.shape)
        # Plan points are one cell apart, so the nearest point is within half a cell of the polyline.
        d = np.hypot(px[..., None] - pts[:, 0], py[..., None] - pts[:, 1])
        return d.min(axis=-1)


def cost_at(costmap: np.ndarray, geometry: GridGeometry, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Cell values at world points; points outside the grid read as unknown (−1)."""
    col = np.floor((px - geometry.origin_x) / geometry.resolution).astype(np.int64)
    row = np.floor((py - geometry.origin_y) / geometry.resolution).astype(np.int64)
    inside = (row >= 0) & (row < geometry.height) & (col >= 0) & (col < geometry.width)
    values = np.full(px.shape, -1, dtype=np.int16)
    values[inside] = costmap[row[inside], col[inside]]
    return values
