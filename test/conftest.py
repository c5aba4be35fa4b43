"""Shared fixtures: every session gets its own DDS domain (discovery stays on this host), every test a
marker from its folder (``unit``, ``integration``, ``e2e``: ``make test PYTEST_ARGS="-m unit"``)."""

import os
import random

# Set at import time, before any test (or child process it starts) initialises rclpy. Domain ids up to
# 232 are valid for Fast DDS; a wide range keeps concurrent sessions on one machine apart.
os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 232))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")


import time
from pathlib import Path

import pytest

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).resolve().parent
    for item in items:
        layer = Path(item.fspath).resolve().relative_to(root).parts[0]
        if layer in LAYERS:
            item.add_marker(layer)


class RosHarness:
    """One rclpy context and executor for a test; nodes added to it spin together in this process."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []

    def node(self, name_or_node, **kwargs):
        """Add a node (or create a plain one by name) to the executor."""
        from rclpy.node import Node

        node = (
            name_or_node
            if isinstance(name_or_node, Node)
            else Node(name_or_node, context=self.context, **kwargs)
        )
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def spin_until(self, predicate, timeout=10.0, step=0.02):
        """Spin until predicate() is true; returns its last value (falsy on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            self.executor.spin_once(timeout_sec=step)
        return predicate()

    def spin_for(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self):
        import rclpy

        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    harness = RosHarness()
    yield harness
    harness.close()
