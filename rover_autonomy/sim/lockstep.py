"""Lockstep: the simulator advances past a camera frame only once the stack has answered it.

After publishing a camera frame stamped t, the simulator holds sim time at t until every configured
gate topic has been observed answering that frame — a stamped message (one with a header) stamped
≥ t, or, for an unstamped type (a wheel command array), any message received after the frame was
published — or until a wall-clock timeout. Because sim time stands still while the stack computes,
outcomes do not depend on how fast the machine is; the timeout keeps a missing or crashed node from
hanging the simulation (the gate then reports which topics never answered).

Gate topics are written ``topic:package/msg/Type`` (``cmd_vel:geometry_msgs/msg/TwistStamped``,
``stereo/points:sensor_msgs/msg/PointCloud2``); ``package/Type`` is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateTopic:
    topic: str
    package: str
    type_name: str

    @property
    def type_path(self) -> str:
        return f"{self.package}/msg/{self.type_name}"


def parse_gate_topics(entries: list[str]) -> list[GateTopic]:
    """Parse ``topic:package/msg/Type`` entries; raises ValueError naming the bad entry."""
    topics = []
    for entry in entries:
        topic, sep, type_text = entry.strip().rpartition(":")
        parts = type_text.split("/")
        if not sep or not topic or len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != "msg"):
            raise ValueError(f"lockstep topic {entry!r}: expected 'topic:package/msg/Type'")
        if not all(p.isidentifier() for p in parts):
            raise ValueError(f"lockstep topic {entry!r}: {type_text!r} is not a message type name")
        topics.append(GateTopic(topic, parts[0], parts[-1]))
    names = [t.topic for t in topics]
    if len(set(names)) != len(names):
        raise ValueError(f"lockstep topics: duplicate topic in {names}")
    return topics


class LockstepGate:
    """Tracks whether the gate topics have answered the frame the simulator is holding at."""

    def __init__(self, topics: list[str], timeout: float):
        self.topics = list(topics)
        self.timeout = timeout  # [s] wall clock
        self.frame_ns: int | None = None
        self._opened_at = 0.0
        self._answered: set[str] = set()
        self.timeouts = 0

    @property
    def holding(self) -> bool:
        return self.frame_ns is not None

    def hold(self, frame_ns: int, wall_now: float) -> None:
        """A frame stamped ``frame_ns`` was just published: hold sim time until it is answered."""
        if not self.topics:
            return
        self.frame_ns = frame_ns
        self._opened_at = wall_now
        self._answered = set()

    def observe(self, topic: str, stamp_ns: int | None) -> None:
        """A gate topic message arrived; ``stamp_ns`` None for unstamped types."""
        if self.frame_ns is None or topic not in self.topics:
            return
        if stamp_ns is None or stamp_ns >= self.frame_ns:
            self._answered.add(topic)

    @property
    def missing(self) -> list[str]:
        return [t for t in self.topics if t not in self._answered]

    def poll(self, wall_now: float) -> str | None:
        """Release the hold when answered or timed out; returns a reason when it timed out."""
        if self.frame_ns is None:
            return None
        if not self.missing:
            self.frame_ns = None
            return None
        if wall_now - self._opened_at >= self.timeout:
            reason = (
                f"lockstep: no answer on {', '.join(self.missing)} for frame {self.frame_ns * 1e-9:.3f} s"
            )
            reason += f" within {self.timeout:g} s; continuing"
            self.frame_ns = None
            self.timeouts += 1
            return reason
        return None
