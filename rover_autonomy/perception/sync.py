"""Pairing of left and right messages by stamp: exact, or approximate within a slop.

A greedy version of message_filters' policies for two streams that arrive in stamp order each: a new
message pairs with the queued message of the other side nearest in stamp, if within ``slop``
(``slop = 0`` pairs equal stamps only). Messages that can no longer find a partner (older than the
other side's newest stamp minus the slop, or superseded by a newer pair) are returned as dropped
with the reason, so the caller can say why a frame was lost. Stamps are int nanoseconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

SIDES = ("left", "right")


@dataclass(frozen=True)
class Dropped:
    side: str
    stamp: int  # [ns]
    reason: str


@dataclass(frozen=True)
class Pair:
    left: Any
    right: Any
    left_stamp: int  # [ns]
    right_stamp: int  # [ns]


class PairSynchronizer:
    def __init__(self, slop: int = 0, queue_size: int = 5):
        if slop < 0 or queue_size < 1:
            raise ValueError(f"need slop >= 0 and queue_size >= 1, got {slop}, {queue_size}")
        self.slop = int(slop)  # [ns]
        self.queue_size = int(queue_size)
        self._queues: dict[str, deque[tuple[int, Any]]] = {side: deque() for side in SIDES}
        self._newest: dict[str, int | None] = dict.fromkeys(SIDES)

    def add(self, side: str, stamp: int, item: Any) -> tuple[Pair | None, list[Dropped]]:
        """Queue ``item``; return the pair it completes (if any) and the messages given up on."""
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        other = SIDES[1 - SIDES.index(side)]
        dropped: list[Dropped] = []
        newest = self._newest[side]
        self._newest[side] = stamp if newest is None else max(newest, stamp)

        candidates = self._queues[other]
        best = min(range(len(candidates)), key=lambda i: abs(candidates[i][0] - stamp), default=None)
        if best is not None and abs(candidates[best][0] - stamp) <= self.slop:
            other_stamp, other_item = candidates[best]
            for _ in range(best + 1):  # the partner and everything queued before it
                old_stamp, _item = candidates.popleft()
                if old_stamp != other_stamp:
                    dropped.append(Dropped(other, old_stamp, "superseded by a newer pair"))
            own = self._queues[side]
            while own and own[0][0] <= stamp:
                dropped.append(Dropped(side, own.popleft()[0], "superseded by a newer pair"))
            items = {side: (stamp, item), other: (other_stamp, other_item)}
            pair = Pair(items["left"][1], items["right"][1], items["left"][0], items["right"][0])
            return pair, dropped

        own = self._queues[side]
        own.append((stamp, item))
        if len(own) > 1 and own[-2][0] > stamp:  # out of order: keep the queue sorted
            self._queues[side] = own = deque(sorted(own, key=lambda entry: entry[0]))
        while len(own) > self.queue_size:
            dropped.append(Dropped(side, own.popleft()[0], "queue full, no partner arrived"))
        self._prune(dropped)
        return None, dropped

    def _prune(self, dropped: list[Dropped]) -> None:
        """Drop messages older than the other side's newest stamp minus the slop: no partner can come."""
        for side in SIDES:
            other_newest = self._newest[SIDES[1 - SIDES.index(side)]]
            if other_newest is None:
                continue
            queue = self._queues[side]
            while queue and queue[0][0] < other_newest - self.slop:
                stamp = queue.popleft()[0]
                dropped.append(Dropped(side, stamp, f"no partner within the slop of {self.slop / 1e9:g} s"))

    def reset(self) -> None:
        """Forget queued messages and stamps (e.g. after a jump back in time)."""
        for side in SIDES:
            self._queues[side].clear()
            self._newest[side] = None
