"""Input ordering of the wheel odometry: joint states and IMU samples released in (stamp, topic) order.

The IMU goes first at equal stamps, so the joint state of that stamp is fused with it; the estimate then
depends only on the input sequence (bit-identical on replay), not on the order messages arrived in.
"""

from __future__ import annotations

import heapq
import math

IMU, JOINTS = "imu/data", "joint_states"
TOPIC_ORDER = {IMU: 0, JOINTS: 1}  # at equal stamps the IMU goes first: odometry then includes it


class InputSequencer:
    """Releases samples of several topics in (stamp, topic) order once every live topic has passed them.

    A topic silent for ``stale_after`` [s] of input time (the IMU dropping out) stops holding the others
    back. Samples older than what was already released, and repeated stamps, are refused.
    """

    def __init__(self, topics: dict[str, int], stale_after: float):
        self.topics = topics
        self.stale_after = stale_after
        self.reset()

    def reset(self) -> None:
        self._pending: list = []
        self._latest: dict[str, float] = {}
        self._first: float | None = None
        self._released: tuple[float, int] = (-math.inf, -1)  # (stamp, topic order) of the last release
        self._count = 0

    @property
    def newest(self) -> float | None:
        return max(self._latest.values()) if self._latest else None

    def push(self, topic: str, stamp: float, payload) -> str | None:
        """Queue a sample; returns why it was refused ('duplicate', 'out_of_order') or None."""
        latest = self._latest.get(topic)
        if latest is not None and stamp == latest:
            return "duplicate"
        # Even a refused sample shows that its topic is alive again.
        self._latest[topic] = stamp if latest is None else max(latest, stamp)
        if (stamp, self.topics[topic]) <= self._released:
            return "out_of_order"
        self._first = stamp if self._first is None else min(self._first, stamp)
        heapq.heappush(self._pending, (stamp, self.topics[topic], self._count, topic, payload))
        self._count += 1
        return None

    def pop_ready(self) -> list[tuple[float, str, object]]:
        if not self._latest:
            return []
        newest = self.newest
        horizon = []
        for topic in self.topics:
            latest = self._latest.get(topic)
            if latest is None:
                if newest - self._first <= self.stale_after:
                    return []  # still waiting for this topic's first sample
            elif newest - latest <= self.stale_after:
                horizon.append(latest)
        watermark = min(horizon)
        ready = []
        while self._pending and self._pending[0][0] <= watermark:
            stamp, order, _, topic, payload = heapq.heappop(self._pending)
            ready.append((stamp, topic, payload))
            self._released = (stamp, order)
        return ready
