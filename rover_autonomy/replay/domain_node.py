"""The DDS set-up of a replay: a domain of its own, found free by a probe node, and the large-data
transports that the replay and the nodes it starts share.

A simulator or another replay on the machine must not feed the nodes under test, and over the default
UDP transport a large message can be in flight long enough for a barrier to miss it (docs/replay.md).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

# Replays run in a DDS domain of their own, drawn from this range (tests use 1…100; 232 is the largest
# domain whose Fast DDS ports stay valid).
REPLAY_DOMAINS = range(101, 233)


def prefer_large_data_transport() -> bool:
    """Use Fast DDS's large-data transports (shared memory and TCP on this host) for this process and
    the nodes it starts, unless FASTDDS_BUILTIN_TRANSPORTS is set or DDS already runs here (all
    participants of a domain must agree). Over the default UDP a 300 kB image is fragmented and a lost
    fragment waits for a heartbeat: a message that long in flight is invisible to the barrier."""
    if "FASTDDS_BUILTIN_TRANSPORTS" in os.environ:
        return False
    try:
        threads = [(task / "comm").read_text() for task in Path("/proc/self/task").iterdir()]
    except OSError:
        return False
    if any(name.startswith("dds.") for name in threads):
        return False
    os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = "LARGE_DATA"
    return True


def quiet_domain(attempts: int = 8, listen: float = 0.5) -> int:
    """A DDS domain in which no other ROS node shows up within ``listen`` s of discovery."""
    rng = random.SystemRandom()
    domain = rng.choice(REPLAY_DOMAINS)
    for _ in range(attempts):
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain, signal_handler_options=rclpy.SignalHandlerOptions.NO)
        try:
            probe = Node("replay_domain_probe", context=context)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(probe)
            deadline = time.monotonic() + listen
            others = []
            while time.monotonic() < deadline and not others:
                executor.spin_once(timeout_sec=0.05)
                others = [n for n in probe.get_node_names() if n != probe.get_name()]
            executor.shutdown()
            probe.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)
        if not others:
            return domain
        domain = rng.choice(REPLAY_DOMAINS)
    return domain
