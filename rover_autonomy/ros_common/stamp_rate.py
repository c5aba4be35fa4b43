"""Output rates kept on input stamps, so a decimated stream is the same in every replay of the input."""

from __future__ import annotations


class StampRate:
    """``due(stamp_ns)`` is true for the first stamp in each whole period of time (``stamp // period``).

    Binning on whole periods, rather than counting from the last stamp let through, keeps stamps at
    multiples of the period: a camera frame at t = 0.5 s finds an output stamped t at 50 Hz, so nothing
    that waits for data at the frame's stamp (a map fusing the frame, a simulator in lockstep) waits
    for the next period. A period of 0 lets every stamp through; a stamp in an earlier period than the
    last one let through (a replay restarting) starts again rather than muting the output.
    """

    def __init__(self, period_ns: int):
        if period_ns < 0:
            raise ValueError(f"period must be >= 0, got {period_ns} ns")
        self.period_ns = period_ns
        self._bin: int | None = None

    @classmethod
    def from_rate(cls, rate_hz: float) -> StampRate:
        """At most ``rate_hz`` outputs a second; 0 for every stamp."""
        return cls(round(1e9 / rate_hz) if rate_hz > 0 else 0)

    def due(self, stamp_ns: int) -> bool:
        if self.period_ns == 0:
            return True
        current = stamp_ns // self.period_ns
        if self._bin is not None and current == self._bin:
            return False
        self._bin = current
        return True

    def reset(self) -> None:
        self._bin = None
