"""Parameter overrides given on a command line: ``NODE.NAME=VALUE``, grouped per node and merged."""

from __future__ import annotations

import argparse

import yaml

Overrides = dict[str, dict[str, object]]


def parse_override(text: str) -> tuple[str, str, object]:
    """``NODE.NAME=VALUE`` -> (node, parameter, value parsed as YAML, as ROS would); an argparse type."""
    target, sep, raw = text.partition("=")
    node, dot, name = target.partition(".")
    if not (sep and dot and node and name):
        raise argparse.ArgumentTypeError(f"expected NODE.PARAMETER=VALUE, got {text!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"cannot parse value of {target}: {err}") from err
    return node, name, value


def group_overrides(items: list[tuple[str, str, object]]) -> Overrides:
    """Parsed overrides -> {node: {parameter: value}}; a later value of the same parameter wins."""
    result: Overrides = {}
    for node, name, value in items:
        result.setdefault(node, {})[name] = value
    return result


def merge_overrides(into: Overrides, more: Overrides) -> None:
    """Add ``more`` to ``into`` in place; ``more`` wins."""
    for name, params in more.items():
        into.setdefault(name, {}).update(params)
