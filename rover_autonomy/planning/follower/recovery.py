"""Getting unstuck: commanded motion that the odometry does not see, and the way out of it.

A rover with a wheel against a rock it cannot climb, or sunk in soft soil, keeps its wheels turning
while it stays where it is. The costmap cannot see this (the rock may be below the step the map calls
lethal); the odometry can, once it measures slip (visual odometry: docs/visual_odometry.md).
:class:`StuckMonitor` compares the translation the follower commanded over a window of odometry time
with the distance the rover moved; when it moved less than ``progress_fraction`` of it (a slip above
80 % by default, past where MER's slip checks stop a drive), the rover is stuck. Turns in place are no
translation: point turns, arcs tighter than the base can drive (it turns in place instead) and the
steering that follows a turn in place (the base steers, then drives). The recovery is the one
MER drivers and Nav2's behaviours use: back up along the rover's own heading a short way (over ground
it has just crossed, checked against the costmap), mark the place, and plan around it.

Pure: no ROS. Stamps are seconds of odometry time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.kinematics import turns_in_place
from rover_autonomy.planning.arc_follower import cost_at
from rover_autonomy.planning.costs import LETHAL
from rover_autonomy.rover_model import RoverModel


@dataclass(frozen=True)
class StuckConfig:
    window: float = 6.0  # [s] of odometry time judged
    min_commanded: float = 0.3  # [m] commanded over the window before the rover can be called stuck
    progress_fraction: float = 0.2  # stuck when it moved less than this share of the commanded distance
    min_turn_radius: float = 0.0  # [m] the base turns in place on arcs tighter than this
    turn_settle: float = 0.0  # [s] after a turn in place, while the base steers before it drives

    @classmethod
    def from_rover_model(cls, model: RoverModel, **fields) -> StuckConfig:
        """The base's turns from the rover model: its tightest arc, and the time its steering takes to
        swing across its range (the longest re-steer after a point turn)."""
        steering = model.steering
        turn_settle = (steering.max_angle - steering.min_angle) / steering.max_rate
        return cls(min_turn_radius=model.min_turn_radius, turn_settle=turn_settle, **fields)

    def __post_init__(self):
        if not (self.window > 0 and self.min_commanded > 0 and 0 < self.progress_fraction < 1):
            raise ValueError(
                "stuck detection needs window > 0, min_commanded > 0 and 0 < progress_fraction < 1"
            )
        if not (self.min_turn_radius >= 0 and self.turn_settle >= 0):
            raise ValueError("stuck detection needs min_turn_radius >= 0 and turn_settle >= 0")


class StuckMonitor:
    """Forward translation commanded against distance moved, over the last ``window`` of stamps."""

    def __init__(self, config: StuckConfig | None = None):
        self.config = config or StuckConfig()
        self._samples: deque[tuple[float, float, float, float]] = deque()  # (t, x, y, commanded so far)
        self._commanded = 0.0
        self._last: tuple[float, float, float] | None = None  # (t, vx, wz) of the previous command
        self._settled_at = -math.inf  # translation counts from here on (the base steered after a turn)

    def reset(self) -> None:
        self._samples.clear()
        self._commanded = 0.0
        self._last = None
        self._settled_at = -math.inf

    def observe(
        self, stamp: float, x: float, y: float, commanded_vx: float, commanded_wz: float = 0.0
    ) -> str | None:
        """Record the pose at ``stamp`` and the twist commanded from then on; a description of the lack
        of progress when the rover is stuck, else None."""
        c = self.config
        if self._last is not None:
            t0, vx0, wz0 = self._last
            if stamp < t0:  # time went back (a replay restarting): judge afresh
                self.reset()
            elif turns_in_place(vx0, wz0, c.min_turn_radius):
                self._settled_at = stamp + c.turn_settle
            else:
                self._commanded += max(vx0, 0.0) * max(stamp - max(t0, self._settled_at), 0.0)
        self._last = (stamp, commanded_vx, commanded_wz)
        self._samples.append((stamp, x, y, self._commanded))
        while len(self._samples) > 1 and stamp - self._samples[1][0] >= c.window:
            self._samples.popleft()
        t_old, x_old, y_old, commanded_old = self._samples[0]
        if stamp - t_old < c.window:
            return None
        commanded = self._commanded - commanded_old
        moved = math.hypot(x - x_old, y - y_old)
        if commanded < c.min_commanded or moved >= c.progress_fraction * commanded:
            return None
        return f"moved {moved:.2f} m of {commanded:.2f} m commanded in {stamp - t_old:.1f} s"


def reverse_clearance(
    pose: tuple[float, float, float],
    costmap: np.ndarray,
    geometry: GridGeometry,
    distance: float,
    max_cost: int = LETHAL,
    step: float = 0.05,
) -> float:
    """How far [m] (up to ``distance``) the rover's centre can back straight up from ``pose`` (x, y, yaw)
    before meeting a cell at or above ``max_cost``. Unknown cells and cells off the map end it too: a
    rover backs up over ground it has mapped."""
    x, y, yaw = pose
    s = np.arange(1, math.floor(distance / step + 1e-9) + 1) * step
    px, py = x - s * math.cos(yaw), y - s * math.sin(yaw)
    cost = cost_at(costmap, geometry, px, py)
    bad = (cost < 0) | (cost >= max_cost)
    if not bad.any():
        return float(s[-1]) if s.size else 0.0
    first = int(bad.argmax())
    return float(s[first - 1]) if first > 0 else 0.0


@dataclass(frozen=True)
class BackupConfig:
    distance: float = 0.8  # [m] backed up (beyond the planner's keep-out radius around the stuck place)
    speed: float = 0.1  # [m/s]
    min_distance: float = 0.3  # [m] a backup shorter than this is not worth driving: replan in place
    timeout_factor: float = 3.0  # give up after this many times the nominal duration (stuck backwards too)


class Backup:
    """Drives straight back ``length`` [m] from ``start`` (x, y): the twist to send at each decision."""

    def __init__(
        self, config: BackupConfig, start_stamp: float, start_xy: tuple[float, float], length: float
    ):
        self.config = config
        self.start_xy = start_xy
        self.length = length
        self.deadline = start_stamp + config.timeout_factor * length / config.speed

    def step(self, stamp: float, x: float, y: float) -> tuple[float, str | None]:
        """(vx to command, None while backing up | "done" | "timeout")."""
        if math.hypot(x - self.start_xy[0], y - self.start_xy[1]) >= self.length:
            return 0.0, "done"
        if stamp >= self.deadline:
            return 0.0, "timeout"
        return -self.config.speed, None
