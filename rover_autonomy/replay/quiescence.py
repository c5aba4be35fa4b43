"""Quiescence of the nodes under test: have they finished with what they were given?

A lockstep replay must not hand a node its next input while it still works on the previous one,
or the order in which the node's callbacks see its different inputs (a costmap and an odometry
message, say) would depend on timing. Answer topics cover nodes that answer every input; for the
others (a planner replans when it decides to) the player waits until the node processes have been
idle — consumed less than ``busy_fraction`` of a CPU over a window, counting every thread (DDS,
OpenCV and numba pools) — and no output has arrived within that window.

CPU time comes from ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds on CPU, Linux). Where it is not
available the window degrades to output silence alone, a weaker condition (docs/replay.md).
"""

from __future__ import annotations

import os
from pathlib import Path


def _task_cpu_ns(task: Path) -> int:
    try:
        return int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # the thread ended between listing and reading


class ProcessActivity:
    """Total CPU time [ns] of a set of processes, all threads included."""

    def __init__(self, pids: list[int]):
        self.pids = list(pids)
        self.supported = all(Path(f"/proc/{pid}/task").is_dir() for pid in self.pids) and bool(
            Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").is_file()
        )

    def cpu_ns(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue  # the process ended: the launcher reports it
            total += sum(_task_cpu_ns(task) for task in tasks)
        return total


def idle(cpu_before: int, cpu_after: int, window_s: float, busy_fraction: float) -> bool:
    """Whether CPU use over a window stayed below ``busy_fraction`` of one CPU."""
    return (cpu_after - cpu_before) < busy_fraction * window_s * 1e9
