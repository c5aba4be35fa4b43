"""rover_autonomy.geometry against transforms3d (the reference), the planar frame transform and the grid."""

import math

import numpy as np
import pytest
import transforms3d

from rover_autonomy import geometry

RNG = np.random.default_rng(7)
ANGLES = [tuple(RNG.uniform(-math.pi, math.pi, 3)) for _ in range(50)] + [(0.0, math.pi / 2, 0.3)]


def _ros(q_wxyz) -> np.ndarray:
    w, x, y, z = q_wxyz
    return np.array([x, y, z, w])


@pytest.mark.parametrize("rpy", ANGLES)
def test_rotations_match_transforms3d(rpy):
    matrix = transforms3d.euler.euler2mat(*rpy, "sxyz")
    np.testing.assert_allclose(geometry.rpy_to_matrix(*rpy), matrix, atol=1e-12)
    q = geometry.rpy_to_quaternion(*rpy)
    reference = _ros(transforms3d.euler.euler2quat(*rpy, "sxyz"))
    assert min(np.abs(q - reference).max(), np.abs(q + reference).max()) < 1e-12
    np.testing.assert_allclose(geometry.quaternion_to_matrix(q), matrix, atol=1e-12)
    back = geometry.matrix_to_quaternion(matrix)
    assert back[3] >= 0 and min(np.abs(back - q).max(), np.abs(back + q).max()) < 1e-12
    np.testing.assert_allclose(geometry.pose_matrix((1, 2, 3), q)[:3, :3], matrix, atol=1e-12)
    rpy_back = geometry.matrix_to_rpy(matrix)
    np.testing.assert_allclose(geometry.rpy_to_matrix(*rpy_back), matrix, atol=1e-12)
    if abs(math.cos(rpy[1])) > 1e-6:  # at gimbal lock only roll - yaw is defined, and references differ
        np.testing.assert_allclose(rpy_back, transforms3d.euler.mat2euler(matrix, "sxyz"), atol=1e-9)


@pytest.mark.parametrize("yaw", [-3.0, -1.0, 0.0, 0.5, 3.1])
def test_yaw_round_trip_and_yaw_of_a_tilted_pose(yaw):
    assert geometry.quaternion_to_yaw(geometry.yaw_to_quaternion(yaw)) == pytest.approx(yaw, abs=1e-12)
    tilted = geometry.rpy_to_quaternion(0.2, -0.1, yaw)  # yaw is the heading whatever the tilt
    assert geometry.quaternion_to_yaw(tilted) == pytest.approx(yaw, abs=1e-12)


def test_slerp_ends_midpoint_and_shortest_arc():
    q0, q1 = geometry.yaw_to_quaternion(0.0), geometry.yaw_to_quaternion(1.0)
    np.testing.assert_allclose(geometry.slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(geometry.slerp(q0, q1, 1.0), q1, atol=1e-12)
    assert geometry.quaternion_to_yaw(geometry.slerp(q0, q1, 0.5)) == pytest.approx(0.5)
    assert geometry.quaternion_to_yaw(geometry.slerp(q0, -q1, 0.5)) == pytest.approx(0.5)  # same rotation
    assert geometry.rotation_angle(q0, q1) == pytest.approx(1.0)


def test_planar_pose_maps_points_both_ways():
    odom_in_map = geometry.Pose2D(10.0, -4.0, math.pi / 2)
    np.testing.assert_allclose(odom_in_map.to_parent([[1.0, 0.0], [0.0, 2.0]]), [[10.0, -3.0], [8.0, -4.0]])
    assert odom_in_map.to_child(10.0, -3.0) == pytest.approx((1.0, 0.0))
    xs, ys = odom_in_map.to_child(np.array([10.0, 8.0]), np.array([-3.0, -4.0]))  # arrays of points
    np.testing.assert_allclose(np.column_stack([xs, ys]), [[1.0, 0.0], [0.0, 2.0]], atol=1e-12)
    for x, y in RNG.uniform(-50, 50, (20, 2)):
        back = odom_in_map.to_parent([odom_in_map.to_child(x, y)])[0]
        np.testing.assert_allclose(back, (x, y), atol=1e-9)


def test_grid_cells_are_half_open_and_points_outside_have_none():
    grid = geometry.GridGeometry(0.5, -5.0, 2.0, height=4, width=6)  # x in [-5, -2), y in [2, 4)
    assert grid.frame_id == "odom"
    assert grid.to_cell(-5.0, 2.0) == (0, 0)  # the origin is the corner of cell (0, 0)
    assert grid.to_cell(-4.5, 2.0) == (0, 1)  # a cell's upper edge belongs to the next cell
    assert grid.to_cell(-2.0 - 1e-9, 4.0 - 1e-9) == (3, 5)
    for x, y in [
        (-2.0, 3.0),
        (-3.0, 4.0),
        (-5.0 - 1e-9, 3.0),
        (-3.0, 2.0 - 1e-9),
        (math.nan, 3.0),
        (-3.0, math.inf),
    ]:
        assert grid.to_cell(x, y) is None


def test_grid_cell_centres_invert_to_cell():
    grid = geometry.GridGeometry(0.5, -5.0, 2.0, 4, 6)
    np.testing.assert_allclose(grid.cell_centres([[0, 0], [3, 5]]), [[-4.75, 2.25], [-2.25, 3.75]])
    cells = np.array([(row, col) for row in range(4) for col in range(6)])
    assert [grid.to_cell(x, y) for x, y in grid.cell_centres(cells)] == [tuple(c) for c in cells]
    assert grid.cell_centres(np.empty((0, 2), np.int64)).shape == (0, 2)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0.0, 0.0, 0.0, 4, 6), "resolution must be > 0"),
        ((-0.1, 0.0, 0.0, 4, 6), "resolution must be > 0"),
        ((math.nan, 0.0, 0.0, 4, 6), "resolution must be > 0"),
        ((0.1, math.inf, 0.0, 4, 6), "origin must be finite"),
        ((0.1, 0.0, math.nan, 4, 6), "origin must be finite"),
        ((0.1, 0.0, 0.0, 0, 6), "grid must be non-empty, got 0x6"),
        ((0.1, 0.0, 0.0, 4, -1), "grid must be non-empty"),
    ],
)
def test_grid_geometry_refuses_impossible_grids(arguments, message):
    with pytest.raises(ValueError, match=message):
        geometry.GridGeometry(*arguments)
