"""The embedded launcher: runs a profile's nodes as child processes without launch_ros.

It reads the same plan as ``launch/*.launch.py`` (:func:`graph.launch_plan`), starts our nodes with
``--ros-args`` (node name, parameter files, inline parameters, remappings), prefixes each output line
with the node's name, and shuts every child down cleanly on Ctrl-C, on SIGTERM, or as soon as one
child dies. Nodes of other packages cannot start here without a ROS installation: they are listed
and skipped with one line saying so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rover_autonomy.bringup import graph

Log = Callable[[str], None]


class LaunchError(RuntimeError):
    """The graph cannot be started (missing parameter file, unknown executable)."""


def _yaml_scalar(value: object) -> str:
    """A ``-p name:=value`` value: ROS parses it as YAML, so strings are quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def ros_arguments(step: dict) -> list[str]:
    """``--ros-args`` of a launch-plan entry: node name, parameter files and values, remappings."""
    command = ["--ros-args", "-r", f"__node:={step['name']}"]
    for parameters in step["parameters"]:
        if isinstance(parameters, dict):
            for name, value in parameters.items():
                command += ["-p", f"{name}:={_yaml_scalar(value)}"]
        else:
            command += ["--params-file", str(parameters)]
    for source, target in step["remappings"]:
        command += ["-r", f"{source}:={target}"]
    return command


def foreign_arguments(step: dict) -> list[str]:
    """Command-line arguments of a node of another package: its own, then ``--ros-args``."""
    return [*step.get("arguments", []), *ros_arguments(step)]


def node_command(step: dict) -> list[str]:
    """The command line running one of our nodes from its launch-plan entry."""
    module, function = graph.EXECUTABLES[step["executable"]].target.split(":")
    return [
        sys.executable,
        "-c",
        f"import sys; from {module} import {function}; sys.exit({function}())",
        *ros_arguments(step),
    ]


def _foreign_package_available(package: str) -> bool:
    prefixes = os.environ.get("AMENT_PREFIX_PATH", "")
    return any((Path(p) / "share" / package).is_dir() for p in prefixes.split(os.pathsep) if p) and bool(
        shutil.which("ros2")
    )


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    reader: threading.Thread


class Launcher:
    """Starts a launch plan's nodes, watches them, stops them all together."""

    def __init__(self, plan: list[dict], log: Log = print, env: dict[str, str] | None = None):
        self.plan = plan
        self.log = log
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.children: list[Child] = []
        self.skipped: list[str] = []
        self._lock = threading.Lock()

    def check(self) -> None:
        """Refuse to start when an executable is unknown or a parameter file is missing."""
        for step in self.plan:
            if step["package"] == graph.PACKAGE and step["executable"] not in graph.EXECUTABLES:
                raise LaunchError(f"unknown executable {step['executable']!r} for node {step['name']}")
            for parameters in step["parameters"]:
                if not isinstance(parameters, dict) and not Path(parameters).is_file():
                    raise LaunchError(f"missing parameter file {parameters} for node {step['name']}")

    def start(self) -> None:
        self.check()
        for step in self.plan:
            if step["package"] != graph.PACKAGE:
                if _foreign_package_available(step["package"]):
                    command = ["ros2", "run", step["package"], step["executable"], *foreign_arguments(step)]
                else:
                    self.skipped.append(step["name"])
                    self.log(
                        f"[launcher] skipping {step['name']}: package {step['package']} is not installed here"
                    )
                    continue
            else:
                command = node_command(step)
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches the launcher, which stops children in order
                text=True,
                bufsize=1,
            )
            reader = threading.Thread(target=self._forward, args=(step["name"], process), daemon=True)
            reader.start()
            self.children.append(Child(step["name"], process, reader))

    def _forward(self, name: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.log(f"[{name}] {line.rstrip()}")

    def poll(self) -> tuple[str, int] | None:
        """The first child that has exited, with its exit code, or None while all run."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                return child.name, code
        return None

    def stop(self, grace: float = 5.0) -> None:
        """SIGINT every child, then SIGTERM and SIGKILL the ones that do not exit in time."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            alive = [c for c in self.children if c.process.poll() is None]
            if not alive:
                break
            for child in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, sig)
            deadline = time.monotonic() + wait
            for child in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for child in self.children:
            child.reader.join(timeout=1.0)

    def __enter__(self) -> Launcher:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run(plan: list[dict], log: Log = print, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Run a plan until Ctrl-C/SIGTERM (exit 0) or until a child dies (exit 1, naming it)."""
    launcher = Launcher(plan, log)
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        launcher.start()
        if not launcher.children:
            log("[launcher] none of this profile's nodes can run here")
            return 1
        log(f"[launcher] started {', '.join(c.name for c in launcher.children)}; Ctrl-C stops")
        while not stopping.is_set() and not should_stop():
            died = launcher.poll()
            if died is not None:
                name, code = died
                log(f"[launcher] {name} exited with code {code}; stopping the other nodes")
                return 1
            stopping.wait(0.2)
        return 0
    finally:
        launcher.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
