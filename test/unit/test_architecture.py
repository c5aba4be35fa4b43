"""The package's shape, proven on its source: the core/ROS split, which capability may import which, no
import circles, graph.py stdlib-only and every node laid out by the capability template."""

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from helpers.paths import PACKAGE

# Who may import whom, by unit (a folder of rover_autonomy/ or a top-level module). Command-line modules
# (cli.py, *_cli.py) compose capabilities and are exempt; nothing else may import the test harness.
FOUNDATION = {"contract", "parameters", "resources", "geometry", "rover_model", "kinematics", "ros_common"}
ALLOWED = {
    "contract": set(),
    "parameters": set(),
    "resources": set(),
    "geometry": set(),
    "rover_model": {"resources", "geometry"},
    "kinematics": {"rover_model"},
    "ros_common": {"contract", "parameters", "geometry", "rover_model"},
    "control": FOUNDATION,
    "odometry": FOUNDATION,
    "perception": FOUNDATION,
    "mapping": FOUNDATION,
    "planning": FOUNDATION,
    "worlds": FOUNDATION,
    "sim": FOUNDATION | {"worlds"},
    "description": FOUNDATION | {"worlds", "sim"},
    "harness": FOUNDATION | {"control", "odometry", "perception", "mapping", "planning", "sim", "worlds"},
    "bringup": FOUNDATION | {"description", "worlds"},
    "replay": FOUNDATION | {"bringup"},
    "missions": FOUNDATION | {"bringup", "replay", "worlds"},
}
ROS_LAYERS = ("bringup", "ros_common")


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_cli(path: Path) -> bool:
    return path.stem == "cli" or path.stem.endswith("_cli")


def _is_ros_layer(path: Path) -> bool:
    rel = path.relative_to(PACKAGE)
    return path.name == "node.py" or path.stem.endswith("_node") or rel.parts[0] in ROS_LAYERS


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (function-local imports too), as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES
            )
    return names


def _own_imports(module: str) -> set[str]:
    return {name for name in _imports(MODULES[module]) if name in MODULES and name != module}


def _is_ros(module: str) -> bool:
    top = module.split(".")[0]
    return top in ("rclpy", "builtin_interfaces", "rosgraph_msgs", "rcl_interfaces") or top.endswith(
        ("_msgs", "_srvs")
    )


CORE_MODULES = [p for p in MODULES.values() if not _is_ros_layer(p)]


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_modules_do_not_import_ros(path):
    ros = sorted(m for m in _imports(path) if _is_ros(m))
    assert not ros, f"{path.relative_to(PACKAGE)} is a core module but imports {ros}"


def test_units_import_only_what_the_layering_allows():
    wrong = []
    for module, path in MODULES.items():
        unit = _unit(module)
        if _is_cli(path) or unit in ("__init__", "cli"):
            continue
        assert unit in ALLOWED, f"{unit} is a new unit: give it a row in ALLOWED"
        for target in _own_imports(module):
            other = _unit(target)
            if other not in (unit, "__init__") and other not in ALLOWED[unit]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports the layering forbids:\n" + "\n".join(sorted(wrong))


def test_there_are_no_import_circles():
    graph = {module: _own_imports(module) for module in MODULES}
    # Parents are imported before their submodules; an arrow to a package's __init__ is not a circle.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    circles, state = [], defaultdict(int)  # 0 unvisited, 1 on the path, 2 done

    def visit(module, path):
        state[module] = 1
        for target in sorted(graph[module]):
            if state[target] == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_graph_description_is_stdlib_only():
    graph = PACKAGE / "bringup" / "graph.py"
    imported = {m.split(".")[0] for m in _imports(graph)}
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "__future__"}
    assert not third_party, f"graph.py must stay importable by setup.py; it imports {third_party}"


def test_node_folders_follow_the_template():
    """A folder with a node.py has its parameters.py, and no other module of the package defines a
    parameter table."""
    for node in PACKAGE.rglob("node.py"):
        assert (node.parent / "parameters.py").is_file(), f"{node.parent} has node.py but no parameters.py"
    tables = sorted(
        str(p.relative_to(PACKAGE))
        for p in MODULES.values()
        if p.name != "parameters.py" and "\nPARAMETERS" in p.read_text() and "ParamSpec(" in p.read_text()
    )
    assert not tables, f"parameter tables outside parameters.py: {tables}"
