"""Stereo on the simulator's rendered pair of a known terrain: the cloud lies on the ground truth.

Ties the perception core to the simulator's conventions (rectified pinhole images, P with Tx = −f·B,
the left optical frame and its mounting from the rover model).
"""

import math

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from rover_autonomy.bringup.graph import NODES
from rover_autonomy.geometry import quaternion_to_matrix
from rover_autonomy.perception.camera import CameraCalibration
from rover_autonomy.perception.stereo.processor import StereoProcessor
from rover_autonomy.rover_model import load_rover_model

sim_engine = pytest.importorskip("rover_autonomy.sim.engine")
from rover_autonomy.sim.scene import terrain_world  # noqa: E402
from rover_autonomy.sim.sensors import RenderError, projection_matrices  # noqa: E402

RESOLUTION = 0.1  # [m]


def test_cloud_of_a_rendered_pair_lies_on_the_terrain():
    model = load_rover_model()
    xs = np.arange(-15.0, 15.0 + 1e-9, RESOLUTION)
    ys = np.arange(-10.0, 10.0 + 1e-9, RESOLUTION)
    gx, gy = np.meshgrid(xs, ys)
    heights = 0.4 * np.sin(gx / 2.5) * np.cos(gy / 3.0) + 0.05 * gx  # swells on a gentle slope
    try:
        sim = sim_engine.RoverSim(
            terrain_world(heights, RESOLUTION, start=(-8.0, 0.0, 0.0)),
            model,
            sim_engine.SimConfig(cameras=True),
        )
    except RenderError as err:
        pytest.skip(str(err))
    try:
        left, right = sim.render_stereo()
        true_depth = sim.render_depth("left")
        truth = sim.ground_truth()
    finally:
        sim.close()

    stereo = model.stereo
    calibrations = [
        CameraCalibration.from_arrays(
            stereo.width, stereo.height, stereo.intrinsics(), np.zeros(5), np.eye(3), p
        )
        for p in projection_matrices(stereo)
    ]
    processor = StereoProcessor()
    processor.update(**next(node for node in NODES if node.name == "stereo_processor").parameters)
    result = processor.process(left, right, "rgb8", "rgb8", *calibrations)

    near = true_depth <= 10.0
    depth = result.geometry.depth(result.disparity)
    matched = near & np.isfinite(depth)
    assert matched.sum() > 0.85 * near.sum()
    relative_error = np.abs(depth[matched] - true_depth[matched]) / true_depth[matched]
    assert np.median(relative_error) < 0.02  # issue 5: median depth error <= 2 % of range

    points = result.points[:, :3].astype(np.float64)
    points = points[np.linalg.norm(points, axis=1) <= 10.0]
    to_base = stereo.camera_to_base("left")
    in_map = (points @ to_base[:3, :3].T + to_base[:3, 3]) @ quaternion_to_matrix(
        truth.quaternion
    ).T + truth.position
    surface = RegularGridInterpolator((ys, xs), heights)(in_map[:, [1, 0]])
    vertical = np.abs(in_map[:, 2] - surface)
    assert len(points) > 100_000
    assert np.median(vertical) < 0.02
    assert np.mean(vertical > 0.2) < 0.005  # issue 5: < 0.5 % of points 0.2 m off the surface
    assert math.isclose(result.geometry.baseline, stereo.baseline)
