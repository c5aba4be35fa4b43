"""Rotations and frame transforms, in one place: REP-103 conventions, ROS quaternion order (x, y, z, w).

Fixed-axis roll, pitch, yaw compose as R = Rz(yaw) Ry(pitch) Rx(roll) [rad]. The closed forms below are
what the odometry filter, the mapper, the simulator and the synthetic test drives evaluate at every
sample; they are exact transcriptions of the textbook formulas (tests check each against transforms3d)
and faster than a general routine, and replays compare outputs bit for bit, so their arithmetic is
fixed. Conversions that no hot path needs (rotation matrix to quaternion) call transforms3d.

Planar frames: :class:`Pose2D` maps points between a child frame and its parent (odom and map);
:class:`GridGeometry` maps points to the cells of an axis-aligned grid (costmaps, OccupancyGrid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import transforms3d

# -- rotations -------------------------------------------------------------------------------------


def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(3, 3) rotation matrix of fixed-axis roll, pitch, yaw [rad]."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def rpy_to_quaternion(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(x, y, z, w) of fixed-axis roll, pitch, yaw [rad]."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return np.array(
        [
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
            cr * cp * cy + sr * sp * sy,
        ]
    )


def yaw_to_quaternion(yaw: float) -> np.ndarray:
    """(x, y, z, w) of a rotation about z by ``yaw`` [rad]."""
    return np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])


def quaternion_to_yaw(q) -> float:
    """Yaw [rad] of a unit quaternion (x, y, z, w): the heading of its x axis in the parent's x-y plane."""
    x, y, z, w = q
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def quaternion_to_matrix(q) -> np.ndarray:
    """(3, 3) rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_rpy(rotation) -> np.ndarray:
    """(roll, pitch, yaw) [rad] of a (3, 3) rotation matrix, pitch in [-pi/2, pi/2]."""
    return np.array(
        [
            math.atan2(rotation[2, 1], rotation[2, 2]),
            -math.asin(max(-1.0, min(1.0, rotation[2, 0]))),
            math.atan2(rotation[1, 0], rotation[0, 0]),
        ]
    )


def matrix_to_quaternion(rotation) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0 of a (3, 3) rotation matrix."""
    w, x, y, z = transforms3d.quaternions.mat2quat(np.asarray(rotation, dtype=float)[:3, :3])
    return np.array([x, y, z, w])


def slerp(q0: np.ndarray, q1: np.ndarray, fraction: float) -> np.ndarray:
    """Spherical interpolation between unit quaternions along the shorter arc (fraction 0 -> q0, 1 -> q1)."""
    dot = float(np.dot(q0, q1))
    if dot < 0:  # shortest arc
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly parallel: linear interpolation avoids dividing by sin(theta) ~ 0
        q = q0 + fraction * (q1 - q0)
    else:
        theta = math.acos(dot)
        q = (math.sin((1 - fraction) * theta) * q0 + math.sin(fraction * theta) * q1) / math.sin(theta)
    return q / np.linalg.norm(q)


def rotation_angle(q0: np.ndarray, q1: np.ndarray) -> float:
    """Angle [rad] of the rotation between two unit quaternions."""
    return 2 * math.acos(min(1.0, abs(float(np.dot(q0, q1)))))


def pose_matrix(position, quaternion) -> np.ndarray:
    """(4, 4) homogeneous transform of a position [m] and unit quaternion (x, y, z, w)."""
    transform = np.eye(4)
    transform[:3, :3] = quaternion_to_matrix(quaternion)
    transform[:3, 3] = position
    return transform


# -- planar frames ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose2D:
    """The planar pose of a child frame in its parent, e.g. ``odom`` in ``map`` (the rover's start pose).

    x, y: the child's origin in the parent [m]; yaw: the child's x axis from the parent's [rad].
    """

    x: float
    y: float
    yaw: float

    def to_parent(self, points) -> np.ndarray:
        """(N, 2) points of the child frame expressed in the parent (odom -> map)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return np.stack(
            [self.x + c * pts[:, 0] - s * pts[:, 1], self.y + s * pts[:, 0] + c * pts[:, 1]], axis=1
        )

    def to_child(self, x: float | np.ndarray, y: float | np.ndarray) -> tuple:
        """A point of the parent frame expressed in the child (map -> odom); x, y [m] may be arrays."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = x - self.x, y - self.y
        return c * dx + s * dy, -s * dx + c * dy


@dataclass(frozen=True)
class GridGeometry:
    """Where an axis-aligned grid lies in ``frame_id``: cell (row, col) covers
    [origin_x + col·res, origin_x + (col+1)·res) × [origin_y + row·res, origin_y + (row+1)·res).

    Arrays on the grid index as ``costs[row, col]`` = ``costs[y, x]`` (the OccupancyGrid order).
    resolution: cell size [m]; origin_x, origin_y: the corner of cell (0, 0) [m]. Raises ValueError when
    the resolution is not positive, the origin not finite or the grid empty.
    """

    resolution: float
    origin_x: float
    origin_y: float
    height: int  # rows (y)
    width: int  # columns (x)
    frame_id: str = "odom"

    def __post_init__(self):
        if not (math.isfinite(self.resolution) and self.resolution > 0):
            raise ValueError(f"resolution must be > 0, got {self.resolution}")
        if not (math.isfinite(self.origin_x) and math.isfinite(self.origin_y)):
            raise ValueError("origin must be finite")
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"grid must be non-empty, got {self.height}x{self.width}")

    def to_cell(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, col) of the cell holding the point, or None if outside the grid or not finite."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        col = math.floor((x - self.origin_x) / self.resolution)
        row = math.floor((y - self.origin_y) / self.resolution)
        if 0 <= row < self.height and 0 <= col < self.width:
            return row, col
        return None

    def cell_centres(self, cells: np.ndarray) -> np.ndarray:
        """(N, 2) (x, y) of the centres of (N, 2) (row, col) cells [m]."""
        cells = np.asarray(cells).reshape(-1, 2)
        x = self.origin_x + (cells[:, 1] + 0.5) * self.resolution
        y = self.origin_y + (cells[:, 0] + 0.5) * self.resolution
        return np.column_stack([x, y])
