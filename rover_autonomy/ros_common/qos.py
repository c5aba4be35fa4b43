"""rclpy QoS profiles of the contract (docs/interfaces.md, rover_autonomy.contract)."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions

from rover_autonomy.contract import QOS_PROFILES, TOPICS

_RELIABILITY = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}
_DURABILITY = {"volatile": DurabilityPolicy.VOLATILE, "transient_local": DurabilityPolicy.TRANSIENT_LOCAL}


def profile(name: str) -> QoSProfile:
    """The named QoS profile (images, sensors, clock, commands, latched, maps, diagnostics)."""
    spec = QOS_PROFILES[name]
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=spec.depth,
        reliability=_RELIABILITY[spec.reliability],
        durability=_DURABILITY[spec.durability],
    )


def for_topic(topic: str) -> QoSProfile:
    """The contract's QoS for a topic name (relative, as in the contract)."""
    return profile(TOPICS[topic].qos)


def overridable() -> QoSOverridingOptions:
    """Lets users override reliability/durability/depth of a sensor subscription by parameters."""
    return QoSOverridingOptions.with_default_policies()
