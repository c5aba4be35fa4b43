"""Node conventions shared by every rover_autonomy node.

:class:`RoverNode` declares the node's parameters from its :class:`ParamSpec` table (with descriptors,
so ``ros2 param describe`` shows ranges and descriptions), validates every later set against the same
table, publishes a ``diagnostics`` status once a second, and throttles repeated warnings. Nodes never
spin themselves: :func:`run_node` (or a test, or a composed executor) does.
"""

from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import rclpy
import rclpy.exceptions
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter

from rover_autonomy.parameters import ParamSpec, check_specs, describe
from rover_autonomy.ros_common import qos
from rover_autonomy.rover_model import RoverModel, load_rover_model

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=describe(spec), read_only=spec.read_only)
    if spec.range is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [
            FloatingPointRange(
                from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=float(spec.step)
            )
        ]
    elif spec.range is not None and isinstance(spec.default, int) and not isinstance(spec.default, bool):
        descriptor.integer_range = [
            IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=int(spec.step or 1))
        ]
    if spec.choices is not None:
        descriptor.additional_constraints = "one of: " + ", ".join(spec.choices)
    return descriptor


# Declared by every node: which rover model to read (all nodes of a graph must agree).
ROVER_MODEL = ParamSpec(
    "rover_model",
    "",
    "Path of the rover model file; empty for the package's config/rover.yaml",
    read_only=True,
)


class RoverNode(Node):
    """Base class: parameters from a spec table, diagnostics, throttled warnings, the rover model."""

    def __init__(self, node_name: str, specs: Sequence[ParamSpec], **kwargs):
        super().__init__(node_name, **kwargs)
        specs = (*specs, ROVER_MODEL)
        check_specs(specs)
        self._specs = {spec.name: spec for spec in specs}
        self.params = SimpleNamespace()
        for spec in specs:
            value = self.declare_parameter(spec.name, spec.default, _descriptor(spec)).value
            problem = spec.validate(value)
            if problem:
                raise ValueError(f"parameter {problem}")
            setattr(self.params, spec.name, value)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._status = (OK, "running", {})
        self._warned_at: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._diagnostics = self.create_publisher(DiagnosticArray, "diagnostics", qos.profile("diagnostics"))
        # Diagnostics run on the steady clock: they must flow even while sim time is paused.
        self._diagnostics_timer = self.create_timer(
            1.0, self.publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

    @property
    def rover(self) -> RoverModel:
        """The rover model named by the ``rover_model`` parameter (loaded once, validated)."""
        if getattr(self, "_rover", None) is None:
            self._rover = load_rover_model(self.params.rover_model or None)
        return self._rover

    # -- parameters ----------------------------------------------------------------------------
    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        changed = {}
        for param in parameters:
            spec = self._specs.get(param.name)
            if spec is None:
                continue  # use_sim_time, qos_overrides.*: handled by rclpy
            if spec.read_only:
                return SetParametersResult(successful=False, reason=f"{param.name} is read-only")
            value = param.value
            if isinstance(spec.default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            problem = spec.validate(value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            changed[param.name] = value
        if changed:
            reason = self.check_parameters({**vars(self.params), **changed})
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            for name, value in changed.items():
                setattr(self.params, name, value)
            self.on_parameters_changed(changed)
        return SetParametersResult(successful=True)

    def check_parameters(self, values: dict) -> str | None:
        """Override to reject combinations (e.g. min > max); return the reason or None."""
        return None

    def on_parameters_changed(self, changed: dict) -> None:
        """Override to rebuild what depends on parameters that were just changed at run time."""

    # -- diagnostics and warnings --------------------------------------------------------------
    def set_status(self, level: bytes, message: str, **values) -> None:
        """The status the next diagnostics message reports (OK, WARN or ERROR)."""
        self._status = (level, message, values)

    def publish_diagnostics(self) -> None:
        level, message, values = self._status
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_name()}",
            message=message,
            hardware_id=self.get_namespace(),
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def warn_throttled(self, key: str, message: str, period: float = 5.0, level: bytes = WARN) -> None:
        """Log ``message`` at most once per ``period`` seconds per ``key``; set the diagnostics status."""
        now = time.monotonic()
        self.set_status(level, message)
        last = self._warned_at.get(key)
        if last is not None and now - last < period:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        suffix = f" ({suppressed} similar messages suppressed)" if suppressed else ""
        self._warned_at[key] = now
        # rclpy refuses a call site whose severity changes between calls: one call per severity.
        if level == ERROR:
            self.get_logger().error(message + suffix)
        else:
            self.get_logger().warning(message + suffix)


def keep_freed_memory() -> bool:
    """Keep freed heap memory in the process instead of returning it to the kernel (glibc only).

    Nodes allocate and free a few MB per message (images, clouds, maps, OpenCV's cost volume). By default glibc unmaps such blocks and the next pair page-faults them back in, which
    cost ~2 ms per 640x480 stereo pair here (measured), the main overhead beyond the matcher. Raising the
    trim and mmap thresholds, as ROS 2's real-time guidelines do, keeps them mapped. Returns whether
    the allocator accepted the settings.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc <malloc.h>
    trimmed = libc.mallopt(m_trim_threshold, 256 << 20)
    mapped = libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's upper limit
    return bool(trimmed and mapped)


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Init rclpy, build the node, spin until Ctrl-C/SIGTERM or shutdown; returns an exit code.

    A node that cannot start (invalid parameter, unreadable file) exits with one line naming why.
    """
    keep_freed_memory()
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = factory()
        except (ValueError, OSError, rclpy.exceptions.ParameterException) as err:
            # A start-up failure (bad parameter, unreadable file) is one line, not a traceback.
            name = getattr(factory, "__name__", "node")
            print(f"{name}: cannot start: {err}", file=sys.stderr)
            return 1
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
