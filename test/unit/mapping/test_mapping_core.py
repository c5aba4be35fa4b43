"""Mapping core: rolling grid, pose buffer, fusion, suspension kinematics, clearance check, pipeline,
and the quality of the whole chain on a synthetic rocky terrain against its ground truth."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import matrix_to_rpy, yaw_to_quaternion
from rover_autonomy.mapping import clearance
from rover_autonomy.mapping.fusion import FusionSettings, StereoNoiseModel, fuse_points
from rover_autonomy.mapping.grid import ElevationMap
from rover_autonomy.mapping.mapper import TerrainMapper
from rover_autonomy.mapping.poses import Added, Lookup, PoseBuffer
from rover_autonomy.mapping.traversability import TraversabilityChain, TraversabilitySettings, to_costmap
from rover_autonomy.rover_model import load_rover_model

MODEL = load_rover_model()
SECOND = 1_000_000_000


# -- grid ------------------------------------------------------------------------------------------


def test_move_keeps_data_fixed_in_the_map_frame():
    grid = ElevationMap(4.0, 3.0, 0.1)
    assert grid.shape == (30, 40)
    row, col, inside = grid.cell_of(np.array([0.55]), np.array([-0.25]))
    assert inside[0]
    grid["elevation"][row[0], col[0]] = 1.5
    grid["count"][row[0], col[0]] = 7
    grid.move_to((1.23, -0.71))
    row, col, inside = grid.cell_of(np.array([0.55]), np.array([-0.25]))
    assert inside[0] and grid["elevation"][row[0], col[0]] == 1.5 and grid["count"][row[0], col[0]] == 7
    assert np.isfinite(grid["elevation"]).sum() == 1 and grid["count"].sum() == 7
    assert abs(grid.centre[0] - 1.2) < 0.06 and abs(grid.centre[1] + 0.7) < 0.06
    grid.move_to((100.0, 0.0))  # further than the window: everything leaves
    assert not np.isfinite(grid["elevation"]).any() and grid["count"].sum() == 0


# -- poses -----------------------------------------------------------------------------------------


def test_pose_buffer_interpolates_waits_and_refuses():
    poses = PoseBuffer(max_age_ns=5 * SECOND, max_gap_ns=SECOND // 2)
    assert poses.lookup(0)[0] is Lookup.WAIT
    poses.add(SECOND, (0.0, 0.0, 0.0), yaw_to_quaternion(0.0))
    poses.add(SECOND + SECOND // 5, (0.2, 0.0, 0.0), yaw_to_quaternion(0.2))
    status, transform = poses.lookup(SECOND + SECOND // 10)
    assert status is Lookup.OK
    assert np.allclose(transform[:3, 3], (0.1, 0, 0))
    assert math.isclose(matrix_to_rpy(transform[:3, :3])[2], 0.1, abs_tol=1e-9)
    assert poses.lookup(2 * SECOND)[0] is Lookup.WAIT
    assert poses.lookup(SECOND - 1)[0] is Lookup.TOO_OLD
    assert poses.add(SECOND, (0.0, 0.0, 0.0), yaw_to_quaternion(0.0)) is Added.STALE
    poses.add(2 * SECOND, (0.5, 0.0, 0.0), yaw_to_quaternion(0.2))  # 0.8 s after the previous: a gap
    assert poses.lookup(SECOND + SECOND // 2)[0] is Lookup.GAP
    assert poses.add(2 * SECOND + SECOND // 10, (5.0, 0.0, 0.0), yaw_to_quaternion(0.2)) is Added.JUMP
    assert len(poses) == 1 and poses.lookup(2 * SECOND)[0] is Lookup.TOO_OLD


# -- fusion ----------------------------------------------------------------------------------------


def test_noise_grows_with_range_squared_and_fusion_is_inverse_variance_weighted():
    noise = StereoNoiseModel(457.0, 0.3, disparity_sigma=0.3, terrain_slope=0.0, floor_sigma=0.0)
    ray = np.array([[0.0, 0.5, 1.0]])
    up = np.array([0.0, -1.0, 0.0])  # optical y points down
    near, far = noise.height_variance(ray * 4.0, up)[0], noise.height_variance(ray * 8.0, up)[0]
    assert math.isclose(far / near, 16.0, rel_tol=1e-9)
    sigma_z = 16.0 * 0.3 / (457.0 * 0.3)
    assert math.isclose(near, (sigma_z * 0.5) ** 2, rel_tol=1e-9)

    grid = ElevationMap(2.0, 2.0, 0.1)
    settings = FusionSettings(min_variance=1e-8)
    fuse_points(grid, np.array([[0.05, 0.05, 1.0]]), np.array([0.04]), 0, settings)
    fuse_points(grid, np.array([[0.05, 0.05, 1.3]]), np.array([0.01]), SECOND, settings)
    row, col, _ = grid.cell_of(np.array([0.05]), np.array([0.05]))
    h, v = grid["elevation"][row[0], col[0]], grid["variance"][row[0], col[0]]
    assert math.isclose(h, (1.0 / 0.04 + 1.3 / 0.01) / (1 / 0.04 + 1 / 0.01), rel_tol=1e-6)
    assert math.isclose(v, 1 / (1 / 0.04 + 1 / 0.01), rel_tol=1e-6)
    assert grid["count"][row[0], col[0]] == 2 and grid["time"][row[0], col[0]] == pytest.approx(1.0)
    # A far-off, certain measurement (the terrain changed) inflates the prior and takes over.
    fuse_points(grid, np.array([[0.05, 0.05, 3.0]]), np.array([1e-4]), 2 * SECOND, settings)
    assert grid["elevation"][row[0], col[0]] > 2.9


# -- suspension and clearance ----------------------------------------------------------------------


def test_suspension_matrix_recovers_the_rover_models_joint_angles():
    matrix, low, high = clearance.suspension_matrix(MODEL)
    for rocker, bogie in [(0.1, 0.0), (0.0, 0.15), (-0.08, -0.2), (0.05, 0.12)]:
        angles = {"rocker_left": rocker, "bogie_left": bogie, "bogie_right": -bogie}
        heights = MODEL.contact_points(angles)[:, 2]
        values = matrix @ heights
        # The body frame is the reference: no body slope, joints as set (small-angle model).
        assert abs(values[clearance.SLOPE_X]) < 0.01
        assert np.allclose(np.arctan(values[3:]), [rocker, bogie, -rocker, -bogie], atol=0.02)
    plane = MODEL.contact_points()[:, 0] * math.tan(0.2) + MODEL.contact_points()[:, 1] * math.tan(0.1)
    values = matrix @ plane
    assert np.allclose(values[:2], [math.tan(0.2), math.tan(0.1)]) and np.allclose(values[3:], 0)
    assert np.all(low < 0) and np.all(high > 0)


def _chain(resolution=0.1):
    return TraversabilityChain(
        clearance.clearance_model(MODEL, 2 * resolution), resolution, TraversabilitySettings()
    )


def _known_grid(surface, size=12.0, resolution=0.1):
    grid = ElevationMap(size, size, resolution)
    x, y = grid.cell_centres()
    xx, yy = np.meshgrid(x, y)
    grid["elevation"][:] = surface(xx, yy)
    grid["variance"][:] = 1e-4
    return grid, xx, yy


@pytest.mark.parametrize(("slope_deg", "lethal"), [(10.0, False), (25.0, True), (18.0, False), (22.0, True)])
def test_slopes_against_the_tilt_limit(slope_deg, lethal):
    direction = 0.6  # [rad] slope azimuth, not aligned with the grid
    gradient = math.tan(math.radians(slope_deg))
    grid, _, _ = _known_grid(lambda x, y: gradient * (math.cos(direction) * x + math.sin(direction) * y))
    _chain().run(grid)
    centre = grid["cost"][40:80, 40:80]
    assert np.isfinite(centre).all()
    assert np.all(centre == 100) if lethal else np.all(centre < 100)
    assert np.degrees(np.nanmedian(grid["slope"][40:80, 40:80])) == pytest.approx(slope_deg, abs=0.2)
    if not lethal:
        expected = 99 * math.radians(slope_deg) / MODEL.limits.max_tilt
        assert np.median(centre) == pytest.approx(expected, abs=3)


def _rock(x0, y0, diameter, height):
    def surface(x, y):
        a = diameter / 2
        radius = (a * a + height * height) / (2 * height)
        cap = np.sqrt(np.maximum(radius**2 - (x - x0) ** 2 - (y - y0) ** 2, 0.0)) - (radius - height)
        return np.maximum(cap, 0.0)

    return surface


@pytest.mark.parametrize(
    ("diameter", "height", "lethal"),
    [(0.9, 0.45, True), (0.6, 0.35, True), (0.4, 0.2, False), (0.2, 0.1, False)],
)
def test_rock_under_the_belly(diameter, height, lethal):
    grid, xx, yy = _known_grid(_rock(0.05, 0.05, diameter, height))
    _chain().run(grid)
    row, col, _ = grid.cell_of(np.array([0.05]), np.array([0.05]))
    cost = grid["cost"][row[0], col[0]]
    assert (cost == 100) == lethal
    far = np.hypot(xx - 0.05, yy - 0.05) > 2.0
    assert np.nanmax(grid["cost"][far & np.isfinite(grid["cost"])]) < 5  # flat ground away from the rock
    if not lethal:  # the belly clears it, by its height less
        assert grid["clearance"][row[0], col[0]] == pytest.approx(MODEL.body.bottom_z - height, abs=0.06)


@pytest.mark.parametrize(("height", "lethal"), [(0.25, True), (0.15, False)])
def test_steps_under_the_wheels(height, lethal):
    # A waffle of 0.1 m ridges every 0.3 m: every wheel faces a step of ``height``; the belly clears it.
    def waffle(x, y):
        return height * ((np.mod(x, 0.3) < 0.1) | (np.mod(y, 0.3) < 0.1))

    grid, _, _ = _known_grid(waffle)
    _chain().run(grid)
    inner = grid["cost"][30:90, 30:90]
    assert np.isfinite(inner).all()
    assert np.all(inner == 100) if lethal else np.all(inner < 100)
    assert np.nanmin(grid["step"][30:90, 30:90]) == pytest.approx(height, abs=1e-6)


def test_unknown_terrain_is_unknown_cost():
    grid, xx, yy = _known_grid(lambda x, y: 0.0 * x)
    grid["elevation"][xx > 0] = np.nan
    _chain().run(grid)
    costs = to_costmap(grid["cost"])
    assert np.all(costs[xx > 0] == -1)
    inner = (xx < -1.0) & (xx > -5.0) & (np.abs(yy) < 5.0)  # a wheel's reach from unknown cells
    assert np.all(costs[inner] == 0)


# -- pipeline ---------------------------------------------------------------------------------------


def _flat_cloud(count=20000, seed=0):
    """Points of flat ground (z = 0 in odom) seen by a rover at the origin, in the left optical frame."""
    rng = np.random.default_rng(seed)
    ground = np.column_stack([rng.uniform(1.5, 6, count), rng.uniform(-2, 2, count), np.zeros(count)])
    camera = MODEL.stereo.camera_to_base("left")
    return ((ground - camera[:3, 3]) @ camera[:3, :3]).astype(np.float32)


def _mapper(**values):
    return TerrainMapper(MODEL, {"length_x": 12.0, "length_y": 12.0, "max_pose_gap": 2.0, **values})


def test_clouds_wait_for_odometry_and_are_fused_in_stamp_order():
    def run(order):
        mapper = _mapper()
        events = {
            "odom0": lambda: mapper.add_odometry(0, (0, 0, 0), yaw_to_quaternion(0)),
            "odom1": lambda: mapper.add_odometry(SECOND, (0.2, 0, 0), yaw_to_quaternion(0.1)),
            "odom2": lambda: mapper.add_odometry(2 * SECOND, (0.4, 0, 0), yaw_to_quaternion(0.2)),
            "cloudA": lambda: mapper.add_cloud(SECOND // 2, MODEL.stereo.left_frame, _flat_cloud(seed=1)),
            "cloudB": lambda: mapper.add_cloud(3 * SECOND // 2, MODEL.stereo.left_frame, _flat_cloud(seed=2)),
        }
        fused = []
        for name in order:
            events[name]()
            fused += mapper.process()
        return mapper, fused

    first, fused = run(["odom0", "cloudA", "cloudB", "odom1", "odom2"])
    assert fused == [SECOND // 2, 3 * SECOND // 2]
    second, _ = run(["cloudB", "cloudA", "odom0", "odom1", "odom2"])
    for name in ("elevation", "variance", "count"):
        assert np.array_equal(first.grid[name], second.grid[name], equal_nan=True)
    known = first.grid.known
    assert known.sum() > 500 and np.abs(first.grid["elevation"][known]).max() < 0.05


def test_bad_clouds_are_dropped_without_touching_the_map():
    mapper = _mapper(max_points=12000, max_pose_wait=2.0)
    mapper.add_odometry(10 * SECOND, (0, 0, 0), yaw_to_quaternion(0))
    mapper.add_odometry(11 * SECOND, (0, 0, 0), yaw_to_quaternion(0))
    left = MODEL.stereo.left_frame
    mapper.add_cloud(10 * SECOND, left, _flat_cloud())
    assert mapper.process() == [10 * SECOND]
    before = {k: v.copy() for k, v in mapper.grid.layers.items()}
    mapper.take_events()

    broken = _flat_cloud(seed=3)
    broken[::3] = np.nan
    broken[1::6] = np.inf
    broken[5::6, 2] = -1.0  # behind the camera
    mapper.add_cloud(10 * SECOND + 1, left, broken[:0])  # empty
    mapper.add_cloud(10 * SECOND + 2, "laser_link", broken)  # unknown frame
    mapper.add_cloud(SECOND, left, broken)  # older than the pose buffer
    mapper.add_cloud(20 * SECOND, left, broken)  # far ahead of odometry
    keys = [e.key for e in mapper.take_events()]
    assert keys == ["empty", "unknown_frame", "too_old", "future"]
    nothing = np.full((100, 3), np.nan, np.float32)
    mapper.add_cloud(10 * SECOND + 3, left, nothing)
    assert mapper.process() == [] and [e.key for e in mapper.take_events()] == ["no_valid_points"]
    for name, layer in before.items():
        assert np.array_equal(layer, mapper.grid[name], equal_nan=True), name
    # Non-finite points are skipped, the rest fused; a huge cloud is subsampled to max_points.
    mapper.add_cloud(10 * SECOND + 4, left, np.tile(broken, (3, 1)))
    assert mapper.process() == [10 * SECOND + 4]
    assert [e.key for e in mapper.take_events()] == ["subsampled"]
    known = mapper.grid.known
    assert np.abs(mapper.grid["elevation"][known]).max() < 0.05
    sent = np.tile(broken, (3, 1))[::5]  # the stride that brings 60000 points under 12000
    usable = np.isfinite(sent).all(axis=1) & (sent[:, 2] > 0)
    assert mapper.counters["points_fused"] == 20000 // 2 + usable.sum()  # the first cloud had stride 2


def test_clouds_waiting_for_odometry_are_bounded():
    mapper = _mapper(max_pending=3)
    mapper.add_odometry(0, (0, 0, 0), yaw_to_quaternion(0))
    for i in range(1, 6):  # odometry stalls: five clouds wait, the two oldest are dropped
        mapper.add_cloud(i * SECOND // 10, MODEL.stereo.left_frame, _flat_cloud(seed=i))
    assert mapper.pending == 3 and [e.key for e in mapper.take_events()] == ["queue_full", "queue_full"]
    mapper.add_odometry(SECOND, (0, 0, 0), yaw_to_quaternion(0))
    assert mapper.process() == [3 * SECOND // 10, 4 * SECOND // 10, 5 * SECOND // 10]


def test_pose_jump_clears_the_map():
    mapper = _mapper()
    mapper.add_odometry(0, (0, 0, 0), yaw_to_quaternion(0))
    mapper.add_odometry(SECOND, (0, 0, 0), yaw_to_quaternion(0))
    mapper.add_cloud(SECOND // 2, MODEL.stereo.left_frame, _flat_cloud())
    mapper.process()
    assert mapper.grid.known.any()
    mapper.add_cloud(3 * SECOND // 2, MODEL.stereo.left_frame, _flat_cloud())  # waits across the jump
    mapper.add_odometry(2 * SECOND, (30.0, 0, 0), yaw_to_quaternion(0))
    assert mapper.process() == []
    keys = [e.key for e in mapper.take_events()]
    assert keys == ["pose_jump", "too_old"]
    assert not mapper.grid.known.any() and mapper.counters["map_resets"] == 1


# -- end to end on a synthetic rocky terrain ---------------------------------------------------------


def _quaternion(rotation):
    w = math.sqrt(max(1.0 + np.trace(rotation), 1e-12)) / 2
    return np.array(
        [
            (rotation[2, 1] - rotation[1, 2]) / (4 * w),
            (rotation[0, 2] - rotation[2, 0]) / (4 * w),
            (rotation[1, 0] - rotation[0, 1]) / (4 * w),
            w,
        ]
    )


def test_quality_against_ground_truth():
    """Clouds ray-cast on a rocky terrain (k = 0.15) with stereo noise: the goals of the mapping issue
    (height RMSE ≤ 5 cm within 8 m, tall rocks lethal, ≤ 2 % false lethal) on a few poses."""
    from rover_autonomy.harness.map_scoring import score, truth_grid
    from rover_autonomy.harness.terrains import (
        CloudSimulator,
        make_terrain,
        poses_facing_rocks,
        rover_pose_on_terrain,
    )

    terrain = make_terrain(7, size=40.0)
    simulator = CloudSimulator(terrain, MODEL)
    rng = np.random.default_rng(7)
    rocks = lethal = rated = false = 0
    for x, y, yaw in poses_facing_rocks(terrain, MODEL, rng, 3, MODEL.body.bottom_z):
        mapper = TerrainMapper(MODEL, {"length_x": 24.0, "length_y": 24.0})
        for i, back in enumerate((0.5, 0.0)):
            pose = rover_pose_on_terrain(
                terrain, MODEL, x - back * math.cos(yaw), y - back * math.sin(yaw), yaw
            )
            mapper.add_odometry((i + 1) * SECOND, pose[:3, 3], _quaternion(pose[:3, :3]))
            mapper.add_cloud((i + 1) * SECOND, MODEL.stereo.left_frame, simulator.cloud(pose, rng)[0])
            assert mapper.process() == [(i + 1) * SECOND]
        mapper.update_traversability()
        truth = truth_grid(terrain, mapper.grid)
        reference = TerrainMapper(MODEL, {"length_x": 24.0, "length_y": 24.0})
        reference.grid = truth
        reference.update_traversability()
        result = score(mapper.grid, truth, terrain, (x, y), 8.0, MODEL.body.bottom_z)
        assert result.height_cells > 2000 and result.height_rmse <= 0.05
        rocks += result.rocks_observed
        lethal += result.rocks_lethal
        rated += result.cost_cells
        false += result.false_lethal
    assert rocks >= 3 and lethal == rocks
    assert false <= 0.02 * rated


def test_incremental_traversability_equals_a_full_run():
    import copy

    from rover_autonomy.harness.terrains import CloudSimulator, make_terrain, rover_pose_on_terrain

    terrain = make_terrain(11, size=30.0)
    simulator = CloudSimulator(terrain, MODEL, stride=2)
    rng = np.random.default_rng(11)
    mapper = TerrainMapper(MODEL, {"length_x": 16.0, "length_y": 16.0})
    mapper.update_traversability()  # empty map: everything computed once
    for i in range(4):  # driving 1.5 m per cloud moves the window too
        pose = rover_pose_on_terrain(terrain, MODEL, 1.5 * i, 0.3 * i, 0.2)
        mapper.add_odometry((i + 1) * SECOND, pose[:3, 3], _quaternion(pose[:3, :3]))
        mapper.add_cloud((i + 1) * SECOND, MODEL.stereo.left_frame, simulator.cloud(pose, rng)[0])
        mapper.process()
        box = mapper.grid.dirty
        assert box is not None and (box[1] - box[0]) * (box[3] - box[2]) < mapper.grid["cost"].size
        mapper.update_traversability()
        reference = copy.deepcopy(mapper.grid)
        mapper.chain.run(reference, full=True)
        for name in ("cost", "step", "wheel_top", "body_top", "clearance"):
            assert np.array_equal(mapper.grid[name], reference[name], equal_nan=True), name
        assert np.allclose(mapper.grid["slope"], reference["slope"], atol=1e-4, equal_nan=True)
    assert (mapper.grid["cost"] == 100).any() and (mapper.grid["cost"] < 50).any()
    assert mapper.grid.take_dirty() is None  # nothing left to do
