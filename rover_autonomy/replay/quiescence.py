"""Quiescence of the nodes under test: have they finished with what they were given?

A lockstep replay must not hand a node its next input while it still works on the previous one,
or the order in which the node's callbacks see its different inputs (a costmap and an odometry
message, say) would depend on timing. Answer topics cover nodes that answer every input; for the
others (a planner replans when it decides to) the player waits until the node processes have been
idle over a sliding window — no thread running or runnable (waiting for a CPU on a loaded machine)
at any sample, less than ``busy_fraction`` of a CPU consumed, counting every thread (DDS, OpenCV and
numba pools) — and no output has arrived within that window.

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


def _task_runnable(task: Path) -> bool:
    """State R: running, or runnable and waiting for a CPU (which CPU time alone would not show)."""
    try:
        stat = (task / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R"


class ProcessActivity:
    """Total CPU time [ns] of a set of processes, all threads included."""

    def __init__(self, pids: list[int], names: list[str] | None = None):
        self.pids = list(pids)
        self.names = list(names) if names is not None else [str(pid) for pid in self.pids]
        self.supported = all(Path(f"/proc/{pid}/task").is_dir() for pid in self.pids) and bool(
            Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").is_file()
        )

    def _tasks(self) -> list[Path]:
        tasks = []
        for pid in self.pids:
            try:
                tasks += list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue  # the process ended: the launcher reports it
        return tasks

    def sample(self) -> tuple[int, bool]:
        """(total CPU time [ns], whether any thread is running or runnable right now)."""
        tasks = self._tasks()
        return sum(_task_cpu_ns(t) for t in tasks), any(_task_runnable(t) for t in tasks)

    def per_process_ns(self) -> dict[str, int]:
        """CPU time [ns] of each process, by name."""
        result = {}
        for pid, name in zip(self.pids, self.names, strict=True):
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                tasks = []
            result[name] = sum(_task_cpu_ns(task) for task in tasks)
        return result


def busiest(before: dict[str, int], after: dict[str, int], elapsed_s: float, share: float = 0.2) -> list[str]:
    """Processes that used more than ``share`` of a CPU between two :meth:`per_process_ns` samples."""
    return [name for name in after if after[name] - before.get(name, 0) > share * elapsed_s * 1e9]


def idle(cpu_before: int, cpu_after: int, window_s: float, busy_fraction: float) -> bool:
    """Whether CPU use over a window stayed below ``busy_fraction`` of one CPU."""
    return (cpu_after - cpu_before) < busy_fraction * window_s * 1e9
