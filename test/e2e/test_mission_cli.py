"""rover-autonomy mission: bad arguments are answered in one line and start nothing."""

import os
import subprocess
import sys

import pytest

from rover_autonomy.resources import worlds_dir
from rover_autonomy.worlds.world import load_world

CLI = [sys.executable, "-m", "rover_autonomy.cli"]


def _rock_centre():
    world = load_world(worlds_dir() / "mars")
    rock = world.rocks[world.rocks["diameter"].argmax()]
    return f"{rock['x']:.3f}", f"{rock['y']:.3f}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--world", "venus", "--goal", "1", "1"], "unknown world 'venus'"),
        (["--goal", "100", "0"], "is outside the world"),
        (["--goal", *_rock_centre()], "is inside a rock"),
        (["--goal", "1", "1", "--timeout", "-5"], "--timeout must be a positive number"),
        (["--goal", "1", "1", "--report", "/proc/no/such"], "is not writable"),
    ],
)
def test_bad_mission_arguments_start_nothing(argv, message):
    result = subprocess.run([*CLI, "mission", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "rover_sim" not in result.stdout


def test_environment_isolated():
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
