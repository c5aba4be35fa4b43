"""Recorder: writes the contract's topics, as received, into a rosbag2 MCAP bag.

Subscribes with raw subscriptions (the CDR bytes are stored untouched, as ``ros2 bag record`` does)
and the contract's QoS per topic, so latched and map topics (transient local) arrive for a late
joiner too. The log time of a message is the recorder's ROS time: sim time while a ``/clock`` runs
(messages before the first clock tick are logged at their header stamp; those without a header are
dropped, and counted), wall time otherwise.
Missions record in-process by adding a :class:`Recorder` to their executor (``rover-autonomy
record`` runs one standalone)::

    writer = BagWriter(bag)
    store_parameters(writer, overrides)  # the launch plan's per-node overrides: map_to_odom…
    recorder = Recorder(writer, recordable_topics(), use_sim_time=True, context=context)
    executor.add_node(recorder)
    ...
    recorder.close()  # after the last spin: writes metadata.yaml
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from rover_autonomy.contract import TOPICS
from rover_autonomy.replay.bag import (
    TYPESTORE,
    BagError,
    BagWriter,
    absolute,
    cdr_stamp_ns,
    ros_type,
    stamp_layout,
)
from rover_autonomy.ros_common import qos


def message_class(type_name: str):
    """The rclpy message class of ``package/msg/Type`` (or ``package/Type``); LookupError if absent."""
    package, _, name = ros_type(type_name).split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as err:
        raise LookupError(f"message type {type_name} is not available here ({err})") from err


def recordable_topics(names: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """topic -> (ros type, QoS profile) of the contract's topics, or of ``names`` (ValueError if unknown)."""
    if not names:
        return {name: (ros_type(t.type), t.qos) for name, t in TOPICS.items()}
    unknown = [n for n in names if n.strip("/") not in TOPICS and n not in TOPICS]
    if unknown:
        raise ValueError(f"not contract topics: {', '.join(unknown)} (see docs/interfaces.md)")
    result = {}
    for n in names:
        key = n if n in TOPICS else n.strip("/")
        result[key] = (ros_type(TOPICS[key].type), TOPICS[key].qos)
    return result


class Recorder(Node):
    """Records ``topics`` (name -> (type, QoS profile name)) into ``writer``."""

    def __init__(
        self, writer: BagWriter, topics: dict[str, tuple[str, str]], use_sim_time: bool = True, **kw
    ):
        super().__init__(
            "bag_recorder",
            parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)],
            **kw,
        )
        self.writer = writer
        self.received: dict[str, int] = {}
        self.unstamped_before_clock = 0  # dropped: no log time for them yet
        for topic, (msgtype, profile) in topics.items():
            writer.add_topic(topic, msgtype, profile)
            stamped = bool(stamp_layout(TYPESTORE, msgtype))
            self.create_subscription(
                message_class(msgtype),
                absolute(topic),
                lambda raw, t=topic, s=stamped: self._on_message(t, s, raw),
                qos.profile(profile),
                raw=True,
            )
            self.received[topic] = 0

    def close(self) -> None:
        """Finish the bag (metadata.yaml, MCAP summary); call once the executor stopped spinning."""
        self.writer.close()

    def _on_message(self, topic: str, stamped: bool, raw: bytes) -> None:
        now = self.get_clock().now().nanoseconds
        if now == 0:  # sim time before the first /clock tick: the data's own stamp is the best time
            if not stamped:
                self.unstamped_before_clock += 1
                return
            now = cdr_stamp_ns(raw)
        self.writer.write(topic, now, raw)
        self.received[topic] += 1


def record(
    bag: Path,
    topics: dict,
    duration: float = 0.0,
    clock: str = "auto",
    prog: str = "record",
    log=print,
    sim_duration: float = 0.0,
) -> int:
    """Record ``topics`` into ``bag`` until Ctrl-C/SIGTERM, ``duration`` wall seconds or
    ``sim_duration`` seconds of sim time after the first clock tick; returns an exit code."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=rclpy.SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor(context=context)
    recorder = None
    try:
        use_sim_time = clock == "sim"
        if clock == "auto":
            use_sim_time = _clock_running(context, executor)
        try:
            writer = BagWriter(bag)
        except BagError as err:
            print(f"{prog}: {err}", file=sys.stderr)
            return 1
        recorder = Recorder(writer, topics, use_sim_time=use_sim_time, context=context)
        executor.add_node(recorder)
        log(
            f"recording {len(topics)} topics into {bag} ({'sim' if use_sim_time else 'wall'} time); Ctrl-C stops"
        )
        end = time.monotonic() + duration if duration > 0 else None
        sim_start = None
        while not stop.is_set() and (end is None or time.monotonic() < end):
            executor.spin_once(timeout_sec=0.05)
            now = recorder.get_clock().now().nanoseconds
            if use_sim_time and sim_duration > 0 and now > 0:
                sim_start = now if sim_start is None else sim_start
                if now - sim_start >= sim_duration * 1e9:
                    break
        writer.close()
        total = sum(recorder.received.values())
        busy = ", ".join(f"{t} {n}" for t, n in recorder.received.items() if n)
        dropped = recorder.unstamped_before_clock
        log(
            f"wrote {total} messages to {bag}"
            + (f": {busy}" if busy else "")
            + (f"; dropped {dropped} without a header stamp before the first /clock tick" if dropped else "")
        )
        return 0
    finally:
        if recorder is not None:
            executor.remove_node(recorder)
            recorder.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _clock_running(context, executor, wait: float = 1.5) -> bool:
    """Whether something publishes ``/clock`` (discovery takes a moment: look for up to ``wait`` s)."""
    probe = Node("bag_recorder_probe", context=context)
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if probe.count_publishers("/clock"):
                return True
            executor.spin_once(timeout_sec=0.05)
        return False
    finally:
        executor.remove_node(probe)
        probe.destroy_node()
