"""What a navigation core asks its node to do besides publishing: log lines, throttled warnings and the
diagnostics status, returned in order with the core's other actions (no ROS here).

A core method decorated with :func:`collects_actions` returns the list of actions it emitted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Info:
    """A line for the node's log."""

    message: str


@dataclass(frozen=True)
class Warn:
    """A warning, logged at most once every few seconds per ``key``; it is also the diagnostics status."""

    key: str
    message: str


@dataclass(frozen=True)
class Healthy:
    """An OK diagnostics status with its key/values."""

    message: str
    values: dict[str, object] = field(default_factory=dict)


def collects_actions(method):
    """Make ``method`` return the actions it emitted (``self._emit``) in order, not its own result."""

    @functools.wraps(method)
    def collecting(self, *args, **kwargs) -> list:
        self._actions = []
        method(self, *args, **kwargs)
        actions, self._actions = self._actions, []
        return actions

    return collecting
