"""What a replay plays, records and waits for, given the bag and the nodes under test.

Each node's inputs and outputs come from the executables table of ``docs/interfaces.md``
(:data:`NODE_IO`). A replay plays every input of the selected nodes that no selected node produces
(so ``--nodes terrain_mapper`` plays the recorded ``stereo/points`` and ``odom``), records every
output of the selected nodes, and after each group of messages sharing a stamp t waits for:

* the *answers*: an input that a node answers one-for-one (the right image completing a stereo pair is
  answered by ``stereo/points``; ``joint_states`` by ``odom``) holds the replay until the answer topic
  has carried a message stamped ≥ t, or until a timeout (counted in the report). A node that orders
  several inputs by stamp before answering (odometry releases a joint state once the IMU has reached
  its stamp; visual odometry pairs a left image with the disparity of its stamp) is awaited once every
  one of those inputs has been played — or relayed, when a selected node produces it — up to t;
* *quiescence*, for what is not answered one-for-one (the mapper publishes a costmap at most once per
  period; a planner replans when it decides to): the node processes have been idle and no output has
  arrived for a short wall-clock window (:mod:`.quiescence`).

Pure Python: no ROS import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rover_autonomy.contract import TOPICS
from rover_autonomy.replay.bag import Bag, BagError, normalise, ros_type


@dataclass(frozen=True)
class NodeIO:
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # input topic -> the output(s) answering it one-for-one
    answers: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    synchronised: tuple[str, ...] = ()  # inputs the node waits to see up to a stamp before answering it
    optional_inputs: tuple[str, ...] = ()  # played when recorded; the node idles without them
    # input topic -> boolean parameter of the node; false: the node does not subscribe to that input
    switches: dict[str, str] = field(default_factory=dict)

    def consumes(self, parameters: dict[str, object] | None = None) -> tuple[str, ...]:
        """The inputs, required and optional, that the node subscribes to with these parameters."""
        parameters = parameters or {}
        return tuple(
            t
            for t in (*self.inputs, *self.optional_inputs)
            if parameters.get(self.switches.get(t, ""), True) is not False
        )


STEREO = (
    "stereo/left/camera_info",
    "stereo/left/image_rect",
    "stereo/right/camera_info",
    "stereo/right/image_rect",
)

# The stack's nodes as the interface contract describes them (docs/interfaces.md, "Executables").
NODE_IO: dict[str, NodeIO] = {
    "stereo_processor": NodeIO(
        inputs=STEREO,
        outputs=("stereo/disparity", "stereo/points"),
        # (stamp, topic) order puts the right image last among a pair's four messages. Both outputs are
        # awaited: the disparity (300 kB at 320x240) can still be in flight when the points arrive, and
        # visual_odometry must get it before the next bag message.
        answers={"stereo/right/image_rect": ("stereo/points", "stereo/disparity")},
    ),
    "visual_odometry": NodeIO(
        inputs=("stereo/left/camera_info", "stereo/left/image_rect", "stereo/disparity"),
        outputs=("visual_odometry/odom",),
        # One odometry per frame (unmeasured steps included), once the frame's image and disparity are
        # both in: the disparity comes from the bag before the image, or relayed after the right image.
        answers={"stereo/left/image_rect": "visual_odometry/odom"},
        synchronised=("stereo/left/image_rect", "stereo/disparity"),
    ),
    "wheel_odometry": NodeIO(
        inputs=("joint_states", "imu/data"),
        # Relayed from visual_odometry, or the recorded increments; bags without stereo replay without.
        optional_inputs=("visual_odometry/odom",),
        switches={"visual_odometry/odom": "use_visual_odometry"},
        outputs=("odom", "odom/slip"),
        answers={"joint_states": "odom"},
        synchronised=("joint_states", "imu/data"),  # the core's InputSequencer watermark
    ),
    "terrain_mapper": NodeIO(
        inputs=("stereo/points", "odom"),
        outputs=("terrain/elevation", "terrain/costmap"),
    ),
    "path_planner": NodeIO(
        inputs=("terrain/costmap", "odom"),
        # The follower's state asks for replans (blocked) and ends goals (reached); without the
        # follower in a replay, the recorded state plays its part.
        optional_inputs=("goal_pose", "navigation/state", "navigation/keep_out"),
        outputs=("plan", "navigation/plan_status"),
    ),
    "path_follower": NodeIO(
        inputs=("plan", "terrain/costmap", "odom"),
        optional_inputs=("navigation/plan_status",),
        outputs=("cmd_vel", "navigation/state", "navigation/keep_out"),
    ),
}

# Recorded for the report, never played: the truth the replayed outputs are compared with.
REFERENCE_TOPICS = ("ground_truth/odom", "odom", "terrain/costmap", "plan")


@dataclass(frozen=True)
class Answer:
    topic: str  # the output that answers
    after: tuple[str, ...]  # played topics that must have reached the trigger's stamp first


@dataclass
class Playlist:
    nodes: tuple[str, ...]
    played: dict[str, str]  # topic -> ros type (package/msg/Type)
    outputs: dict[str, str]  # topic -> ros type, recorded from the nodes
    answers: dict[str, tuple[Answer, ...]]  # played topic -> outputs that must answer it
    warnings: list[str]
    reference: tuple[str, ...]  # recorded topics used by the report
    links: tuple[tuple[str, str, str], ...] = ()  # (topic, producing node, consuming node) among the nodes
    consumers: dict[str, int] = field(default_factory=dict)  # played or relayed topic -> subscribing nodes

    @property
    def forwarded(self) -> dict[str, str]:
        """Outputs other selected nodes consume -> the node producing them. The player relays these:
        the producer publishes on :func:`relay_topic`, the player republishes on the contract name."""
        return {topic: producer for topic, producer, _ in self.links}


def relay_topic(topic: str) -> str:
    """Where a producing node publishes a relayed output during a replay (the player listens there)."""
    return f"/replay/relay/{topic}"


def expected_type(topic: str) -> str:
    return ros_type(TOPICS[topic].type)


def plan_playlist(
    bag: Bag,
    nodes: list[str],
    node_io: dict[str, NodeIO] | None = None,
    parameters: dict[str, dict[str, object]] | None = None,
) -> Playlist:
    """Check the bag against the nodes' needs; BagError names every missing or mistyped topic.

    ``parameters``: node -> the parameters it runs with, for the inputs a parameter switches off
    (``wheel_odometry.use_visual_odometry``): nobody would subscribe to them."""
    node_io = NODE_IO if node_io is None else node_io
    parameters = parameters or {}
    unknown = [n for n in nodes if n not in node_io]
    if unknown:
        raise ValueError(
            f"no replay description for node(s) {', '.join(unknown)} (known: {', '.join(node_io)})"
        )
    if not nodes:
        raise ValueError("no nodes to replay")
    produced = {topic for n in nodes for topic in node_io[n].outputs}
    needed: dict[str, list[str]] = {}
    optional: set[str] = set()
    consumed = {n: node_io[n].consumes(parameters.get(n)) for n in nodes}
    for n in nodes:
        for topic in node_io[n].inputs:
            if topic not in produced and topic in consumed[n]:
                needed.setdefault(topic, []).append(n)
        for topic in node_io[n].optional_inputs:
            if topic not in produced and topic in consumed[n]:
                optional.add(topic)
                needed.setdefault(topic, []).append(n)

    missing = sorted(t for t in needed if t not in bag.topics and t not in optional)
    if missing:
        hint = "; rename field topics with --remap FROM:=TO" if bag.topics else ""
        raise BagError(
            f"bag {bag.path} lacks topic(s) required by {', '.join(nodes)}: {', '.join(missing)}"
            f" (it has: {', '.join(sorted(bag.topics)) or 'none'}){hint}"
        )
    warnings = [
        f"no {t} in the bag: {', '.join(needed[t])} will run without it"
        for t in sorted(optional)
        if t not in bag.topics
    ]

    played: dict[str, str] = {}
    for topic in sorted(needed):
        summary = bag.topics.get(topic)
        if summary is None:
            continue
        want = _type_for(topic)
        if summary.msgtype != want:
            raise BagError(
                f"bag {bag.path}: topic {summary.bag_name} has type {summary.msgtype}, "
                f"{', '.join(needed[topic])} expect {want}"
            )
        if not summary.known:
            raise BagError(f"bag {bag.path}: no message definition for {summary.msgtype} ({topic})")
        if summary.backwards:
            previous, offending = summary.first_backwards
            raise BagError(
                f"bag {bag.path}: stamps of {summary.bag_name} go backwards {summary.backwards} time(s), "
                f"first {previous * 1e-9:.6f} s -> {offending * 1e-9:.6f} s"
            )
        if summary.repeated:
            warnings.append(f"{topic}: {summary.repeated} message(s) repeat their predecessor's stamp")
        played[topic] = want

    warnings += bag.definition_warnings
    unknown_types = sorted(f"{t.bag_name} ({t.msgtype})" for t in bag.topics.values() if not t.known)
    if unknown_types:
        warnings.append(f"ignored topics of unknown type: {', '.join(unknown_types)}")

    # Inputs reach a node played from the bag or relayed from a selected producer (the player counts
    # both as played up to their stamp); an answer waits for every synchronised input that comes.
    arriving = set(played) | produced
    answers: dict[str, tuple[Answer, ...]] = {}
    for n in nodes:
        after = tuple(t for t in node_io[n].synchronised if t in arriving)
        for trigger, answer in node_io[n].answers.items():
            if trigger in arriving:
                topics = (answer,) if isinstance(answer, str) else answer
                answers[trigger] = (*answers.get(trigger, ()), *(Answer(t, after) for t in topics))
    outputs = {topic: _type_for(topic) for n in nodes for topic in node_io[n].outputs}
    reference = tuple(t for t in REFERENCE_TOPICS if t in bag.topics)
    links = tuple(
        (topic, producer, consumer)
        for producer in nodes
        for consumer in nodes
        if producer != consumer
        for topic in node_io[producer].outputs
        if topic in consumed[consumer]
    )
    consumers = {
        topic: sum(topic in consumed[n] for n in nodes) for topic in {*played, *(link[0] for link in links)}
    }
    return Playlist(tuple(nodes), played, outputs, answers, warnings, reference, links, consumers)


def _type_for(topic: str) -> str:
    if topic not in TOPICS:
        raise ValueError(f"topic {topic} is not in the interface contract")
    return expected_type(normalise(topic))
