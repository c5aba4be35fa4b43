"""The core/ROS split: cores never import rclpy or message packages; graph.py stays stdlib-only."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rover_autonomy"


def _is_ros_layer(path: Path) -> bool:
    rel = path.relative_to(PACKAGE)
    return path.name == "node.py" or path.stem.endswith("_node") or rel.parts[0] in ("bringup", "ros_common")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _is_ros(module: str) -> bool:
    return module in ("rclpy", "builtin_interfaces", "rosgraph_msgs", "rcl_interfaces") or module.endswith(
        ("_msgs", "_srvs")
    )


CORE_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if not _is_ros_layer(p))


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_modules_do_not_import_ros(path):
    ros = sorted(m for m in _imports(path) if _is_ros(m))
    assert not ros, f"{path.relative_to(PACKAGE)} is a core module but imports {ros}"


def test_graph_description_is_stdlib_only():
    graph = PACKAGE / "bringup" / "graph.py"
    third_party = {m for m in _imports(graph) if m not in sys.stdlib_module_names and m != "__future__"}
    assert not third_party, f"graph.py must stay importable by setup.py; it imports {third_party}"
