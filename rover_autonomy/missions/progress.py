"""Progress display of a mission: one status line, redrawn in place on a terminal and printed every
``period`` [s] of wall time otherwise (a log file, CI), so that a long mission neither floods a log
nor looks stuck."""

from __future__ import annotations

import math
import sys
import time


class Progress:
    """One status line: redrawn in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream=sys.stderr, period: float = 5.0):
        self.stream = stream
        self.tty = stream.isatty()
        self.period = period
        self.last = -math.inf

    def show(self, text: str) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
        elif now - self.last >= self.period:
            self.stream.write(text + "\n")
            self.last = now

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
