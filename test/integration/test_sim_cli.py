"""`rover-autonomy sim` answers bad input with one line on stderr and a non-zero exit."""

import os
import subprocess
import sys

import pytest


def _run(*args, **env):
    environment = {**os.environ, **env}
    environment.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "rover_autonomy.sim.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def _our_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith(("rover-autonomy sim", "rover_sim"))]


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--world", "venus"], "venus"),
        (["--world", "slope:steep"], "slope"),
        (["--rtf", "-2"], "--rtf"),
        (["--camera-rate", "100"], "--camera-rate"),
    ],
)
def test_bad_arguments_are_one_line(args, problem):
    result = _run(*args)
    assert result.returncode == 2
    lines = _our_lines(result.stderr)
    assert len(lines) == 1 and problem in lines[0]


def test_missing_gl_backend_names_the_debian_package():
    # Without a display the GLFW backend cannot create a context: the node must say what to install.
    result = _run("--world", "flat", MUJOCO_GL="glfw")
    assert result.returncode == 1
    lines = _our_lines(result.stderr)
    assert len(lines) == 1 and "libegl-mesa0" in lines[0] and "libosmesa6" in lines[0]
    assert "Traceback" not in result.stderr
