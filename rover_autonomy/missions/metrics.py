"""Mission bookkeeping and the verdict: everything ``report.json`` says, computed from what was observed.

Pure Python + numpy. The mission supervisor node feeds a :class:`MissionLog` with ground truth, odometry,
contacts, plans and latency observations; :meth:`MissionLog.report` judges the mission on ground truth:
success means the rover stopped within the goal tolerance, with no body contact, before the timeout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rover_autonomy.geometry import Pose2D

# Why a mission failed, in the words report.json uses.
TIMEOUT = "timeout"
BODY_CONTACT = "body contact"
NODE_DIED = "node died"
NO_PATH = "no path"
NAVIGATION_FAILED = "navigation failed"
INTERRUPTED = "interrupted"


def tilt_deg(quaternion: np.ndarray) -> float:
    """Angle between the body z axis and the world z axis [deg], from (x, y, z, w)."""
    x, y, _, _ = quaternion
    cos_tilt = 1.0 - 2.0 * (x * x + y * y)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos_tilt))))


@dataclass
class MissionLog:
    goal: tuple[float, float]  # [m] in map
    goal_tolerance: float  # [m]
    map_to_odom: tuple[float, float, float]  # the start pose (x, y, yaw)
    truth: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # t, x, y, z, tilt
    odometry: list[tuple[float, float, float]] = field(default_factory=list)  # t, x, y (odom frame)
    body_contacts: int = 0  # contact messages with at least one body contact
    body_contact_parts: set[str] = field(default_factory=set)
    wheel_rock_contacts: int = 0
    plans: list[np.ndarray] = field(default_factory=list)  # (N, 2) in odom
    latencies_ms: list[float] = field(default_factory=list)
    states: list[tuple[float, str]] = field(default_factory=list)  # t, navigation/state text

    def add_truth(self, t: float, position: np.ndarray, quaternion: np.ndarray) -> None:
        self.truth.append(
            (t, float(position[0]), float(position[1]), float(position[2]), tilt_deg(quaternion))
        )

    def add_odometry(self, t: float, position: np.ndarray) -> None:
        self.odometry.append((t, float(position[0]), float(position[1])))

    def add_contacts(self, labels: list[tuple[str, str]]) -> None:
        """Contacts of one sim/contacts message as (namespace, text) pairs ('body'|'wheel', 'part:other')."""
        body = [text for ns, text in labels if ns == "body"]
        if body:
            self.body_contacts += 1
            self.body_contact_parts.update(text.split(":")[0] for text in body)
        self.wheel_rock_contacts += sum(
            1 for ns, text in labels if ns == "wheel" and text.partition(":")[2].startswith("rock")
        )

    def add_state(self, t: float, text: str) -> None:
        if not self.states or self.states[-1][1] != text:
            self.states.append((t, text))

    @property
    def position(self) -> np.ndarray | None:
        return np.array(self.truth[-1][1:3]) if self.truth else None

    def goal_error(self) -> float:
        position = self.position
        return math.inf if position is None else float(np.hypot(*(position - np.asarray(self.goal))))

    def distance_travelled(self) -> float:
        if len(self.truth) < 2:
            return 0.0
        xyz = np.array([row[1:4] for row in self.truth])
        return float(np.sum(np.linalg.norm(np.diff(xyz, axis=0), axis=1)))

    def report(self, failure_reason: str | None, duration_wall_s: float) -> dict:
        """The contents of report.json. ``failure_reason`` is None when the supervisor saw no failure."""
        reason = failure_reason
        if reason is None and self.body_contacts:
            reason = BODY_CONTACT
        if reason is None and self.goal_error() > self.goal_tolerance:
            reason = f"{NAVIGATION_FAILED}: stopped {self.goal_error():.2f} m from the goal (tolerance {self.goal_tolerance:g} m)"
        distance = self.distance_travelled()
        start = np.array(self.truth[0][1:3]) if self.truth else np.array(self.map_to_odom[:2])
        duration_sim = self.truth[-1][0] - self.truth[0][0] if len(self.truth) > 1 else 0.0
        drift = None
        if self.odometry and self.truth and distance > 0:
            odom_final = Pose2D(*self.map_to_odom).to_parent(self.odometry[-1][1:3])[0]
            drift = 100.0 * float(np.hypot(*(odom_final - np.array(self.truth[-1][1:3])))) / distance
        latency = np.array(self.latencies_ms)
        return {
            "success": reason is None,
            "failure_reason": reason,
            "goal": list(self.goal),
            "goal_tolerance_m": self.goal_tolerance,
            "goal_error_m": _round(self.goal_error()),
            "distance_travelled_m": _round(distance),
            "straight_line_m": _round(float(np.hypot(*(np.asarray(self.goal) - start)))),
            "duration_sim_s": _round(duration_sim),
            "duration_wall_s": _round(duration_wall_s),
            "body_contacts": self.body_contacts,
            "body_contact_parts": sorted(self.body_contact_parts),
            "wheel_rock_contacts": self.wheel_rock_contacts,
            "max_tilt_deg": _round(max((row[4] for row in self.truth), default=0.0)),
            "odometry_drift_pct": _round(drift),
            "mean_speed_mps": _round(distance / duration_sim if duration_sim > 0 else 0.0),
            "replans": max(0, len(self.plans) - 1),
            "latency_ms": {
                "median": _round(float(np.median(latency))) if latency.size else None,
                "p95": _round(float(np.percentile(latency, 95))) if latency.size else None,
                "samples": int(latency.size),
            },
            "navigation_states": [f"{t:.1f}s {text}" for t, text in self.states],
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
