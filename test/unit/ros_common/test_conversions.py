"""Message conversions: round trips for every supported layout, clear errors for malformed messages."""

import math

import numpy as np
import pytest
from nav_msgs.msg import OccupancyGrid
from sensor_msgs.msg import Image, PointCloud2, PointField

from rover_autonomy.geometry import (
    GridGeometry,
    pose_matrix,
    quaternion_to_yaw,
    rpy_to_quaternion,
    yaw_to_quaternion,
)
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    OdometryData,
    array_to_grid,
    array_to_image,
    arrays_to_pointcloud,
    arrays_to_pose,
    costmap_to_array,
    data_to_odometry,
    grid_to_array,
    image_to_array,
    matrix_to_pose,
    ns_to_stamp,
    odometry_to_data,
    path_to_points,
    pointcloud_to_arrays,
    points_to_path,
    pose_to_arrays,
    pose_to_matrix,
    sec_to_stamp,
    stamp_to_ns,
    stamp_to_sec,
)

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("encoding", "shape", "dtype"),
    [
        ("mono8", (48, 64), np.uint8),
        ("mono16", (48, 64), np.uint16),
        ("rgb8", (48, 64, 3), np.uint8),
        ("bgr8", (31, 17, 3), np.uint8),
        ("32FC1", (48, 64), np.float32),
    ],
)
def test_image_round_trip(encoding, shape, dtype):
    array = (RNG.random(shape) * 200).astype(dtype)
    msg = array_to_image(array, encoding, stamp_ns=1_500_000_000, frame_id="cam")
    assert msg.header.frame_id == "cam" and stamp_to_ns(msg.header.stamp) == 1_500_000_000
    back = image_to_array(msg)
    assert back.dtype == dtype and np.array_equal(back, array)


def test_image_with_row_padding_and_big_endian():
    array = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    padded = np.zeros((3, 6), dtype=">u2")
    padded[:, :4] = array
    msg = Image(height=3, width=4, encoding="mono16", is_bigendian=1, step=12)
    msg.data = padded.tobytes()
    assert np.array_equal(image_to_array(msg), array)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: setattr(m, "encoding", "yuv422"), "unsupported image encoding 'yuv422'"),
        (lambda m: setattr(m, "step", 10), "step 10 is smaller"),
        (lambda m: setattr(m, "height", 5), "data length 192 != step x height"),
        (lambda m: setattr(m, "width", 0), "empty image"),
    ],
)
def test_malformed_images_are_named(mutate, message):
    msg = array_to_image(np.zeros((4, 48), np.uint8), "mono8")
    mutate(msg)
    with pytest.raises(ConversionError, match=message):
        image_to_array(msg)


def test_array_to_image_checks_shape_and_dtype():
    with pytest.raises(ConversionError, match="does not fit encoding rgb8"):
        array_to_image(np.zeros((4, 4), np.uint8), "rgb8")
    with pytest.raises(ConversionError, match="dtype float64"):
        array_to_image(np.zeros((4, 4)), "mono8")


def test_pointcloud_round_trip_and_field_selection():
    fields = {name: RNG.normal(size=1000).astype(np.float32) for name in ("x", "y", "z", "intensity")}
    msg = arrays_to_pointcloud(fields, stamp_ns=42, frame_id="left")
    assert [f.name for f in msg.fields] == ["x", "y", "z", "intensity"]
    back = pointcloud_to_arrays(msg, ("x", "y", "z", "intensity"))
    for name, values in fields.items():
        assert np.array_equal(back[name], values)
    only_z = pointcloud_to_arrays(msg, ("z",))
    assert list(only_z) == ["z"]


def test_pointcloud_foreign_layout_float64_padding():
    # A driver's cloud: x, y, z as float64 with 8 padding bytes per point, organised 2 x 3.
    points = RNG.normal(size=(6, 3))
    records = np.zeros((6, 4), dtype="<f8")
    records[:, :3] = points
    msg = PointCloud2(height=2, width=3, point_step=32, row_step=96, is_bigendian=False)
    msg.fields = [
        PointField(name=n, offset=8 * i, datatype=PointField.FLOAT64, count=1) for i, n in enumerate("xyz")
    ]
    msg.data = records.tobytes()
    back = pointcloud_to_arrays(msg)
    assert np.allclose(back["x"], points[:, 0]) and np.allclose(back["z"], points[:, 2])


def test_pointcloud_errors_and_empty():
    msg = arrays_to_pointcloud({"x": np.zeros(3), "y": np.zeros(3)})
    with pytest.raises(ConversionError, match="lacks field"):
        pointcloud_to_arrays(msg)
    msg = arrays_to_pointcloud({"x": np.zeros(3), "y": np.zeros(3), "z": np.zeros(3)})
    msg.width = 4
    with pytest.raises(ConversionError, match="does not match row_step"):
        pointcloud_to_arrays(msg)
    empty = arrays_to_pointcloud({"x": [], "y": [], "z": []})
    assert pointcloud_to_arrays(empty)["x"].size == 0
    with pytest.raises(ConversionError, match="differ in length"):
        arrays_to_pointcloud({"x": np.zeros(3), "y": np.zeros(2)})


@pytest.mark.parametrize("frame_id", ["odom", "map"])
def test_occupancy_grid_round_trip(frame_id):
    costs = RNG.integers(-1, 101, size=(30, 50)).astype(np.int8)
    geometry = GridGeometry(0.1, -2.5, 1.0, 30, 50, frame_id)
    msg = array_to_grid(costs, geometry, stamp_ns=7)
    assert msg.info.width == 50 and msg.info.height == 30 and msg.header.frame_id == frame_id
    back, geo = grid_to_array(msg)
    assert np.array_equal(back, costs) and geo == geometry
    with pytest.raises(ConversionError, match="must lie in -1"):
        array_to_grid(np.full((30, 50), 120), geometry)
    with pytest.raises(ConversionError, match=r"shape \(50, 30\) do not fit a 30x50 grid"):
        array_to_grid(costs.T, geometry)
    msg.info.width = 49
    with pytest.raises(ConversionError, match="data length 1500"):
        grid_to_array(msg)


def test_costmap_round_trip_and_frame():
    costs = RNG.integers(-1, 101, size=(20, 40)).astype(np.int8)
    geometry = GridGeometry(0.1, -2.0, -1.0, 20, 40, "odom")
    back, geo = costmap_to_array(array_to_grid(costs, geometry, stamp_ns=3))
    assert np.array_equal(back, costs) and geo == geometry
    _, geo = costmap_to_array(array_to_grid(costs, GridGeometry(0.1, -2.0, -1.0, 20, 40, "/odom")))
    assert geo.frame_id == "/odom"  # a leading slash names the same frame
    with pytest.raises(ConversionError, match="frame 'map', expected odom"):
        costmap_to_array(array_to_grid(costs, GridGeometry(0.1, -2.0, -1.0, 20, 40, "map")))


def test_path_round_trip_faces_the_next_point():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.5]])
    msg = points_to_path(points, stamp_ns=2_000_000_001, frame_id="odom")
    assert msg.header.frame_id == "odom" and stamp_to_ns(msg.header.stamp) == 2_000_000_001
    assert all(
        p.header.frame_id == "odom" and stamp_to_ns(p.header.stamp) == 2_000_000_001 for p in msg.poses
    )
    assert np.array_equal(path_to_points(msg), points)
    headings = [quaternion_to_yaw(pose_to_arrays(p.pose)[1]) for p in msg.poses]
    assert headings == pytest.approx([0.0, math.pi / 2, 3 * math.pi / 4, 3 * math.pi / 4])  # last as before
    single = points_to_path(np.array([[2.0, 3.0]]), 0, "odom")
    assert np.array_equal(path_to_points(single), [[2.0, 3.0]])
    assert quaternion_to_yaw(pose_to_arrays(single.poses[0].pose)[1]) == 0.0
    empty = points_to_path(np.empty((0, 2)), 5, "odom")
    assert empty.poses == [] and path_to_points(empty).shape == (0, 2)
    msg.poses[1].pose.position.y = math.inf
    with pytest.raises(ConversionError, match="NaN or infinite"):
        path_to_points(msg)


def test_occupancy_grids_that_describe_no_grid_raise_conversion_errors():
    def grid(resolution=0.1, origin_x=0.0, rows=3, cols=4) -> OccupancyGrid:
        msg = array_to_grid(np.zeros((3, 4), np.int8), GridGeometry(0.1, 0.0, 0.0, 3, 4))
        msg.info.resolution, msg.info.origin.position.x = resolution, origin_x
        msg.info.height, msg.info.width, msg.data = rows, cols, bytes(rows * cols)
        return msg

    for msg, error in [
        (grid(resolution=0.0), "resolution must be > 0"),
        (grid(resolution=math.nan), "resolution must be > 0"),
        (grid(origin_x=math.inf), "origin must be finite"),
        (grid(rows=0, cols=0), "grid must be non-empty"),
    ]:
        with pytest.raises(ConversionError, match=error):
            grid_to_array(msg)


def test_pose_and_odometry_round_trip():
    q = yaw_to_quaternion(1.2)
    assert quaternion_to_yaw(q) == pytest.approx(1.2)
    pos, quat = pose_to_arrays(arrays_to_pose([1, 2, 3], q * 2))  # normalised on the way back
    assert np.allclose(pos, [1, 2, 3]) and np.allclose(quat, q)
    cov = np.diag(np.arange(1.0, 7.0))
    data = OdometryData(
        5, "odom", "base_link", pos, quat, np.array([0.3, 0, 0]), np.array([0, 0, 0.1]), cov, cov * 2
    )
    back = odometry_to_data(data_to_odometry(data))
    assert back.stamp_ns == 5 and back.child_frame_id == "base_link"
    assert np.allclose(back.pose_covariance, cov) and np.allclose(back.twist_covariance, cov * 2)
    assert np.allclose(back.linear, [0.3, 0, 0])
    bad = arrays_to_pose([math.nan, 0, 0], q)
    with pytest.raises(ConversionError, match="NaN"):
        pose_to_arrays(bad)
    with pytest.raises(ConversionError, match="zero quaternion"):
        pose_to_arrays(arrays_to_pose([0, 0, 0], [0, 0, 0, 0]))


def test_pose_and_matrix_round_trip():
    transform = pose_matrix([1.0, -2.0, 0.5], rpy_to_quaternion(0.1, -0.2, 2.5))
    pose = matrix_to_pose(transform)
    assert pose.orientation.w >= 0
    np.testing.assert_allclose(pose_to_matrix(pose), transform, atol=1e-12)
    with pytest.raises(ConversionError, match="zero quaternion"):
        pose_to_matrix(arrays_to_pose([0, 0, 0], [0, 0, 0, 0]))


def test_stamps():
    assert stamp_to_ns(ns_to_stamp(12_345_678_901)) == 12_345_678_901
    assert stamp_to_sec(sec_to_stamp(3.25)) == pytest.approx(3.25)
    with pytest.raises(ConversionError):
        ns_to_stamp(-1)
