"""The graph description, launch files, embedded launcher and CLI."""

import ast
import importlib
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from helpers.paths import NODES, REPO
from std_msgs.msg import String

from rover_autonomy.bringup import graph, launcher
from rover_autonomy.bringup.graph import node_parameters
from rover_autonomy.resources import config_dir

ROOT = REPO
NODES_DIR = NODES


# -- graph description ---------------------------------------------------------------------------


def test_every_executable_is_laid_out_by_the_capability_template():
    for executable, entry in graph.EXECUTABLES.items():
        title, specs = node_parameters(executable)
        module, function = entry.target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), entry.target
        folder = module.rpartition(".")[0]
        assert (module, entry.parameters) == (f"{folder}.node", f"{folder}.parameters"), executable
        assert executable == importlib.import_module(entry.parameters).NODE_NAME
        assert title.startswith(f"{executable}: ") and specs, executable


def test_graph_nodes_have_executables_and_parameter_files():
    for node in graph.NODES:
        assert node.profiles <= set(graph.PROFILES), node.name
        if node.ours:
            assert node.executable in graph.EXECUTABLES, node.name
        else:
            assert node.install_hint, f"{node.name} needs an install hint"
        for name in (*node.parameter_files, *node.config_parameters.values()):
            assert (config_dir() / name).is_file(), f"{node.name}: missing config/{name}"


@pytest.mark.parametrize("executable", sorted(graph.EXECUTABLES))
def test_config_file_documents_every_parameter(executable):
    _, specs = node_parameters(executable)
    path = config_dir() / f"{executable}.yaml"
    values = yaml.safe_load(path.read_text())[executable]["ros__parameters"]
    assert set(values) == {s.name for s in specs}, f"{path.name} and the node's spec differ"
    for spec in specs:
        assert spec.validate(values[spec.name]) is None, path.name
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("    ") and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"{path.name}: no comment above {line.strip()}"


def test_console_scripts_come_from_the_graph():
    scripts = graph.console_scripts()
    assert "rover-autonomy = rover_autonomy.cli:main" in scripts
    for executable, entry in graph.EXECUTABLES.items():
        assert f"{executable} = {entry.target}" in scripts


def test_profiles_and_overrides():
    with pytest.raises(ValueError, match="unknown profile 'moon'"):
        graph.nodes_for("moon")
    with pytest.raises(ValueError, match="not in profile"):
        graph.nodes_for("replay", {"robot_state_publisher": {"x": 1}})
    for profile in graph.PROFILES:
        for node in graph.nodes_for(profile):
            assert node.parameters["use_sim_time"] == (profile in graph.SIM_TIME_PROFILES)


@pytest.mark.parametrize("profile", graph.PROFILES)
def test_launch_file_builds_its_profile_from_the_graph(profile):
    source = (ROOT / "launch" / f"{profile}.launch.py").read_text()
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "generate"]
    assert calls and calls[0].args[0].value == profile
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


def test_launch_plan_has_launch_ros_node_arguments():
    plan = graph.launch_plan(
        "hardware", "/opt/share/config", {"robot_state_publisher": {"publish_frequency": 5.0}}
    )
    step = next(s for s in plan if s["name"] == "robot_state_publisher")
    assert step["parameters"][-1] == {"use_sim_time": False, "publish_frequency": 5.0}
    assert set(step) == {"package", "executable", "name", "parameters", "remappings", "arguments", "output"}


# -- embedded launcher -----------------------------------------------------------------------------


@pytest.fixture
def heartbeat(monkeypatch):
    monkeypatch.setitem(
        graph.EXECUTABLES, "heartbeat", graph.Executable("heartbeat_node:main", "heartbeat_node")
    )
    env = {"PYTHONPATH": os.pathsep.join([str(NODES_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def plan(name="beat", **params):
        return [
            {
                "package": graph.PACKAGE,
                "executable": "heartbeat",
                "name": name,
                "parameters": [dict(params)],
                "remappings": [("heartbeat", f"{name}/heartbeat")],
                "output": "screen",
            }
        ]

    return plan, env


def test_launcher_runs_nodes_with_names_parameters_and_remappings(ros, heartbeat):
    plan, env = heartbeat
    lines = []
    listener = ros.node("listener")
    received = []
    listener.create_subscription(String, "pulse/heartbeat", received.append, 10)
    with launcher.Launcher(plan("pulse", period=0.05), log=lines.append, env=env) as running:
        assert ros.spin_until(lambda: len(received) >= 3, timeout=20)
        assert running.poll() is None
        process = running.children[0].process
    assert received[0].data == "pulse"
    assert process.poll() is not None, "child still running after stop()"
    assert any(line.startswith("[pulse] ") and "heartbeat up" in line for line in lines)


def test_launcher_names_a_child_that_dies_at_start(heartbeat):
    plan, env = heartbeat
    lines = []
    runner = launcher.Launcher(plan("doomed", fail_at_start=True), log=lines.append, env=env)
    runner.start()
    deadline = time.monotonic() + 20
    while runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    runner.stop()
    assert runner.poll() == ("doomed", 1)
    assert any("cannot start: asked to fail at start" in line for line in lines)


def test_launcher_refuses_missing_parameter_file(heartbeat):
    plan, env = heartbeat
    steps = plan()
    steps[0]["parameters"].insert(0, "/nonexistent/beat.yaml")
    with pytest.raises(launcher.LaunchError, match=r"missing parameter file /nonexistent/beat\.yaml"):
        launcher.Launcher(steps, env=env).check()


def test_ctrl_c_stops_every_child(heartbeat, tmp_path):
    plan, env = heartbeat
    script = textwrap.dedent(
        f"""
        import sys
        from rover_autonomy.bringup import graph, launcher
        graph.EXECUTABLES["heartbeat"] = graph.Executable("heartbeat_node:main", "heartbeat_node")
        plan = {plan("a") + plan("b")!r}
        sys.exit(launcher.run(plan, log=lambda line: print(line, flush=True)))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    for line in process.stdout:
        output.append(line)
        if "started a, b" in line:
            break
    children = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) == 2
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


# -- CLI -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch", "moon"], "invalid choice: 'moon'"),
        (["launch", "sim", "--param", "oops"], "expected NODE.PARAMETER=VALUE"),
        (["launch", "replay", "--param", "nobody.x=1"], "parameter overrides for nodes not in profile"),
        (["params", "nobody"], "unknown node 'nobody'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["launch", "sim", "--world", "nowhere"], "world 'nowhere'"),
        (["launch", "replay", "--world", "moon"], "--world applies to the sim profile"),
    ],
)
def test_cli_answers_bad_arguments_in_one_line(argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "rover_autonomy.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_sim_launch_puts_map_to_odom_at_the_worlds_start():
    from rover_autonomy.resources import worlds_dir
    from rover_autonomy.worlds.world import load_world

    result = subprocess.run(
        [sys.executable, "-m", "rover_autonomy.cli", "launch", "sim", "--world", "moon", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    start = load_world(worlds_dir() / "moon").start
    params = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        node = next(w for w in words if w.startswith("__node:=")).split(":=")[1]
        values = [words[i + 1] for i, w in enumerate(words) if w == "-p"]
        params[node] = dict(v.split(":=", 1) for v in values)
    assert yaml.safe_load(params["rover_sim"]["world"]) == str(worlds_dir() / "moon")
    assert yaml.safe_load(params["path_planner"]["map_to_odom"]) == [start.x, start.y, start.yaw]
    assert yaml.safe_load(params["wheel_odometry"]["slip_model_file"]) == "slip_model_moon.yaml"
