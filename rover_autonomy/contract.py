"""The interface contract of docs/interfaces.md as data: topics, their types and QoS profiles, and the
states of ``navigation/state`` and ``navigation/plan_status`` with their text form.

Pure Python (no ROS import) so that cores, tests and tools can read it; ``ros_common.qos`` turns the
profiles into rclpy QoS objects. ``test/unit/test_contract.py`` checks this module against the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class QosSpec:
    reliability: str  # "reliable" | "best_effort"
    durability: str  # "volatile" | "transient_local"
    depth: int


QOS_PROFILES: dict[str, QosSpec] = {
    "images": QosSpec("reliable", "volatile", 5),
    "sensors": QosSpec("reliable", "volatile", 100),
    "clock": QosSpec("reliable", "volatile", 1),
    "commands": QosSpec("reliable", "volatile", 10),
    "latched": QosSpec("reliable", "transient_local", 1),
    "maps": QosSpec("reliable", "transient_local", 1),
    "diagnostics": QosSpec("reliable", "volatile", 10),
}


@dataclass(frozen=True)
class Topic:
    name: str
    type: str  # "package/Message"
    qos: str  # key of QOS_PROFILES


def _topics(*rows: tuple[str, str, str]) -> dict[str, Topic]:
    return {name: Topic(name, type_, qos) for name, type_, qos in rows}


SENSOR_TOPICS = _topics(
    ("stereo/left/image_rect", "sensor_msgs/Image", "images"),
    ("stereo/right/image_rect", "sensor_msgs/Image", "images"),
    ("stereo/left/camera_info", "sensor_msgs/CameraInfo", "images"),
    ("stereo/right/camera_info", "sensor_msgs/CameraInfo", "images"),
    ("imu/data", "sensor_msgs/Imu", "sensors"),
    ("joint_states", "sensor_msgs/JointState", "sensors"),
    ("/clock", "rosgraph_msgs/Clock", "clock"),
    ("ground_truth/odom", "nav_msgs/Odometry", "sensors"),
    ("sim/contacts", "visualization_msgs/MarkerArray", "sensors"),
    ("sim/slip", "std_msgs/Float64MultiArray", "sensors"),
)
COMMAND_TOPICS = _topics(
    ("cmd_vel", "geometry_msgs/TwistStamped", "commands"),
    ("drive_controller/commands", "std_msgs/Float64MultiArray", "commands"),
    ("steer_controller/commands", "std_msgs/Float64MultiArray", "commands"),
    ("emergency_stop", "std_msgs/Bool", "latched"),
)
STACK_TOPICS = _topics(
    ("stereo/disparity", "stereo_msgs/DisparityImage", "images"),
    ("stereo/points", "sensor_msgs/PointCloud2", "images"),
    ("odom", "nav_msgs/Odometry", "sensors"),
    ("odom/slip", "std_msgs/Float32", "sensors"),
    ("visual_odometry/odom", "nav_msgs/Odometry", "sensors"),
    ("terrain/elevation", "sensor_msgs/PointCloud2", "maps"),
    ("terrain/costmap", "nav_msgs/OccupancyGrid", "maps"),
    ("goal_pose", "geometry_msgs/PoseStamped", "commands"),
    ("plan", "nav_msgs/Path", "maps"),
    ("navigation/state", "std_msgs/String", "latched"),
    ("navigation/plan_status", "std_msgs/String", "latched"),
    ("navigation/keep_out", "geometry_msgs/PointStamped", "commands"),
    ("diagnostics", "diagnostic_msgs/DiagnosticArray", "diagnostics"),
    ("robot_description", "std_msgs/String", "latched"),
)
TOPICS: dict[str, Topic] = {**SENSOR_TOPICS, **COMMAND_TOPICS, **STACK_TOPICS}
SERVICES: dict[str, str] = {"navigation/cancel": "std_srvs/Trigger"}

FRAMES = (
    "map",
    "odom",
    "visual_odom",
    "base_link",
    "stereo_left_optical_frame",
    "stereo_right_optical_frame",
    "imu_link",
)

PLAN_STATUS_TOPIC = STACK_TOPICS["navigation/plan_status"].name


# -- navigation/state and navigation/plan_status: "<state>" or "<state>: <reason>" -------------------


class NavigationState(str, Enum):
    """The states of ``navigation/state`` (published by ``path_follower``)."""

    IDLE = "idle"
    PLANNING = "planning"
    DRIVING = "driving"  # point turns included
    RECOVERING = "recovering"
    BLOCKED = "blocked"
    REACHED = "reached"
    FAILED = "failed"


class PlanStatus(str, Enum):
    """The states of ``navigation/plan_status`` (``path_planner`` to ``path_follower``)."""

    IDLE = "idle"
    PLANNING = "planning"
    PLANNED = "planned"
    FAILED = "failed"


CANCELLED = "cancelled"  # reason of ``idle`` on both topics after ``navigation/cancel``


def format_state(state: NavigationState | PlanStatus, reason: str = "") -> str:
    """The wire text: ``<state>``, or ``<state>: <reason>`` when there is a reason."""
    return f"{state.value}: {reason}" if reason else state.value


def parse_state(text: str) -> tuple[NavigationState, str] | None:
    """(state, reason) of a ``navigation/state`` text, reason stripped ("" if none); None when the text
    does not start with a navigation state (an empty text, a newer peer's state)."""
    return _parse(NavigationState, text)


def parse_plan_status(text: str) -> tuple[PlanStatus, str] | None:
    """(status, reason) of a ``navigation/plan_status`` text, as :func:`parse_state`."""
    return _parse(PlanStatus, text)


def _parse(states: type[Enum], text: str):
    head, _, reason = text.partition(":")  # a reason may hold colons of its own
    try:
        return states(head.strip()), reason.strip()
    except ValueError:
        return None
