"""Deterministic replay through the stack's own nodes (those on main: stereo_processor, path_planner).

The bag holds a synthetic stereo pair stream, the odometry and costmaps of a recorded run and a goal
beyond a rock; two replays must publish bit-identical point clouds and plans, and the plans must go
around the rock. When wheel_odometry and terrain_mapper land, they join this test through the graph.
"""

import json

import numpy as np
import pytest
from replay_bags import mission_messages, stack_messages, write_bag

from rover_autonomy.bringup import cli, graph
from rover_autonomy.replay import compare
from rover_autonomy.replay.bag import open_bag

NODES = ["stereo_processor", "path_planner"]


@pytest.mark.skipif(
    not set(NODES) <= {n.name for n in graph.nodes_for("replay")}, reason="stack nodes not in the graph"
)
def test_two_replays_through_the_stack_are_bit_identical(tmp_path):
    bag = write_bag(tmp_path / "run", mission_messages(duration=1.0) + stack_messages(duration=1.0))
    reports = []
    for name in ("first", "second"):
        code = cli.main(["replay", str(bag), "--report", str(tmp_path / name), "--nodes", *NODES])
        assert code == 0, (tmp_path / name / "nodes.log").read_text()[-2000:]
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
    first, second = reports
    assert first["played"]["stereo/right/image_rect"] == 5 and first["played"]["odom"] == 50
    assert first["lockstep"]["answer_timeouts"] == 0
    assert first["fingerprints"]["stereo/points"]["count"] == 5
    assert first["fingerprints"]["plan"]["count"] >= 1
    assert first["fingerprints"] == second["fingerprints"]

    # The plans leave the lethal rock of the recorded costmap (x 1…2 m, y −1…1 m) aside.
    for _, xy in compare.paths(open_bag(tmp_path / "first" / "outputs"), "plan"):
        assert np.hypot(*(xy[-1] - (4.0, 1.0))) < 0.3
        inside = (xy[:, 0] > 1.0) & (xy[:, 0] < 2.0) & (xy[:, 1] > -1.0) & (xy[:, 1] < 1.0)
        assert not inside.any()
        assert compare.path_length(xy) > np.hypot(4.0, 1.0)
