"""All conversions between ROS messages and numpy arrays, in one place (vectorised, no pixel loops).

Every ``to_*`` has a matching ``from_*``; malformed messages raise :class:`ConversionError` with a
message naming the problem, which nodes turn into a throttled warning and a diagnostics status.
Quaternions are (x, y, z, w) as in ROS messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from sensor_msgs.msg import Image, PointCloud2, PointField

from rover_autonomy.geometry import GridGeometry, matrix_to_quaternion, pose_matrix, yaw_to_quaternion


class ConversionError(ValueError):
    """A message cannot be converted: wrong sizes, unknown encoding, missing fields."""


# -- time ------------------------------------------------------------------------------------------


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def ns_to_stamp(ns: int) -> Time:
    if ns < 0:
        raise ConversionError(f"negative time {ns} ns")
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def sec_to_stamp(seconds: float) -> Time:
    return ns_to_stamp(round(seconds * 1e9))


# -- images ----------------------------------------------------------------------------------------

# encoding -> (dtype, channels)
IMAGE_ENCODINGS: dict[str, tuple[str, int]] = {
    "mono8": ("u1", 1),
    "mono16": ("u2", 1),
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "32FC1": ("f4", 1),
}


def image_to_array(msg: Image) -> np.ndarray:
    """(H, W) or (H, W, 3) array viewing an Image's data (copied only when padded or byte-swapped)."""
    if msg.encoding not in IMAGE_ENCODINGS:
        raise ConversionError(
            f"unsupported image encoding {msg.encoding!r} (supported: {', '.join(IMAGE_ENCODINGS)})"
        )
    kind, channels = IMAGE_ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ConversionError(f"empty image ({width}x{height})")
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ConversionError(f"image step {step} is smaller than width x pixel size {row_bytes}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ConversionError(f"image data length {data.size} != step x height = {step} x {height}")
    rows = data.reshape(height, step)[:, :row_bytes]
    array = rows.view(dtype) if rows.flags.c_contiguous else np.ascontiguousarray(rows).view(dtype)
    array = array.reshape((height, width, channels) if channels > 1 else (height, width))
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def array_to_image(array: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = "") -> Image:
    """An Image holding ``array``; its dtype and shape must match ``encoding``."""
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError(f"unsupported image encoding {encoding!r}")
    kind, channels = IMAGE_ENCODINGS[encoding]
    array = np.asarray(array)
    expected_ndim = 3 if channels > 1 else 2
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise ConversionError(f"array of shape {array.shape} does not fit encoding {encoding}")
    if array.dtype != np.dtype(kind):
        raise ConversionError(f"array dtype {array.dtype} does not fit encoding {encoding} ({kind})")
    array = np.ascontiguousarray(array)
    msg = Image()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.strides[0])
    msg.data = array.tobytes()
    return msg


# -- point clouds ----------------------------------------------------------------------------------

_FIELD_DTYPES = {
    PointField.INT8: "i1",
    PointField.UINT8: "u1",
    PointField.INT16: "i2",
    PointField.UINT16: "u2",
    PointField.INT32: "i4",
    PointField.UINT32: "u4",
    PointField.FLOAT32: "f4",
    PointField.FLOAT64: "f8",
}


def pointcloud_to_arrays(
    msg: PointCloud2, fields: tuple[str, ...] = ("x", "y", "z")
) -> dict[str, np.ndarray]:
    """The requested fields of a cloud as float32 (N,) arrays (organised clouds are flattened)."""
    available = {f.name: f for f in msg.fields}
    missing = [name for name in fields if name not in available]
    if missing:
        raise ConversionError(
            f"point cloud lacks field(s) {', '.join(missing)} (has {', '.join(available) or 'none'})"
        )
    count = int(msg.width) * int(msg.height)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if point_step <= 0 and count:
        raise ConversionError(f"point_step {point_step} must be positive")
    if row_step < point_step * int(msg.width) or data.size != row_step * int(msg.height):
        raise ConversionError(
            f"point cloud data length {data.size} does not match row_step {row_step} x height {msg.height}"
            f" for {msg.width} points of {point_step} bytes"
        )
    layout = {}
    for name in fields:
        field = available[name]
        if field.datatype not in _FIELD_DTYPES:
            raise ConversionError(f"point field {name!r} has unknown datatype {field.datatype}")
        if field.offset + np.dtype(_FIELD_DTYPES[field.datatype]).itemsize > point_step:
            raise ConversionError(
                f"point field {name!r} at offset {field.offset} exceeds point_step {point_step}"
            )
        layout[name] = field
    if count == 0:
        return {name: np.zeros(0, np.float32) for name in fields}
    rows = data.reshape(int(msg.height), row_step)[:, : point_step * int(msg.width)]
    records = np.ascontiguousarray(rows).reshape(count, point_step)
    order = ">" if msg.is_bigendian else "<"
    out = {}
    for name, field in layout.items():
        dtype = np.dtype(_FIELD_DTYPES[field.datatype]).newbyteorder(order)
        raw = records[:, field.offset : field.offset + dtype.itemsize]
        out[name] = np.ascontiguousarray(raw).view(dtype).reshape(count).astype(np.float32)
    return out


def arrays_to_pointcloud(fields: dict[str, np.ndarray], stamp_ns: int = 0, frame_id: str = "") -> PointCloud2:
    """An unorganised cloud of float32 fields, in the order given (e.g. x, y, z, intensity)."""
    if not fields:
        raise ConversionError("a point cloud needs at least one field")
    columns = [np.asarray(v, dtype=np.float32).reshape(-1) for v in fields.values()]
    count = columns[0].size
    if any(c.size != count for c in columns):
        raise ConversionError(f"point fields differ in length: {[c.size for c in columns]}")
    return points_to_pointcloud(np.stack(columns, axis=1), tuple(fields), stamp_ns, frame_id)


def points_to_pointcloud(
    points: np.ndarray, names: tuple[str, ...], stamp_ns: int = 0, frame_id: str = ""
) -> PointCloud2:
    """An unorganised cloud from an (N, len(names)) array, one float32 field per column.

    Same message as :func:`arrays_to_pointcloud`, without re-interleaving columns: for producers that
    already hold the points row by row (a stereo cloud of 300k points saves ~1 ms).
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != len(names) or not names:
        raise ConversionError(f"points of shape {points.shape} do not fit fields {', '.join(names)}")
    points = np.ascontiguousarray(points, dtype=np.float32)
    count = points.shape[0]
    msg = PointCloud2()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = 1, count
    msg.fields = [
        PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, name in enumerate(names)
    ]
    msg.is_bigendian = False
    msg.point_step = 4 * len(names)
    msg.row_step = msg.point_step * count
    msg.is_dense = True
    msg.data = points.tobytes() if count else b""
    return msg


# -- occupancy grids -------------------------------------------------------------------------------


def grid_to_array(msg: OccupancyGrid) -> tuple[np.ndarray, GridGeometry]:
    """(H, W) int8 costs (row = y index, col = x index) and the grid geometry. Rotated origins are refused."""
    info = msg.info
    height, width = int(info.height), int(info.width)
    data = np.asarray(msg.data, dtype=np.int8)
    if data.size != width * height:
        raise ConversionError(
            f"occupancy grid data length {data.size} != width x height = {width} x {height}"
        )
    try:
        geometry = GridGeometry(
            float(info.resolution),
            float(info.origin.position.x),
            float(info.origin.position.y),
            height,
            width,
            msg.header.frame_id,
        )
    except ValueError as err:
        raise ConversionError(f"occupancy grid {err}") from err
    q = info.origin.orientation
    if abs(q.z) > 1e-6 or abs(q.x) > 1e-6 or abs(q.y) > 1e-6:
        raise ConversionError("rotated occupancy grid origins are not supported")
    return data.reshape(height, width), geometry


def array_to_grid(costs: np.ndarray, geometry: GridGeometry, stamp_ns: int = 0) -> OccupancyGrid:
    """An OccupancyGrid from (H, W) costs in −1 … 100 (row = y index, col = x index) on ``geometry``."""
    costs = np.asarray(costs)
    if costs.ndim != 2:
        raise ConversionError(f"costs must be 2-D, got shape {costs.shape}")
    if costs.shape != (geometry.height, geometry.width):
        raise ConversionError(
            f"costs of shape {costs.shape} do not fit a {geometry.height}x{geometry.width} grid"
        )
    if costs.size and (costs.min() < -1 or costs.max() > 100):
        raise ConversionError(f"costs must lie in -1 … 100, got {costs.min()} … {costs.max()}")
    msg = OccupancyGrid()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = geometry.frame_id
    msg.info.map_load_time = msg.header.stamp
    msg.info.resolution = float(geometry.resolution)
    msg.info.height, msg.info.width = int(costs.shape[0]), int(costs.shape[1])
    msg.info.origin.position.x = float(geometry.origin_x)
    msg.info.origin.position.y = float(geometry.origin_y)
    msg.info.origin.orientation.w = 1.0
    msg.data = costs.astype(np.int8).reshape(-1).tobytes()
    return msg


# -- poses and odometry ----------------------------------------------------------------------------


def pose_to_arrays(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Position (3,) [m] and unit quaternion (x, y, z, w); rejects NaN and zero quaternions."""
    p, o = pose.position, pose.orientation
    position = np.array([p.x, p.y, p.z], dtype=float)
    quaternion = np.array([o.x, o.y, o.z, o.w], dtype=float)
    if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quaternion))):
        raise ConversionError("pose contains NaN or infinite values")
    norm = float(np.linalg.norm(quaternion))
    if norm < 1e-6:
        raise ConversionError("pose orientation is a zero quaternion")
    return position, quaternion / norm


def arrays_to_pose(position, quaternion) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    o = pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in quaternion)
    return pose


def pose_to_matrix(pose: Pose) -> np.ndarray:
    """4x4 homogeneous transform of a pose (rejects NaN and zero quaternions)."""
    return pose_matrix(*pose_to_arrays(pose))


def matrix_to_pose(transform: np.ndarray) -> Pose:
    """The pose of a 4x4 homogeneous transform (quaternion with w >= 0)."""
    transform = np.asarray(transform)
    return arrays_to_pose(transform[:3, 3], matrix_to_quaternion(transform))


def make_pose_stamped(position, quaternion, stamp_ns: int, frame_id: str) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    msg.pose = arrays_to_pose(position, quaternion)
    return msg


@dataclass(frozen=True)
class OdometryData:
    stamp_ns: int
    frame_id: str
    child_frame_id: str
    position: np.ndarray  # (3,) [m]
    quaternion: np.ndarray  # (4,) x, y, z, w
    linear: np.ndarray  # (3,) [m/s] in the child frame
    angular: np.ndarray  # (3,) [rad/s] in the child frame
    pose_covariance: np.ndarray  # (6, 6)
    twist_covariance: np.ndarray  # (6, 6)


def odometry_to_data(msg: Odometry) -> OdometryData:
    position, quaternion = pose_to_arrays(msg.pose.pose)
    lin, ang = msg.twist.twist.linear, msg.twist.twist.angular
    linear = np.array([lin.x, lin.y, lin.z], dtype=float)
    angular = np.array([ang.x, ang.y, ang.z], dtype=float)
    if not (np.all(np.isfinite(linear)) and np.all(np.isfinite(angular))):
        raise ConversionError("odometry twist contains NaN or infinite values")
    return OdometryData(
        stamp_ns=stamp_to_ns(msg.header.stamp),
        frame_id=msg.header.frame_id,
        child_frame_id=msg.child_frame_id,
        position=position,
        quaternion=quaternion,
        linear=linear,
        angular=angular,
        pose_covariance=np.asarray(msg.pose.covariance, dtype=float).reshape(6, 6),
        twist_covariance=np.asarray(msg.twist.covariance, dtype=float).reshape(6, 6),
    )


def estimate_to_odometry(stamp_ns: int, frame_id: str, child_frame_id: str, estimate) -> Odometry:
    """An Odometry from any estimate with position, quaternion, linear, angular and both covariances
    (the wheel and visual odometry cores' outputs)."""
    return data_to_odometry(
        OdometryData(
            stamp_ns=stamp_ns,
            frame_id=frame_id,
            child_frame_id=child_frame_id,
            position=estimate.position,
            quaternion=estimate.quaternion,
            linear=estimate.linear,
            angular=estimate.angular,
            pose_covariance=estimate.pose_covariance,
            twist_covariance=estimate.twist_covariance,
        )
    )


def data_to_odometry(data: OdometryData) -> Odometry:
    msg = Odometry()
    msg.header.stamp = ns_to_stamp(data.stamp_ns)
    msg.header.frame_id = data.frame_id
    msg.child_frame_id = data.child_frame_id
    msg.pose.pose = arrays_to_pose(data.position, data.quaternion)
    msg.pose.covariance = np.asarray(data.pose_covariance, dtype=float).reshape(36)
    t = msg.twist.twist
    t.linear.x, t.linear.y, t.linear.z = (float(v) for v in data.linear)
    t.angular.x, t.angular.y, t.angular.z = (float(v) for v in data.angular)
    msg.twist.covariance = np.asarray(data.twist_covariance, dtype=float).reshape(36)
    return msg


# -- navigation ------------------------------------------------------------------------------------


def costmap_to_array(msg: OccupancyGrid) -> tuple[np.ndarray, GridGeometry]:
    """:func:`grid_to_array` of a ``terrain/costmap``, which the contract puts in ``odom``: any other frame
    is refused (its inverse is :func:`array_to_grid`)."""
    costs, geometry = grid_to_array(msg)
    if geometry.frame_id.lstrip("/") != "odom":
        raise ConversionError(f"frame {geometry.frame_id!r}, expected odom")
    return costs, geometry


def points_to_path(points: np.ndarray, stamp_ns: int, frame_id: str) -> Path:
    """nav_msgs/Path through (N, 2) points [m], each pose facing the next point (the last as the one
    before it); no points make an empty path."""
    msg = Path()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    if len(points) == 0:
        return msg
    heading = np.arctan2(*np.diff(points, axis=0)[:, ::-1].T) if len(points) > 1 else np.zeros(0)
    heading = np.append(heading, heading[-1] if heading.size else 0.0)
    msg.poses = [
        make_pose_stamped((x, y, 0.0), yaw_to_quaternion(yaw), stamp_ns, frame_id)
        for (x, y), yaw in zip(points.tolist(), heading.tolist(), strict=True)
    ]
    return msg


def path_to_points(msg: Path) -> np.ndarray:
    """(N, 2) positions [m] of a nav_msgs/Path; raises ConversionError on non-finite values."""
    points = np.array([(p.pose.position.x, p.pose.position.y) for p in msg.poses], dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ConversionError("path contains NaN or infinite positions")
    return points
