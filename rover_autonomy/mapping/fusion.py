"""Fusion of 3-D points into the elevation map: a stereo range noise model and a per-cell Kalman update.

Noise model (after Fankhauser et al., "Robot-centric elevation mapping with uncertainty estimates",
CLAWAR 2014, whose stereo sensor model lets σ grow with the square of the distance): a stereo depth z
from disparity d = f·B/z has σ_z = z²·σ_d/(f·B) for a disparity noise σ_d [px]. The error lies along
the viewing ray; per unit depth the ray moves by v = p/z (camera frame), so the point's height error
is σ_z·|v_up| and its horizontal error σ_z·|v_horizontal|, which on terrain of slope s becomes a height
error s·σ_z·|v_horizontal|. Per point: σ_h² = σ_z²·(v_up² + (s·|v_h|)²) + σ_floor². The horizontal
error itself is kept per cell (``horizontal_sigma``): a cell measured only by points smeared over several
cells cannot resolve a rock edge, whatever its height variance says, and traversability does not use it.

Per cell, the points of one cloud are first merged into one measurement. Depth noise at range smears
points along their rays, so a cell on a rock top also receives ground points from in front of the rock,
which would shave the rock. Like elevation_mapping, where the higher of two inconsistent heights wins,
only the upper consistent cluster of a cell's points is kept: points whose upper bound z + t·σ lies
below the second-highest lower bound z − t·σ of the cell (t = ``cluster_sigmas``; the second highest, so
that a single outlier cannot empty a cell) are discarded. The kept points give an inverse-variance mean
with variance 1/Σw, scaled up by the reduced chi-square of the points about that mean when they scatter
more than their noise model allows (mixed surfaces at rock edges, range smearing: the cell is then
known to be uncertain), and floored at ``min_variance`` because points of one cloud share the pose and
calibration error. That measurement is fused with the cell's estimate by a scalar Kalman update; when
the two disagree beyond a Mahalanobis distance (the terrain changed, or the earlier estimate was an
outlier) the prior variance is first inflated just enough to make them consistent, so the newer evidence
pulls the estimate over instead of being ignored.

The per-point work (transform, noise, binning, the cluster test) is one numba pass each, sequential over
the points: the result depends only on the points and their order, never on threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from rover_autonomy.mapping.grid import ElevationMap


@dataclass(frozen=True)
class StereoNoiseModel:
    focal_px: float  # [px] of the rectified images
    baseline: float  # [m]
    disparity_sigma: float = 0.3  # [px] matching noise
    terrain_slope: float = 0.2  # [-] slope that turns horizontal error into height error
    floor_sigma: float = 0.005  # [m] per point, whatever the range

    @property
    def depth_factor(self) -> float:
        """σ_z / z² [1/m]."""
        return self.disparity_sigma / (self.focal_px * self.baseline)

    def height_variance(self, points_cam: np.ndarray, up_cam: np.ndarray) -> np.ndarray:
        """Height variance [m²] of each point (N, 3) given in the camera frame; ``up_cam`` is the
        map's up direction expressed in the camera frame."""
        z = points_cam[:, 2]
        sigma_z = z * z * self.depth_factor
        ray = points_cam / z[:, None]
        v_up = ray @ up_cam
        v_horizontal_sq = np.maximum(np.einsum("ij,ij->i", ray, ray) - v_up * v_up, 0.0)
        return (
            sigma_z * sigma_z * (v_up * v_up + self.terrain_slope**2 * v_horizontal_sq) + self.floor_sigma**2
        )


@dataclass(frozen=True)
class FusionSettings:
    min_variance: float = 1e-4  # [m²] floor of one cloud's measurement of a cell
    mahalanobis_threshold: float = 4.0  # [-] beyond it, the prior is inflated to agree
    max_variance: float = 1.0  # [m²] points noisier than this are not fused
    cluster_sigmas: float = 5.0  # [-] half-width of a cell's upper consistent cluster, in point σ


@dataclass(frozen=True)
class FusionResult:
    points_used: int
    cells_updated: int
    cells_inconsistent: int


@numba.njit(cache=True)
def _project(
    points, rotation, translation, up, depth_factor, slope_sq, floor_sq, near, max_range,
    origin_col, origin_row, resolution, rows, cols, out, variance, horizontal, cells,
):  # fmt: skip
    """Camera-frame points -> map-frame heights, height and horizontal variances and flat cell indices
    (−1 outside the map), keeping usable points (finite, in front of the camera, within range). Returns how many were
    kept (compacted at the front of the outputs)."""
    kept = 0
    max_range_sq = max_range * max_range
    for i in range(points.shape[0]):
        x, y, z = float(points[i, 0]), float(points[i, 1]), float(points[i, 2])
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)) or z <= near:
            continue
        if x * x + y * y + z * z > max_range_sq:
            continue
        sigma_z = z * z * depth_factor
        rx, ry = x / z, y / z
        v_up = rx * up[0] + ry * up[1] + up[2]
        v_h_sq = max(rx * rx + ry * ry + 1.0 - v_up * v_up, 0.0)
        variance[kept] = sigma_z * sigma_z * (v_up * v_up + slope_sq * v_h_sq) + floor_sq
        horizontal[kept] = sigma_z * sigma_z * v_h_sq
        map_x = rotation[0, 0] * x + rotation[0, 1] * y + rotation[0, 2] * z + translation[0]
        map_y = rotation[1, 0] * x + rotation[1, 1] * y + rotation[1, 2] * z + translation[1]
        out[kept] = rotation[2, 0] * x + rotation[2, 1] * y + rotation[2, 2] * z + translation[2]
        col = math.floor(map_x / resolution) - origin_col
        row = math.floor(map_y / resolution) - origin_row
        cells[kept] = row * cols + col if 0 <= row < rows and 0 <= col < cols else -1
        kept += 1
    return kept


def camera_points_to_map(
    points_cam: np.ndarray,
    camera_to_map: np.ndarray,
    noise: StereoNoiseModel,
    near: float,
    max_range: float,
    grid: ElevationMap,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Usable points of a cloud in the camera optical frame as map-frame heights (M,) [m], their
    height and horizontal variances (M,) [m²] and their flat cell indices in ``grid`` (M,) (−1 outside)."""
    points_cam = np.ascontiguousarray(points_cam, dtype=np.float32)
    rotation = np.ascontiguousarray(camera_to_map[:3, :3], dtype=np.float64)
    up_cam = rotation.T @ np.array([0.0, 0.0, 1.0])
    count = points_cam.shape[0]
    out, variance, horizontal = np.empty(count), np.empty(count), np.empty(count)
    cells = np.empty(count, np.int64)
    kept = _project(
        points_cam, rotation, np.ascontiguousarray(camera_to_map[:3, 3], dtype=np.float64), up_cam,
        noise.depth_factor, noise.terrain_slope**2, noise.floor_sigma**2, near, max_range,
        int(grid.origin_index[0]), int(grid.origin_index[1]), grid.resolution, grid.shape[0], grid.shape[1],
        out, variance, horizontal, cells,
    )  # fmt: skip
    return out[:kept], variance[:kept], horizontal[:kept], cells[:kept]


@numba.njit(cache=True)
def _upper_cluster_sums(cells, heights, variances, horizontal, n_cells, sigmas, max_variance):
    """Per cell: Σw, Σw·z, Σw·z² and point count over the upper consistent cluster (module docstring).
    Points with a negative cell, a non-finite height or a variance outside (0, max_variance] are skipped."""
    first = np.full(n_cells, -np.inf)  # highest lower bound z − t·σ
    second = np.full(n_cells, -np.inf)  # second highest
    usable = np.zeros(cells.shape[0], np.bool_)
    for i in range(cells.shape[0]):
        c = cells[i]
        if c < 0 or not math.isfinite(heights[i]) or not 0.0 < variances[i] <= max_variance:
            continue
        usable[i] = True
        low = heights[i] - sigmas * math.sqrt(variances[i])
        if low > first[c]:
            second[c] = first[c]
            first[c] = low
        elif low > second[c]:
            second[c] = low
    sum_w = np.zeros(n_cells)
    sum_wz = np.zeros(n_cells)
    sum_wzz = np.zeros(n_cells)
    sum_horizontal = np.zeros(n_cells)
    count = np.zeros(n_cells, np.int64)
    for i in range(cells.shape[0]):
        c = cells[i]
        if not usable[i] or heights[i] + sigmas * math.sqrt(variances[i]) < second[c]:
            continue
        w = 1.0 / variances[i]
        sum_w[c] += w
        sum_wz[c] += w * heights[i]
        sum_wzz[c] += w * heights[i] * heights[i]
        sum_horizontal[c] += horizontal[i]
        count[c] += 1
    return sum_w, sum_wz, sum_wzz, sum_horizontal, count


def fuse_points(
    grid: ElevationMap,
    points: np.ndarray,
    variances: np.ndarray,
    stamp_ns: int,
    settings: FusionSettings = FusionSettings(),
) -> FusionResult:
    """Fuse points (N, 3) in the map frame [m] with height variances (N,) [m²] into ``grid``."""
    points = np.asarray(points, dtype=np.float64)
    variances = np.asarray(variances, dtype=np.float64)
    row, col, inside = grid.cell_of(points[:, 0], points[:, 1])
    finite = np.isfinite(points).all(axis=1)
    cells = np.where(inside & finite, row * grid.shape[1] + col, -1)
    return fuse_cells(grid, cells, points[:, 2], variances, np.zeros_like(variances), stamp_ns, settings)


def fuse_cells(
    grid: ElevationMap,
    cells: np.ndarray,
    heights: np.ndarray,
    variances: np.ndarray,
    horizontal: np.ndarray,
    stamp_ns: int,
    settings: FusionSettings = FusionSettings(),
) -> FusionResult:
    """Fuse point heights [m] with height and horizontal variances [m²] into their flat cell indices
    (−1: skip). A cell's ``horizontal_sigma`` keeps the finest horizontal resolution it was measured at:
    the RMS horizontal error of the points of its best cloud."""
    if cells.size == 0:
        return FusionResult(0, 0, 0)
    rows, cols = grid.shape
    sum_w, sum_wz, sum_wzz, sum_horizontal, counts = _upper_cluster_sums(
        np.ascontiguousarray(cells, dtype=np.int64), np.ascontiguousarray(heights, dtype=np.float64),
        np.ascontiguousarray(variances, dtype=np.float64), np.ascontiguousarray(horizontal, dtype=np.float64),
        rows * cols, settings.cluster_sigmas, settings.max_variance,
    )  # fmt: skip
    touched = np.flatnonzero(counts)
    if touched.size == 0:
        return FusionResult(0, 0, 0)
    sum_w, counts = sum_w[touched], counts[touched]
    measured = sum_wz[touched] / sum_w
    # Reduced chi-square of the kept points about their mean: > 1 when they scatter more than their
    # noise model says (surfaces mixed by smearing, rock edges), which scales the variance up.
    scatter = np.maximum(sum_wzz[touched] - sum_wz[touched] * measured, 0.0)
    chi_square = np.where(counts > 1, scatter / np.maximum(counts - 1, 1), 1.0)
    measured_var = np.maximum(np.maximum(chi_square, 1.0) / sum_w, settings.min_variance)

    if grid.t0_ns is None:
        grid.t0_ns = int(stamp_ns)
    elevation = grid["elevation"].reshape(-1)
    variance = grid["variance"].reshape(-1)
    prior = elevation[touched].astype(np.float64)
    prior_var = variance[touched].astype(np.float64)
    new = ~np.isfinite(prior)
    innovation = np.where(new, 0.0, measured - prior)
    limit_sq = settings.mahalanobis_threshold**2
    inconsistent = ~new & (innovation * innovation > limit_sq * (prior_var + measured_var))
    prior_var = np.where(inconsistent, innovation * innovation / limit_sq - measured_var, prior_var)
    gain = np.where(new, 1.0, prior_var / (prior_var + measured_var))
    elevation[touched] = np.where(new, measured, prior + gain * innovation)
    variance[touched] = np.where(new, measured_var, (1.0 - gain) * prior_var)
    grid["count"].reshape(-1)[touched] += counts
    touched_rows, touched_cols = np.divmod(touched, cols)
    grid.mark_dirty(
        int(touched_rows.min()),
        int(touched_rows.max()) + 1,
        int(touched_cols.min()),
        int(touched_cols.max()) + 1,
    )
    grid["time"].reshape(-1)[touched] = (stamp_ns - grid.t0_ns) * 1e-9
    resolution = grid["horizontal_sigma"].reshape(-1)
    measured_horizontal = np.sqrt(sum_horizontal[touched] / counts)
    resolution[touched] = np.fmin(resolution[touched], measured_horizontal)
    return FusionResult(int(counts.sum()), int(touched.size), int(inconsistent.sum()))
