"""A buffer of timestamped poses with interpolation (linear position, quaternion slerp).

Data stamped at t needs the pose at t: :meth:`PoseBuffer.lookup` answers ``WAIT`` while the newest
pose is older than t (the caller keeps the data until odometry covers it, never extrapolating),
``TOO_OLD`` when t precedes the buffer, ``GAP`` when the two poses around t are too far apart in time
to interpolate. :meth:`PoseBuffer.add` refuses poses that do not advance in time and detects jumps
(a displacement or rotation that the rover cannot make in the elapsed time): after a jump the buffer
restarts from the new pose, so no interpolation ever spans it. Stamps are int nanoseconds.
Quaternions are (x, y, z, w).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum

import numpy as np

from rover_autonomy.geometry import pose_matrix, rotation_angle, slerp


class Lookup(Enum):
    OK = "ok"
    WAIT = "wait"  # the stamp is newer than the newest pose: keep the data, try again later
    TOO_OLD = "too_old"  # the stamp precedes the oldest buffered pose
    GAP = "gap"  # the poses around the stamp are further apart than max_gap_ns


class Added(Enum):
    OK = "ok"
    STALE = "stale"  # not newer than the newest pose: ignored
    JUMP = "jump"  # discontinuity: the buffer restarted from this pose


@dataclass(frozen=True)
class JumpLimits:
    distance: float = 0.5  # [m] allowed beyond speed·dt
    speed: float = 2.0  # [m/s]
    angle: float = 0.5  # [rad] allowed beyond yaw_rate·dt
    yaw_rate: float = 2.0  # [rad/s]


class PoseBuffer:
    """Poses of one frame (base_link in odom) over the last ``max_age_ns``."""

    def __init__(self, max_age_ns: int, max_gap_ns: int, jump: JumpLimits | None = None):
        self.max_age_ns = int(max_age_ns)
        self.max_gap_ns = int(max_gap_ns)
        self.jump = jump or JumpLimits()
        self._stamps: list[int] = []
        self._positions: list[np.ndarray] = []
        self._quaternions: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def newest_ns(self) -> int | None:
        return self._stamps[-1] if self._stamps else None

    @property
    def oldest_ns(self) -> int | None:
        return self._stamps[0] if self._stamps else None

    def clear(self) -> None:
        self._stamps.clear()
        self._positions.clear()
        self._quaternions.clear()

    def add(self, stamp_ns: int, position, quaternion) -> Added:
        position = np.asarray(position, dtype=float)
        quaternion = np.asarray(quaternion, dtype=float)
        quaternion = quaternion / np.linalg.norm(quaternion)
        result = Added.OK
        if self._stamps:
            last = self._stamps[-1]
            if stamp_ns <= last:
                return Added.STALE
            dt = (stamp_ns - last) * 1e-9
            moved = float(np.linalg.norm(position - self._positions[-1]))
            turned = rotation_angle(quaternion, self._quaternions[-1])
            if moved > self.jump.distance + self.jump.speed * dt or (
                turned > self.jump.angle + self.jump.yaw_rate * dt
            ):
                self.clear()
                result = Added.JUMP
        self._stamps.append(int(stamp_ns))
        self._positions.append(position)
        self._quaternions.append(quaternion)
        cutoff = stamp_ns - self.max_age_ns
        drop = bisect.bisect_left(self._stamps, cutoff) - 1  # keep one pose at or before the cutoff
        if drop > 0:
            del self._stamps[:drop], self._positions[:drop], self._quaternions[:drop]
        return result

    def lookup(self, stamp_ns: int) -> tuple[Lookup, np.ndarray | None]:
        """(status, 4x4 base_link→odom transform at ``stamp_ns`` when status is OK)."""
        if not self._stamps or stamp_ns > self._stamps[-1]:
            return Lookup.WAIT, None
        if stamp_ns < self._stamps[0]:
            return Lookup.TOO_OLD, None
        i = bisect.bisect_left(self._stamps, stamp_ns)
        if self._stamps[i] == stamp_ns:
            return Lookup.OK, pose_matrix(self._positions[i], self._quaternions[i])
        t0, t1 = self._stamps[i - 1], self._stamps[i]
        if t1 - t0 > self.max_gap_ns:
            return Lookup.GAP, None
        fraction = (stamp_ns - t0) / (t1 - t0)
        position = self._positions[i - 1] + fraction * (self._positions[i] - self._positions[i - 1])
        quaternion = slerp(self._quaternions[i - 1], self._quaternions[i], fraction)
        return Lookup.OK, pose_matrix(position, quaternion)
