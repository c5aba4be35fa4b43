"""One parameter spec per node: declaration, validation and documentation from the same table.

A node lists its parameters as :class:`ParamSpec` rows. ``ros_common.node_base`` declares them with
ROS parameter descriptors (ranges, descriptions) and validates every set against them;
:func:`render_yaml` writes the documented ``config/<node>.yaml``. Pure Python: no ROS import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Value = bool | int | float | str | list


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Value
    description: str
    range: tuple[float, float] | None = None  # inclusive bounds for int/float parameters
    step: float = 0  # for ranges: allowed increments from the lower bound (0: any)
    choices: tuple[str, ...] | None = None  # allowed values of a string parameter
    unit: str = ""
    read_only: bool = False  # may only be set at start-up
    advanced: bool = False  # documented as [ADVANCED] in config files

    @property
    def kind(self) -> type:
        return type(self.default)

    def validate(self, value: Value) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None when it is."""
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{self.name}: expected {kind.__name__}, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{self.name}: must be finite, got {value}"
        if self.range is not None and isinstance(value, (int, float)):
            lo, hi = self.range
            if not lo <= value <= hi:
                return f"{self.name}: {value} outside [{lo}, {hi}]"
            if self.step and abs(((value - lo) / self.step) - round((value - lo) / self.step)) > 1e-9:
                return f"{self.name}: {value} is not {lo} plus a multiple of {self.step}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}: {value!r} is not one of {', '.join(self.choices)}"
        return None


def check_specs(specs: Sequence[ParamSpec]) -> None:
    """Raise ValueError when a spec table is inconsistent (duplicate names, invalid defaults)."""
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate parameter specs: {', '.join(sorted(duplicates))}")
    for spec in specs:
        problem = spec.validate(spec.default)
        if problem:
            raise ValueError(f"invalid default: {problem}")


def describe(spec: ParamSpec) -> str:
    """One line for documentation: description, unit, constraint."""
    text = spec.description.rstrip(".")
    if spec.unit:
        text += f" [{spec.unit}]"
    if spec.range is not None:
        text += f". Range {spec.range[0]} … {spec.range[1]}"
        if spec.step:
            text += f", step {spec.step}"
    if spec.choices is not None:
        text += f". One of: {', '.join(spec.choices)}"
    if spec.read_only:
        text += ". Read at start-up only"
    if spec.advanced:
        text = "[ADVANCED] " + text
    return text + "."


def _yaml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return repr(value)


def render_yaml(node_name: str, specs: Sequence[ParamSpec], title: str, values: dict | None = None) -> str:
    """The documented parameter file of a node: a comment above every key, then its value."""
    values = values or {}
    lines = [
        f"# {title}",
        "# Generated from the node's parameter spec: rover-autonomy params " + node_name,
        "",
    ]
    lines += [f"{node_name}:", "  ros__parameters:"]
    for spec in specs:
        lines.append(f"    # {describe(spec)}")
        lines.append(f"    {spec.name}: {_yaml_value(values.get(spec.name, spec.default))}")
    return "\n".join(lines) + "\n"
