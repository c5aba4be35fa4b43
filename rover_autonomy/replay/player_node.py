"""Player: publishes a bag's inputs on sim time, in stamp order, in lockstep with the nodes under test.

For each group of messages sharing a stamp t (in (stamp, topic) order, see :mod:`.bag`), the player
publishes ``/clock`` = t, then the messages' recorded CDR bytes with the contract's QoS, then holds
until the nodes have answered (:mod:`.playlist`: answer topics stamped ≥ t; settling after inputs
answered irregularly) or a timeout expires. Sim time therefore only advances once the nodes have
consumed the present, whatever the machine's speed. Every output of the nodes is written, as
received, into the outputs bag (logged at the sim time it arrived in).

Nothing here spins on its own: :meth:`Player.play` drives the executor it is given, and calls an
``abort`` check (a node died, Ctrl-C) between spins so that a replay never hangs. :class:`PlayerContext`
holds the player's rclpy context and executor; :mod:`.session` runs a whole replay around them.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from rover_autonomy.replay.bag import (
    TYPESTORE,
    BagWriter,
    Message,
    absolute,
    cdr_stamp_ns,
    stamp_layout,
)
from rover_autonomy.replay.playlist import Playlist, relay_topic
from rover_autonomy.replay.quiescence import ProcessActivity, busiest, idle
from rover_autonomy.replay.recorder_node import message_class
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import ns_to_stamp

# Below this share of one CPU over the settle window, the node processes count as idle.
BUSY_FRACTION = 0.05
# [s] at least, between the nodes matching the player's topics and the first message.
LINK_GRACE = 1.0
# [s] of idle node processes that end the start-up (imports, JIT compiles, discovery) before playing.
STARTUP_QUIET = 0.5
# A replay whose nodes stay busy through this many barriers in a row is stopped (a node spins).
BUSY_BARRIERS_LIMIT = 3


class ReplayAbortError(RuntimeError):
    """Playing stopped early (a node died, the nodes never came up, Ctrl-C); the reason is the message."""


@dataclass
class PlayStats:
    groups: int = 0
    messages: int = 0
    published: dict[str, int] = field(default_factory=dict)
    answer_timeouts: int = 0
    missed: list[str] = field(default_factory=list)  # first few "topic at t" that never answered
    settle_timeouts: int = 0  # barriers at which the nodes never went quiet
    settle_windows: int = 0  # samples taken while settling, all barriers together
    busy_windows: int = 0  # of which found the node processes busy
    relayed: int = 0  # outputs republished to the nodes consuming them
    sim_start_ns: int | None = None
    sim_end_ns: int | None = None
    wall_s: float = 0.0


@dataclass(frozen=True)
class LockstepTiming:
    """How long the player waits for the nodes [s of wall time]."""

    answer_timeout: float = 10.0  # for an awaited answer
    settle: float = 0.005  # quiet window after each message (0: no settling)
    settle_timeout: float = 60.0  # for the nodes to go idle after a message (a first-call JIT compile)
    startup_timeout: float = 60.0  # for the nodes to come up


class Player(Node):
    def __init__(self, playlist: Playlist, outputs: BagWriter, timing: LockstepTiming, **kw):
        super().__init__("replay_player", parameter_overrides=[Parameter("use_sim_time", value=False)], **kw)
        self.playlist = playlist
        self.outputs = outputs
        self.timing = timing
        self.sim_now_ns = 0
        self.newest_stamp: dict[str, int] = {}
        self.last_output_wall = time.monotonic()
        self.stats = PlayStats()
        self._busy_in_a_row = 0
        self._settle_start: dict[str, int] = {}
        self.played_up_to: dict[str, int] = {}  # played or relayed topic -> newest stamp sent
        self.expected: list = []  # (Answer, stamp) not due yet
        self.clock = self.create_publisher(Clock, "/clock", qos.profile("clock"))
        self.publishers_by_topic = {
            topic: self.create_publisher(message_class(msgtype), absolute(topic), qos.for_topic(topic))
            for topic, msgtype in playlist.played.items()
        }
        # Outputs one selected node feeds another are relayed: the player is the only publisher of
        # every topic a node consumes, so it orders all of a node's inputs and sees every link matched.
        self.relays = {
            topic: self.create_publisher(
                message_class(playlist.outputs[topic]), absolute(topic), qos.for_topic(topic)
            )
            for topic in playlist.forwarded
        }
        self.relay_queue: list[tuple[int, str, int, bytes]] = []  # (stamp, topic, arrival, raw)
        self._arrivals = 0
        self.subscriptions_by_topic = {}
        for topic, msgtype in playlist.outputs.items():
            outputs.add_topic(topic, msgtype, _qos_name(topic))
            stamped = bool(stamp_layout(TYPESTORE, msgtype))
            self.subscriptions_by_topic[topic] = self.create_subscription(
                message_class(msgtype),
                relay_topic(topic) if topic in self.relays else absolute(topic),
                lambda raw, t=topic, s=stamped: self._on_output(t, s, raw),
                qos.for_topic(topic),
                raw=True,
            )

    def _on_output(self, topic: str, stamped: bool, raw: bytes) -> None:
        self.outputs.write(topic, self.sim_now_ns, raw)
        self.last_output_wall = time.monotonic()
        stamp = cdr_stamp_ns(raw) if stamped else self.sim_now_ns
        if stamped:
            self.newest_stamp[topic] = max(stamp, self.newest_stamp.get(topic, stamp))
        if topic in self.relays:
            self._arrivals += 1
            heapq.heappush(self.relay_queue, (stamp, topic, self._arrivals, bytes(raw)))

    # -- waiting -------------------------------------------------------------------------------
    def _spin_until(
        self,
        executor: Executor,
        done: Callable[[], bool],
        timeout: float,
        abort: Callable[[], str | None],
    ) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            reason = abort()
            if reason:
                raise ReplayAbortError(reason)
            if time.monotonic() >= deadline:
                return False
            executor.spin_once(timeout_sec=0.002)
        return True

    def wait_for_nodes(
        self,
        executor: Executor,
        abort: Callable[[], str | None],
        grace: float = 2.0,
        activity: ProcessActivity | None = None,
    ) -> list[str]:
        """Hold until the nodes are up: every output has a matched publisher, every played topic the
        subscribers of all the nodes consuming it (so that no node loses a first message: the left image
        goes to stereo_processor and visual_odometry). A played topic still short of subscribers
        ``grace`` s after everything else matched is played anyway; those topics are returned."""

        def unmatched_inputs() -> list[str]:
            publishers = {**self.publishers_by_topic, **self.relays}
            return [
                t
                for t, p in publishers.items()
                if p.get_subscription_count() < max(self.playlist.consumers.get(t, 1), 1)
            ]

        def unmatched_outputs() -> list[str]:
            return [t for t, s in self.subscriptions_by_topic.items() if s.get_publisher_count() == 0]

        def describe() -> str:
            names = [f"publisher of {t}" for t in unmatched_outputs()]
            names += [f"subscriber of {t}" for t in unmatched_inputs()]
            return ", ".join(names)

        needed = set(self.playlist.answers) | set(self.relays)

        def core_ready() -> bool:
            return not unmatched_outputs() and not needed & set(unmatched_inputs())

        timeout = self.timing.startup_timeout
        if not self._spin_until(executor, core_ready, timeout, abort):
            raise ReplayAbortError(f"the nodes did not come up within {timeout:g} s: no {describe()}")
        # Every topic a node consumes comes from the player (relays included), so the matches above
        # cover every link. Still, let the node processes finish starting (imports, JIT compiles):
        # wait until they have been idle for a while, and at least LINK_GRACE.
        started = time.monotonic()
        self._settle(executor, STARTUP_QUIET, timeout, abort, activity)
        self._spin_until(executor, lambda: time.monotonic() - started >= LINK_GRACE, LINK_GRACE + 1, abort)
        self._spin_until(executor, lambda: not unmatched_inputs(), grace, abort)
        return unmatched_inputs()

    def foreign_publishers(self, nodes: set[str]) -> list[str]:
        """Warnings naming publishers of the replay's topics that are neither the player nor ``nodes``."""
        warnings = []
        for topic in [*self.publishers_by_topic, *self.subscriptions_by_topic, "/clock"]:
            for info in self.get_publishers_info_by_topic(absolute(topic)):
                # Names arrive after the endpoints in discovery: an unnamed one is not known foreign.
                known = info.node_name and info.node_name != "_NODE_NAME_UNKNOWN_"
                if known and info.node_name not in nodes and info.node_name != self.get_name():
                    warnings.append(
                        f"{info.node_namespace.rstrip('/')}/{info.node_name} also publishes {topic}"
                    )
        return warnings

    def _settle(
        self,
        executor: Executor,
        window: float,
        cap: float,
        abort: Callable[[], str | None],
        activity: ProcessActivity | None,
    ) -> bool:
        """Spin until the last ``window`` s held no output and (when measurable) idle node processes.

        Samples every ~2 ms; the window slides, so a barrier costs the nodes' work plus one window.
        """
        started = time.monotonic()
        self._settle_start = activity.per_process_ns() if activity is not None else {}
        samples: deque[tuple[float, int, bool]] = deque()  # (time, CPU [ns], a thread was runnable)
        while True:
            reason = abort()
            if reason:
                raise ReplayAbortError(reason)
            executor.spin_once(timeout_sec=0.001)
            now = time.monotonic()
            if activity is not None:
                cpu, runnable = activity.sample()
                samples.append((now, cpu, runnable))
                while len(samples) > 1 and samples[1][0] <= now - window:
                    samples.popleft()
            self.stats.settle_windows += 1
            quiet = now - max(self.last_output_wall, started) >= window
            if quiet and activity is not None:
                first_time, first_cpu, _ = samples[0]
                covered = first_time <= now - window
                busy = any(r for _, _, r in samples) or not idle(
                    first_cpu, cpu, now - first_time, BUSY_FRACTION
                )
                quiet = covered and not busy
                self.stats.busy_windows += busy
            if quiet:
                return True
            if now - started >= cap:
                return False

    # -- playing -------------------------------------------------------------------------------
    def play(
        self,
        executor: Executor,
        messages: Iterable[Message],
        abort: Callable[[], str | None] = lambda: None,
        progress: Callable[[PlayStats], None] | None = None,
        activity: ProcessActivity | None = None,
    ) -> PlayStats:
        """Play ``messages`` (in (stamp, topic) order) group by group; ReplayAbortError on abort."""
        stats = self.stats = PlayStats(published={t: 0 for t in self.playlist.played})
        started = time.monotonic()
        group: list[Message] = []
        try:
            for message in messages:
                if group and message.stamp_ns != group[0].stamp_ns:
                    self._play_group(executor, group, abort, activity)
                    if progress:
                        progress(stats)
                    group = []
                group.append(message)
            if group:
                self._play_group(executor, group, abort, activity)
            # Let whatever follows the last answers arrive before the outputs are closed.
            self._settle(executor, max(self.timing.settle, 0.2), self.timing.settle_timeout, abort, activity)
        finally:
            stats.wall_s = time.monotonic() - started
        return stats

    def _play_group(
        self,
        executor: Executor,
        group: list[Message],
        abort: Callable[[], str | None],
        activity: ProcessActivity | None,
    ) -> None:
        stats = self.stats
        stamp = group[0].stamp_ns
        stats.groups += 1
        stats.sim_start_ns = stamp if stats.sim_start_ns is None else stats.sim_start_ns
        stats.sim_end_ns = stamp
        if stamp > self.sim_now_ns:
            # Time advances first, and settles: a node's clock subscription is one more input whose
            # interleaving with the data callbacks must not depend on timing.
            self.sim_now_ns = stamp
            self.clock.publish(Clock(clock=ns_to_stamp(stamp)))
            self._barrier(executor, {}, stamp, abort, activity)
        # One message at a time: a node subscribed to several of a group's topics (a goal and the
        # joint states of the same stamp) sees them in (stamp, topic) order, whatever the timing.
        for message in group:
            self.publishers_by_topic[message.topic].publish(message.raw)
            stats.published[message.topic] += 1
            stats.messages += 1
            self.played_up_to[message.topic] = stamp
            self.expected += [(a, stamp) for a in self.playlist.answers.get(message.topic, ())]
            self._barrier(executor, self._due(), stamp, abort, activity)
            self._relay(executor, stamp, abort, activity)

    def _relay(self, executor, stamp, abort, activity) -> None:
        """Republish the relayed outputs that came in, one at a time in (stamp, topic, arrival) order,
        each followed by a barrier; what those produce joins the queue, until nothing is left.

        A relayed message counts as played up to its stamp: the answers it completes (visual odometry's
        to a frame, once the disparity is in) are awaited at its barrier."""
        while self.relay_queue:
            relayed_stamp, topic, _, raw = heapq.heappop(self.relay_queue)
            self.relays[topic].publish(raw)
            self.stats.relayed += 1
            self.played_up_to[topic] = max(relayed_stamp, self.played_up_to.get(topic, relayed_stamp))
            self.expected += [(a, relayed_stamp) for a in self.playlist.answers.get(topic, ())]
            self._barrier(executor, self._due(), stamp, abort, activity)

    def _due(self) -> dict[str, int]:
        """Expected answers that can come now: answer topic -> the stamp it must reach."""
        due: dict[str, int] = {}
        waiting = []
        for answer, stamp in self.expected:
            if all(self.played_up_to.get(t, -1) >= stamp for t in answer.after):
                due[answer.topic] = max(stamp, due.get(answer.topic, stamp))
            else:
                waiting.append((answer, stamp))
        self.expected = waiting
        return due

    def _barrier(
        self,
        executor: Executor,
        required: dict[str, int],
        stamp: int,
        abort: Callable[[], str | None],
        activity: ProcessActivity | None,
    ) -> None:
        """Hold until the ``required`` answers (topic -> stamp to reach) came and the nodes went quiet."""
        stats, settle, settle_timeout = self.stats, self.timing.settle, self.timing.settle_timeout
        if required:

            def answered() -> bool:
                return all(self.newest_stamp.get(t, -1) >= s for t, s in required.items())

            if not self._spin_until(executor, answered, self.timing.answer_timeout, abort):
                stats.answer_timeouts += 1
                late = sorted(
                    f"{t} at {s * 1e-9:.6f} s"
                    for t, s in required.items()
                    if self.newest_stamp.get(t, -1) < s
                )
                if len(stats.missed) < 20:
                    stats.missed.append(", ".join(late))
        if settle > 0 and not self._settle(executor, settle, settle_timeout, abort, activity):
            stats.settle_timeouts += 1
            busy = busiest(self._settle_start, activity.per_process_ns(), settle_timeout) if activity else []
            who = ", ".join(busy) or "the nodes"
            if len(stats.missed) < 20:
                stats.missed.append(f"{who} busy for {settle_timeout:g} s at {stamp * 1e-9:.6f} s")
            self._busy_in_a_row += 1
            if self._busy_in_a_row >= BUSY_BARRIERS_LIMIT:
                raise ReplayAbortError(
                    f"{who} never went idle (busy for {settle_timeout:g} s at {BUSY_BARRIERS_LIMIT} "
                    "messages in a row)"
                )
        else:
            self._busy_in_a_row = 0


def _qos_name(topic: str) -> str:
    from rover_autonomy.contract import TOPICS

    return TOPICS[topic].qos


class PlayerContext:
    """The player's own rclpy context and executor in the replay's DDS domain. No signal handlers: the
    session turns Ctrl-C into an abort. The player joins once the nodes under test have started."""

    def __init__(self, domain_id: int):
        self.context = rclpy.Context()
        rclpy.init(
            context=self.context, domain_id=domain_id, signal_handler_options=rclpy.SignalHandlerOptions.NO
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.player: Player | None = None

    def start_player(self, playlist: Playlist, outputs: BagWriter, timing: LockstepTiming) -> Player:
        self.player = Player(playlist, outputs, timing, context=self.context)
        self.executor.add_node(self.player)
        return self.player

    def close(self) -> None:
        if self.player is not None:
            self.executor.remove_node(self.player)
            self.player.destroy_node()
        self.executor.shutdown()
        rclpy.try_shutdown(context=self.context)
