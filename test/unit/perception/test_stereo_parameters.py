"""The stereo_processor parameter spec, its config file and its place in the node graph."""

from dataclasses import fields

import numpy as np
import yaml

from rover_autonomy.bringup.graph import EXECUTABLES, NODES, node_parameters
from rover_autonomy.parameters import render_yaml
from rover_autonomy.perception.stereo.matcher import MatcherParams
from rover_autonomy.perception.stereo.parameters import PARAMETERS, check, stereo_params
from rover_autonomy.perception.stereo.points import CloudParams
from rover_autonomy.resources import config_path
from rover_autonomy.rover_model import load_rover_model

SPECS = {spec.name: spec for spec in PARAMETERS}


def test_every_core_setting_is_a_parameter_with_the_core_default():
    for params in (MatcherParams(), CloudParams()):
        for field in fields(params):
            assert field.name in SPECS, f"{field.name} has no parameter spec"
            assert SPECS[field.name].default == getattr(params, field.name), field.name
    defaults = {name: spec.default for name, spec in SPECS.items()}
    assert stereo_params(defaults).matcher == MatcherParams() and check(defaults) is None


def test_inconsistent_combinations_are_reported():
    values = {name: spec.default for name, spec in SPECS.items()}
    assert "P1 < P2" in check({**values, "P1": 400, "P2": 300})
    assert "min_depth < max_depth" in check({**values, "min_depth": 5.0, "max_depth": 2.0})
    assert "block matching needs" in check({**values, "stereo_algorithm": 0, "correlation_window_size": 3})


def test_config_file_is_the_rendered_spec():
    text = config_path("stereo_processor.yaml").read_text()
    assert text == render_yaml("stereo_processor", PARAMETERS, node_parameters("stereo_processor")[0])
    values = yaml.safe_load(text)["stereo_processor"]["ros__parameters"]
    assert check(values) is None


def test_configured_disparity_range_sees_the_nearest_ground():
    stereo = load_rover_model().stereo
    to_base = stereo.camera_to_base("left")
    u = np.arange(stereo.width, dtype=float)
    bottom_row = np.linalg.inv(stereo.intrinsics()) @ np.vstack(
        [u, np.full_like(u, stereo.height - 1), np.ones_like(u)]
    )
    depth = -to_base[2, 3] / (to_base[:3, :3] @ bottom_row)[2]  # optical depth where the rays meet z = 0
    nearest_ground_disparity = stereo.focal_px * stereo.baseline / depth.min()
    entry = next(node for node in NODES if node.name == "stereo_processor")
    searched = entry.parameters["disparity_range"] - 1 + SPECS["min_disparity"].default
    assert searched > 1.2 * nearest_ground_disparity  # margin for rocks and slopes nearer than flat ground


def test_node_is_in_the_graph():
    assert EXECUTABLES["stereo_processor"].target == "rover_autonomy.perception.stereo.node:main"
    entry = next(node for node in NODES if node.name == "stereo_processor")
    assert entry.parameter_files == ("stereo_processor.yaml",)
    assert check({**{s.name: s.default for s in PARAMETERS}, **entry.parameters}) is None
