"""A replay session: the playlist's nodes started as child processes (the graph's replay profile), the
bag played through them in lockstep by the :class:`~rover_autonomy.replay.player_node.Player`, their
outputs recorded into a bag whose metadata says whether the whole bag was played.

The nodes and the player meet in a DDS domain of their own (:mod:`.domain_node`). Ctrl-C, SIGTERM, a
node that dies and nodes that never come up end the play early; they are the result's failure reason,
never an exception.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rover_autonomy.bringup import graph
from rover_autonomy.bringup.launcher import Launcher, LaunchError
from rover_autonomy.replay.bag import Bag, BagError, BagWriter
from rover_autonomy.replay.domain_node import quiet_domain
from rover_autonomy.replay.player_node import LockstepTiming, PlayerContext, PlayStats, ReplayAbortError
from rover_autonomy.replay.playlist import Playlist, relay_topic
from rover_autonomy.replay.quiescence import ProcessActivity
from rover_autonomy.resources import config_dir


@dataclass
class ReplayResult:
    stats: PlayStats
    complete: bool
    failure_reason: str | None
    outputs: Path
    output_counts: dict[str, int]
    warnings: list[str]


def launch_plan(playlist: Playlist, overrides: dict[str, dict[str, object]] | None) -> list[dict]:
    """The replay profile's launch steps of the playlist's nodes; a node producing a relayed topic
    publishes it on the relay name, for the player to republish. LaunchError names a node the profile
    lacks."""
    plan = [
        step
        for step in graph.launch_plan("replay", str(config_dir()), overrides)
        if step["name"] in playlist.nodes
    ]
    for step in plan:
        step["remappings"] = [
            *step["remappings"],
            *(
                (topic, relay_topic(topic))
                for topic, producer in playlist.forwarded.items()
                if producer == step["name"]
            ),
        ]
    missing = sorted(set(playlist.nodes) - {step["name"] for step in plan})
    if missing:
        raise LaunchError(f"node(s) not in the replay profile of the graph: {', '.join(missing)}")
    return plan


def replay(
    bag: Bag,
    playlist: Playlist,
    outputs_path: Path,
    node_log: Path,
    overrides: dict[str, dict[str, object]] | None = None,
    timing: LockstepTiming | None = None,
    env: dict[str, str] | None = None,
    progress: Callable[[PlayStats], None] | None = None,
    domain_id: int | None = None,
) -> ReplayResult:
    """Start the playlist's nodes, play the bag, record the outputs.

    The player waits as ``timing`` says (:class:`~rover_autonomy.replay.player_node.LockstepTiming`'s
    defaults without it). The DDS domain is ``domain_id``, or a free one found by
    :func:`~rover_autonomy.replay.domain_node.quiet_domain`. Never raises for a failed replay: the outputs
    recorded so far are kept and marked incomplete in their metadata.
    """
    plan = launch_plan(playlist, overrides)
    if domain_id is None:
        domain_id = quiet_domain()
    log_file = node_log.open("w", encoding="utf-8")
    env = {**(env or {}), "ROS_DOMAIN_ID": str(domain_id)}
    launcher = Launcher(plan, log=lambda line: log_file.write(line + "\n"), env=env)
    writer = BagWriter(outputs_path, overwrite=True)
    interrupted = threading.Event()
    previous = {s: signal.signal(s, lambda *_: interrupted.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    ros = PlayerContext(domain_id)
    stats = PlayStats()
    reason = None
    warnings: list[str] = []

    def abort() -> str | None:
        if interrupted.is_set():
            return "interrupted"
        died = launcher.poll()
        if died is not None:
            name, code = died
            return f"{name} exited with code {code}"
        return None

    try:
        launcher.start()
        if launcher.skipped:
            raise ReplayAbortError(f"cannot start {', '.join(launcher.skipped)} here")
        activity = ProcessActivity(
            [child.process.pid for child in launcher.children], [child.name for child in launcher.children]
        )
        measured = activity if activity.supported else None
        player = ros.start_player(playlist, writer, timing or LockstepTiming())
        unread = player.wait_for_nodes(ros.executor, abort, activity=measured)
        if unread:
            warnings.append(f"not every node consuming {', '.join(unread)} subscribed: played anyway")
        warnings += player.foreign_publishers(set(playlist.nodes))
        stats = player.play(
            ros.executor,
            bag.messages(set(playlist.played)),
            abort=abort,
            progress=progress,
            activity=measured,
        )
    except ReplayAbortError as err:
        reason = str(err)
        if ros.player is not None and ros.player.stats is not None:
            stats = ros.player.stats
        if stats.sim_end_ns is not None:
            into = (stats.sim_end_ns - bag.start_stamp_ns) * 1e-9
            reason += f" {into:.3f} s into the bag (stamp {stats.sim_end_ns * 1e-9:.3f} s)"
    except BagError as err:  # the bag went bad while playing (truncated after the scan)
        reason = str(err)
    finally:
        writer.set_custom_data("rover_autonomy.replay.complete", "false" if reason else "true")
        writer.set_custom_data("rover_autonomy.replay.source", str(bag.path))
        if reason:
            writer.set_custom_data("rover_autonomy.replay.failure_reason", reason)
        writer.close()
        ros.close()
        launcher.stop()
        log_file.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return ReplayResult(stats, reason is None, reason, outputs_path, dict(writer.counts), warnings)
