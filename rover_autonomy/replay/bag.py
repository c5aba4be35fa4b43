"""rosbag2 bags with ``rosbags``: MCAP writing, sqlite3/MCAP reading, data stamps, (stamp, topic) order.

Writing: :class:`BagWriter` stores CDR bytes exactly as received (what ``rclpy.serialization``
produces and ``ros2 bag`` stores) in a rosbag2 version 9 directory with MCAP storage (profile
``ros2``, one ``ros2msg`` schema per type, the offered QoS per topic) so that ``ros2 bag info`` and
``ros2 bag play`` read it on a ROS machine.

Reading: :func:`open_bag` scans a bag once (``rosbags.rosbag2.Reader``: sqlite3 or MCAP, directory
or bare ``.mcap``; message definitions from the bag where it has usable ones, from the Kilted type
store otherwise, so that one odd custom type does not make a field bag unreadable) and summarises every topic: type, count, stamps and stamp order. The
stamp of a message is its header stamp — the time of the data — read straight from the CDR bytes; a
message without a header (``std_msgs/Float32``) is stamped with its receive (log) time.
:meth:`Bag.messages` then yields messages in (stamp, topic) order while streaming: the scan measured
how far stamps lag behind the log order, and a heap holds back exactly that window.
"""

from __future__ import annotations

import heapq
import json
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.interfaces import (
    MessageDefinitionFormat,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

from rover_autonomy.contract import QOS_PROFILES, QosSpec

# Message definitions for writing and for reading bags that carry none (older sqlite3 bags).
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
HEADER = "std_msgs/msg/Header"
TIME = "builtin_interfaces/msg/Time"


class BagError(Exception):
    """A bag cannot be used: unreadable, truncated, empty, missing topics, bad stamps. One line."""


def normalise(topic: str) -> str:
    """Topic name as the contract writes it: relative, no leading or trailing slash (``/clock`` stays)."""
    name = topic.strip().strip("/")
    return "/clock" if name == "clock" else name


def absolute(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def ros_type(type_name: str) -> str:
    """``sensor_msgs/Image`` (contract) or ``sensor_msgs/msg/Image`` -> ``sensor_msgs/msg/Image``."""
    parts = type_name.split("/")
    return type_name if len(parts) == 3 else f"{parts[0]}/msg/{parts[-1]}"


def rosbags_qos(spec: QosSpec) -> Qos:
    """A contract QoS profile as rosbag2 metadata (what ``ros2 bag play`` offers when it republishes)."""
    zero = QosTime(0, 0)
    return Qos(
        QosHistory.KEEP_LAST,
        spec.depth,
        QosReliability.RELIABLE if spec.reliability == "reliable" else QosReliability.BEST_EFFORT,
        QosDurability.TRANSIENT_LOCAL if spec.durability == "transient_local" else QosDurability.VOLATILE,
        zero,
        zero,
        QosLiveliness.AUTOMATIC,
        zero,
        False,
    )


def stamp_layout(typestore, msgtype: str) -> bool | None:
    """Whether ``msgtype`` begins with a stamp (a Header or a Time); None when the type is unknown."""
    definition = typestore.fielddefs.get(msgtype)
    if definition is None:
        return None
    _, fields = definition  # (constants, fields); a field is (name, (node type, type reference))
    if not fields:
        return False
    _, (_, ref) = fields[0]
    return isinstance(ref, str) and ref in (HEADER, TIME)


def cdr_stamp_ns(raw: bytes | memoryview) -> int:
    """The leading ``builtin_interfaces/Time`` of a CDR message (after the 4-byte encapsulation header).

    Both ``std_msgs/Header`` and a bare ``Time`` start at offset 4, where alignment is already 8.
    """
    if len(raw) < 12:
        raise ValueError(f"message of {len(raw)} bytes is too short to hold a stamp")
    little = raw[1] & 1  # encapsulation kind: 0x0001 CDR_LE, 0x0000 CDR_BE (and PL_CDR variants)
    sec, nanosec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec * 1_000_000_000 + nanosec


def decode(typestore, raw: bytes, msgtype: str):
    """Deserialise CDR with rosbags, accepting Fast CDR's trailing alignment padding.

    Fast CDR (rclpy, ros2 bag) pads an empty sequence of 8-byte elements that ends a message up to
    8-byte alignment (4 bytes here); rosbags refuses more than 3 trailing bytes. The padding is never
    read, so dropping it decodes the same message.
    """
    try:
        return typestore.deserialize_cdr(raw, msgtype)
    except SerdeError as err:
        if "size mismatch" not in str(err) or len(raw) < 8:
            raise
        return typestore.deserialize_cdr(raw[:-4], msgtype)


# -- writing ---------------------------------------------------------------------------------------


class BagWriter:
    """A rosbag2 (version 9) MCAP bag being written; topics are added on first use."""

    def __init__(self, path: str | Path, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise BagError(f"{self.path} already exists")
            if not (self.path / "metadata.yaml").is_file() and any(self.path.iterdir()):
                raise BagError(f"{self.path} exists and is not a bag: refusing to replace it")
            shutil.rmtree(self.path)
        if not self.path.parent.is_dir():
            raise BagError(f"cannot write bag {self.path}: {self.path.parent} is not a directory")
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        try:
            self._writer.open()
        except (WriterError, OSError) as err:
            raise BagError(f"cannot write bag {self.path}: {err}") from err
        self._connections: dict[str, object] = {}
        self.counts: dict[str, int] = {}
        self.closed = False

    def add_topic(self, topic: str, msgtype: str, qos: str | QosSpec = "sensors") -> None:
        """Declare ``topic`` (absolute name in the bag) with its type and offered QoS (a contract profile)."""
        name = absolute(topic)
        if name in self._connections:
            return
        msgtype = ros_type(msgtype)
        if msgtype not in TYPESTORE.fielddefs:
            raise BagError(f"cannot record {name}: no message definition for {msgtype}")
        spec = QOS_PROFILES[qos] if isinstance(qos, str) else qos
        self._connections[name] = self._writer.add_connection(
            name, msgtype, typestore=TYPESTORE, offered_qos_profiles=[rosbags_qos(spec)]
        )
        self.counts[name] = 0

    def write(self, topic: str, log_time_ns: int, raw: bytes | memoryview) -> None:
        name = absolute(topic)
        self._writer.write(self._connections[name], int(log_time_ns), bytes(raw))
        self.counts[name] += 1

    def set_custom_data(self, key: str, value: str) -> None:
        """A ``custom_data`` entry of metadata.yaml (``ros2 bag info`` ignores it, our tools read it)."""
        self._writer.set_custom_data(key, value)

    def close(self) -> None:
        if not self.closed:
            self._writer.close()
            self.closed = True

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


PARAMETERS_KEY = "rover_autonomy.parameters"


def store_parameters(writer: BagWriter, overrides: dict[str, dict[str, object]]) -> None:
    """Keep the run's per-node parameter overrides (``map_to_odom``…) in the bag, for its replays."""
    writer.set_custom_data(PARAMETERS_KEY, json.dumps(overrides, sort_keys=True))


# -- reading ---------------------------------------------------------------------------------------


@dataclass
class TopicSummary:
    name: str  # after remapping, normalised
    bag_name: str  # as stored in the bag
    msgtype: str  # ``package/msg/Type``
    stamped: bool | None  # header/Time first; None: no definition for the type
    count: int = 0
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None
    backwards: int = 0  # stamps smaller than their predecessor's, in recording order
    first_backwards: tuple[int, int] | None = None  # (previous, offending) stamp [ns]
    repeated: int = 0  # stamps equal to their predecessor's

    @property
    def known(self) -> bool:
        return self.stamped is not None


@dataclass(order=True)
class Message:
    stamp_ns: int
    topic: str
    sequence: int
    log_time_ns: int = field(compare=False)
    msgtype: str = field(compare=False)
    raw: bytes = field(compare=False, repr=False)


def parse_remaps(items: list[str]) -> dict[str, str]:
    """``from:=to`` items -> {from: to} on normalised names; ValueError naming a malformed item."""
    remaps: dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition(":=")
        if not sep or not normalise(source) or not normalise(target):
            raise ValueError(f"remap {item!r}: expected FROM:=TO")
        remaps[normalise(source)] = normalise(target)
    return remaps


class _Source:
    """An open rosbag2 reader with the type store its connections need.

    Starts from the Kilted type store and adds the definitions the bag carries, connection by
    connection; a definition that does not parse or conflicts with a known type is skipped with a
    warning (the type is then unknown unless Kilted knows it), instead of failing the whole bag.
    """

    def __init__(self, path: Path):
        self.reader = Reader(path)
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        self.warnings: list[str] = []

    def __enter__(self) -> _Source:
        self.reader.open()
        for connection in self.reader.connections:
            definition = connection.msgdef
            if definition.format == MessageDefinitionFormat.NONE or not definition.data.strip():
                continue
            try:
                if definition.format == MessageDefinitionFormat.MSG:
                    types = get_types_from_msg(definition.data, connection.msgtype)
                else:
                    types = get_types_from_idl(definition.data)
                self.typestore.register(types)
            except Exception as err:  # rosbags' parser and type-system errors have no common base
                self.warnings.append(f"definition of {connection.msgtype} in the bag not used: {err}")
        return self

    def __exit__(self, *exc) -> None:
        self.reader.close()

    @property
    def connections(self):
        return self.reader.connections

    def messages(self, connections=()):
        return self.reader.messages(connections=connections)


class Bag:
    """A scanned bag: per-topic summaries, then messages in (stamp, topic) order on demand."""

    def __init__(self, path: str | Path, remaps: dict[str, str] | None = None):
        self.path = Path(path)
        self.remaps = dict(remaps or {})
        if not self.path.exists():
            raise BagError(f"cannot read bag {self.path}: no such file or directory")
        self.topics: dict[str, TopicSummary] = {}
        self.message_count = 0
        self.storage = "?"
        self.custom_data: dict[str, str] = {}
        self.definition_warnings: list[str] = []
        self._window_ns = 0  # how far a stamp may lag behind the newest log time before it
        self._scan()

    def _reader(self) -> _Source:
        return _Source(self.path)

    def _fail(self, err: Exception, read: int) -> BagError:
        where = f" after {read} messages" if read else ""
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return BagError(f"cannot read bag {self.path}{where} (unreadable, truncated or corrupt): {text}")

    def _scan(self) -> None:
        read = 0
        try:
            with self._reader() as reader:
                self._typestore = reader.typestore
                self.definition_warnings = reader.warnings
                self.storage, self.custom_data = _metadata(self.path)
                by_connection = self._summaries(reader)
                newest_log = None
                for connection, log_time, raw in reader.messages():
                    summary = by_connection[connection.id]
                    stamp = self._stamp(summary, log_time, raw)
                    newest_log = log_time if newest_log is None else max(newest_log, log_time)
                    self._window_ns = max(self._window_ns, newest_log - stamp)
                    _account(summary, stamp)
                    read += 1
        except BagError:
            raise
        except (ReaderError, OSError, ValueError, KeyError, struct.error, EOFError) as err:
            raise self._fail(err, read) from err
        except Exception as err:  # the MCAP and sqlite layers raise their own error types
            raise self._fail(err, read) from err
        self.message_count = read
        if read == 0:
            raise BagError(f"bag {self.path} holds no messages")

    def _summaries(self, reader: _Source) -> dict[int, TopicSummary]:
        by_connection: dict[int, TopicSummary] = {}
        sources: dict[str, str] = {}
        for connection in reader.connections:
            bag_name = normalise(connection.topic)
            name = self.remaps.get(bag_name, bag_name)
            if name in sources and sources[name] != bag_name:
                raise BagError(
                    f"bag {self.path}: topics {sources[name]} and {bag_name} both map to {name} after remapping"
                )
            sources[name] = bag_name
            summary = self.topics.get(name)
            if summary is None:
                summary = TopicSummary(
                    name, bag_name, connection.msgtype, stamp_layout(reader.typestore, connection.msgtype)
                )
                self.topics[name] = summary
            elif summary.msgtype != connection.msgtype:
                raise BagError(
                    f"bag {self.path}: topic {bag_name} is recorded with two types, "
                    f"{summary.msgtype} and {connection.msgtype}"
                )
            by_connection[connection.id] = summary
        return by_connection

    @staticmethod
    def _stamp(summary: TopicSummary, log_time: int, raw: bytes) -> int:
        return cdr_stamp_ns(raw) if summary.stamped else log_time

    @property
    def start_stamp_ns(self) -> int:
        return min(t.first_stamp_ns for t in self.topics.values() if t.first_stamp_ns is not None)

    @property
    def end_stamp_ns(self) -> int:
        return max(t.last_stamp_ns for t in self.topics.values() if t.last_stamp_ns is not None)

    def messages(self, topics: set[str] | None = None) -> Iterator[Message]:
        """Messages of ``topics`` (remapped names; all when None) in (stamp, topic, recording) order."""
        pending: list[Message] = []
        read = 0
        try:
            with self._reader() as reader:
                by_connection = {}
                for connection in reader.connections:
                    bag_name = normalise(connection.topic)
                    name = self.remaps.get(bag_name, bag_name)
                    if topics is None or name in topics:
                        by_connection[connection.id] = self.topics[name]
                wanted = [c for c in reader.connections if c.id in by_connection]
                if not wanted:
                    return  # (an empty selection would mean "every connection" to rosbags)
                newest_log = None
                for connection, log_time, raw in reader.messages(connections=wanted):
                    summary = by_connection[connection.id]
                    newest_log = log_time if newest_log is None else max(newest_log, log_time)
                    stamp = self._stamp(summary, log_time, raw)
                    heapq.heappush(
                        pending, Message(stamp, summary.name, read, log_time, summary.msgtype, bytes(raw))
                    )
                    read += 1
                    # Nothing still to come can be stamped earlier than newest_log - window.
                    while pending and pending[0].stamp_ns < newest_log - self._window_ns:
                        yield heapq.heappop(pending)
        except (ReaderError, OSError, ValueError, struct.error, EOFError) as err:
            raise self._fail(err, read) from err
        while pending:
            yield heapq.heappop(pending)

    @property
    def parameters(self) -> dict[str, dict[str, object]]:
        """Per-node parameter overrides the recorded run used (:func:`store_parameters`), or {}."""
        text = self.custom_data.get(PARAMETERS_KEY)
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise BagError(f"bag {self.path}: unreadable {PARAMETERS_KEY} in metadata.yaml: {err}") from err
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise BagError(f"bag {self.path}: {PARAMETERS_KEY} must map node names to parameter tables")
        return value

    def deserialize(self, message: Message):
        """A message as a rosbags dataclass (for reports; the player publishes raw bytes)."""
        return decode(self._typestore, message.raw, message.msgtype)


def _account(summary: TopicSummary, stamp: int) -> None:
    previous = summary.last_stamp_ns
    if previous is not None:
        if stamp < previous:
            summary.backwards += 1
            if summary.first_backwards is None:
                summary.first_backwards = (previous, stamp)
        elif stamp == previous:
            summary.repeated += 1
    summary.count += 1
    summary.first_stamp_ns = stamp if summary.first_stamp_ns is None else min(summary.first_stamp_ns, stamp)
    summary.last_stamp_ns = stamp


def _metadata(path: Path) -> tuple[str, dict[str, str]]:
    """(storage identifier, custom_data) from a rosbag2 directory's metadata.yaml."""
    import yaml

    if path.is_file():
        return path.suffix.lstrip(".") or "?", {}
    try:
        info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "?", {}
    custom = info.get("custom_data") or {}
    return str(info.get("storage_identifier", "?")), {str(k): str(v) for k, v in custom.items()}


def open_bag(path: str | Path, remaps: dict[str, str] | None = None) -> Bag:
    """Scan a bag (rosbag2 directory, sqlite3 or MCAP, or a bare ``.mcap`` file); BagError on bad input."""
    return Bag(path, remaps)
