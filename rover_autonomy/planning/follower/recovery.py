"""Getting unstuck: commanded motion that the odometry does not see, and the way out of it.

A rover with a wheel against a rock it cannot climb, or sunk in soft soil, keeps its wheels turning
while it stays where it is. The costmap cannot see this (the rock may be below the step the map calls
lethal); the odometry can, once it measures slip (visual odometry: docs/visual_odometry.md).
:class:`StuckMonitor` compares the distance the follower commanded over a window of odometry time with
the distance the rover moved; when it moved less than ``progress_fraction`` of it (a slip above
80 % by default, past where MER's slip checks stop a drive), the rover is stuck. The recovery is the one
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
from rover_autonomy.planning.arc_follower import cost_at
from rover_autonomy.planning.costs import LETHAL


@dataclass(frozen=True)
class StuckConfig:
    window: float = 6.0  # [s] of odometry time judged
    min_commanded: float = 0.3  # [m] commanded over the window before the rover can be called stuck
    progress_fraction: float = 0.2  # stuck when it moved less than this share of the commanded distance

    def __post_init__(self):
        if not (self.window > 0 and self.min_commanded > 0 and 0 < self.progress_fraction < 1):
            raise ValueError(
                "stuck detection needs window > 0, min_commanded > 0 and 0 < progress_fraction < 1"
            )


class StuckMonitor:
    """Forward distance commanded against distance moved, over the last ``window`` of stamps."""

    def __init__(self, config: StuckConfig | None = None):
        self.config = config or StuckConfig()
        self._samples: deque[tuple[float, float, float, float]] = deque()  # (t, x, y, commanded so far)
        self._commanded = 0.0
        self._last: tuple[float, float] | None = None  # (t, vx) of the previous command

    def reset(self) -> None:
        self._samples.clear()
        self._commanded = 0.0
        self._last = None

    def observe(self, stamp: float, x: float, y: float, commanded_vx: float) -> str | None:
        """Record the pose at ``stamp`` and the forward speed commanded from then on; a description of
        the lack of progress when the rover is stuck, else None."""
        if self._last is not None:
            t0, vx0 = self._last
            if stamp < t0:  # time went back (a replay restarting): judge afresh
                self.reset()
            else:
                self._commanded += max(vx0, 0.0) * (stamp - t0)
        self._last = (stamp, commanded_vx)
        self._samples.append((stamp, x, y, self._commanded))
        c = self.config
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
