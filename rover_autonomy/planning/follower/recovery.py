"""Getting unstuck: commanded motion that the odometry does not see, and the way out of it.

A rover with a wheel against a rock it cannot climb, or sunk in soft soil, keeps its wheels turning
while it stays where it is. The costmap cannot see this (the rock may be below the step the map calls
lethal); the odometry can, once it measures slip (visual odometry: docs/visual_odometry.md).
:class:`StuckMonitor` compares the translation the follower commanded over a window of odometry time
with the distance the rover moved; when it moved less than ``progress_fraction`` of it (a slip above
80 % by default, past where MER's slip checks stop a drive), the rover is stuck. Turns in place are no
translation: point turns, arcs tighter than the base can drive (it turns in place instead) and the
steering that follows a turn in place (the base steers, then drives).

The recovery is the one MER drivers and Nav2's behaviours use: back up along the rover's own heading a
short way (over ground it has just crossed, checked against the costmap), keep the obstruction out and
plan around it. :class:`StuckPlaces` decides the keep-out discs: ahead of the stuck rover along its
motion, never nearer the rover than their radius plus half its footprint, and growing with every stuck
event at the same place — a disc, a wider disc, a wall closing the side tried (the planner then goes
round the other side), and then the rover gives up on the place.

Pure: no ROS. Stamps are seconds of odometry time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.kinematics import turns_in_place
from rover_autonomy.planning.arc_follower import cost_at
from rover_autonomy.planning.costs import LETHAL
from rover_autonomy.planning.keep_out import MAX_KEEP_OUT, KeepOutPlace
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


def footprint_half_length(model: RoverModel) -> float:
    """How far [m] the rover reaches ahead of its centre: the front wheels' contact, or the chassis."""
    wheels = max(abs(w.x) for w in model.wheels) + model.wheel_radius
    return max(wheels, model.body.length / 2 + abs(model.body.centre_x))


def place_ahead(
    stuck: tuple[float, float, float], rover_xy: tuple[float, float], radius: float, clearance: float
) -> tuple[float, float]:
    """Centre of a keep-out disc of ``radius`` for a rover stuck at ``stuck`` (x, y, heading) and now at
    ``rover_xy`` (after backing up, or not): ahead along the heading (the stuck judgement counts forward
    motion only), with its near edge where the rover's centre stood — the ground it could not drive
    onto — and pushed further ahead until it lies ``radius + clearance`` from the rover."""
    x, y, yaw = stuck
    ux, uy = math.cos(yaw), math.sin(yaw)
    backed = (x - rover_xy[0]) * ux + (y - rover_xy[1]) * uy  # how far behind, along the heading
    ahead = max(radius, radius + clearance - backed)
    return x + ahead * ux, y + ahead * uy


WIDER = 2.0  # the disc of a second stuck event at a place is this many times keep_out_radius
WALL_RADII = 6  # a wall closing the side tried reaches this many keep_out_radius out (or lethal ground)
GIVE_UP_AFTER = 3  # stuck events at one place before the rover gives up on it


@dataclass(frozen=True)
class KeepOutConfig:
    radius: float = 0.5  # [m] of the disc kept out where the rover first got stuck at a place
    clearance: float = 0.78  # [m] half the rover's footprint: a disc's edge stays this far from its centre

    def __post_init__(self):
        if not (self.radius > 0 and self.clearance >= 0):
            raise ValueError("keep-out discs need radius > 0 and clearance >= 0")


@dataclass(frozen=True)
class StuckEvent:
    """A stuck event, judged against the places the rover got stuck at before."""

    count: int  # stuck events at this place, this one included
    first: tuple[float, float]  # where the rover first got stuck at this place [m]
    place: int | None  # which place (None: a new one)
    nearest: KeepOutPlace | None  # the place's disc nearest to the rover


class StuckPlaces:
    """The places the rover got stuck at, and the keep-out discs each stuck event adds there.

    A stuck event is at a known place when the rover's centre lies within ``radius + clearance`` of the
    edge of one of the place's discs. Its ``count``-th event keeps out: 1, a disc of ``radius``; 2, one
    :data:`WIDER`; 3, that wider disc joined to the place's nearest disc and a wall of discs out on the
    side the rover tried (perpendicular to its heading, :data:`WALL_RADII` radii or up to unsafe
    ground), so the next plan goes round the other side; beyond :data:`GIVE_UP_AFTER` the rover gives up
    on the place. Every disc lies at least its radius plus ``clearance`` from the rover.
    """

    def __init__(self, config: KeepOutConfig):
        self.config = config
        self._discs: deque[tuple[KeepOutPlace, int]] = deque(maxlen=MAX_KEEP_OUT)  # (disc, place)
        self._places: list[tuple[tuple[float, float], int]] = []  # (first stuck position, events) each

    @property
    def discs(self) -> list[KeepOutPlace]:
        """The discs kept out, oldest first (the last :data:`MAX_KEEP_OUT`, as the planner keeps)."""
        return [disc for disc, _ in self._discs]

    def judge(self, x: float, y: float) -> StuckEvent:
        """The event of a rover stuck with its centre at (x, y) [m]."""
        reach = self.config.radius + self.config.clearance
        near = [
            (math.hypot(x - disc.x, y - disc.y) - disc.radius, disc, place) for disc, place in self._discs
        ]
        near = [n for n in near if n[0] <= reach]
        if not near:
            return StuckEvent(1, (x, y), None, None)
        _, disc, place = min(near, key=lambda n: n[0])
        first, events = self._places[place]
        return StuckEvent(events + 1, first, place, disc)

    def keep_out(
        self,
        event: StuckEvent,
        stuck: tuple[float, float, float],
        rover_xy: tuple[float, float],
        unsafe: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> list[KeepOutPlace]:
        """Record ``event`` (stuck at ``stuck`` = x, y, heading; the rover now at ``rover_xy``) and return
        the discs it adds. ``unsafe(xs, ys)`` says which points are ground the rover cannot drive onto
        anyway: a wall ends there."""
        c = self.config
        if event.place is None:
            self._places.append((event.first, 1))
            place = len(self._places) - 1
        else:
            place = event.place
            self._places[place] = (event.first, event.count)
        radius = c.radius if event.count == 1 else WIDER * c.radius
        centre = place_ahead(stuck, rover_xy, radius, c.clearance)
        discs = [KeepOutPlace(*centre, radius)]
        if event.count >= 3 and event.nearest is not None:
            discs += self._other_side(centre, stuck, event.nearest, unsafe)
        discs = [
            d for d in discs if math.hypot(d.x - rover_xy[0], d.y - rover_xy[1]) >= d.radius + c.clearance
        ]
        self._discs.extend((disc, place) for disc in discs)
        return discs

    def _other_side(self, centre, stuck, nearest: KeepOutPlace, unsafe) -> list[KeepOutPlace]:
        """Discs of ``radius`` joining ``centre`` to ``nearest`` and walling off the side tried."""
        r = self.config.radius
        x, y, yaw = stuck
        join = np.array([nearest.x - centre[0], nearest.y - centre[1]])
        length = float(np.hypot(*join))
        steps = np.arange(1, math.ceil(length / r)) * r
        discs = [
            KeepOutPlace(float(centre[0] + t * join[0] / length), float(centre[1] + t * join[1] / length), r)
            for t in steps
        ]
        # The side tried: where the rover stood relative to the place, across its heading.
        ux, uy = math.cos(yaw), math.sin(yaw)
        across = (-uy, ux)
        side = (x - nearest.x) * across[0] + (y - nearest.y) * across[1]
        sign = -1.0 if side < 0 else 1.0
        out = np.arange(1, WALL_RADII + 1) * r
        wx, wy = centre[0] + sign * across[0] * out, centre[1] + sign * across[1] * out
        blocked = np.asarray(unsafe(wx, wy), dtype=bool)
        stop = int(blocked.argmax()) if blocked.any() else len(out)
        return discs + [
            KeepOutPlace(float(a), float(b), r) for a, b in zip(wx[:stop], wy[:stop], strict=True)
        ]
