"""Disparity to 3-D points in the left rectified optical frame, with depth limits and down-sampling.

Triangulation of a rectified pair (as cv2.reprojectImageTo3D with the Q matrix of cv2.stereoRectify):
``Z = fx * B / (d - (cx - cx_right))``, ``X = (u - cx) Z / fx``, ``Y = (v - cy) Z / fy``
(x right, y down, z forward: the optical frame of REP-103).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from rover_autonomy.perception.camera import StereoGeometry

# Columns of the (N, 4) float32 point array, in PointCloud2 field order.
FIELDS = ("x", "y", "z", "intensity")


@dataclass(frozen=True)
class CloudParams:
    min_depth: float = 0.2  # [m] nearer points are dropped
    max_depth: float = 30.0  # [m] farther points are dropped (depth error grows with depth squared)
    point_stride: int = 1  # [px] keep every n-th row and column
    voxel_size: float = 0.0  # [m] > 0: one point (the centroid) per voxel

    def validate(self) -> None:
        if not 0.0 <= self.min_depth < self.max_depth:
            raise ValueError(f"need 0 <= min_depth < max_depth, got {self.min_depth}, {self.max_depth}")
        if self.point_stride < 1:
            raise ValueError(f"point_stride must be >= 1, got {self.point_stride}")
        if self.voxel_size < 0.0:
            raise ValueError(f"voxel_size must be >= 0, got {self.voxel_size}")


@numba.njit(cache=True, nogil=True)
def _triangulate(disparity, intensity, stride, fx, fy, cx, cy, offset, fb, min_z, max_z):  # pragma: no cover
    # Count, then fill an array of the exact size: at 640x480 fresh pages of an oversized buffer
    # cost more than the counting pass. (Serial: a parallel version was slower here, and numba's
    # OpenMP workers spin after a parallel region, slowing OpenCV's matcher threads.)
    # The depth range as a disparity range: z in [min_z, max_z] <=> d - offset in [fb/max_z, fb/min_z].
    low = offset + fb / max_z
    high = offset + fb / min_z if min_z > 0.0 else np.inf
    height, width = disparity.shape
    n = 0
    for v in range(0, height, stride):
        for u in range(0, width, stride):
            d = disparity[v, u]
            if low <= d <= high and d > offset:  # NaN fails every comparison
                n += 1
    out = np.empty((n, 4), np.float32)
    n = 0
    for v in range(0, height, stride):
        y_over_z = (v - cy) / fy
        for u in range(0, width, stride):
            d = disparity[v, u]
            if low <= d <= high and d > offset:
                z = fb / (d - offset)
                out[n, 0] = (u - cx) / fx * z
                out[n, 1] = y_over_z * z
                out[n, 2] = z
                out[n, 3] = intensity[v, u]
                n += 1
    return out


def disparity_to_points(
    disparity: np.ndarray, intensity: np.ndarray, geometry: StereoGeometry, params: CloudParams
) -> np.ndarray:
    """(N, 4) float32 [x, y, z, intensity] of the valid disparities within the depth range."""
    if disparity.shape != intensity.shape[:2]:
        raise ValueError(f"disparity {disparity.shape} and intensity {intensity.shape} differ in size")
    points = _triangulate(
        disparity,
        intensity,
        params.point_stride,
        geometry.fx,
        geometry.fy,
        geometry.cx,
        geometry.cy,
        geometry.disparity_offset,
        geometry.fx * geometry.baseline,
        params.min_depth,
        params.max_depth,
    )
    if params.voxel_size > 0.0:
        points = voxel_downsample(points, params.voxel_size)
    return points


def voxel_downsample(points: np.ndarray, voxel_size: float) -> np.ndarray:
    """Centroid (of every column, intensity included) of the points in each occupied voxel [m]."""
    if len(points) == 0:
        return points
    cells = np.floor(points[:, :3] / voxel_size).astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    centroids = np.empty((len(counts), points.shape[1]), np.float32)
    for column in range(points.shape[1]):
        centroids[:, column] = np.bincount(inverse, weights=points[:, column], minlength=len(counts)) / counts
    return centroids
