"""Fusion of 3-D points into the elevation map: a stereo range noise model and a per-cell Kalman update.

Noise model (after Fankhauser et al., "Robot-centric elevation mapping with uncertainty estimates",
CLAWAR 2014, whose stereo sensor model lets σ grow with the square of the distance): a stereo depth z
from disparity d = f·B/z has σ_z = z²·σ_d/(f·B) for a disparity noise σ_d [px]. The error lies along
the viewing ray; per unit depth the ray moves by v = p/z (camera frame), so the point's height error
is σ_z·|v_up| and its horizontal error σ_z·|v_horizontal|, which on terrain of slope s becomes a height
error s·σ_z·|v_horizontal|. Per point: σ_h² = σ_z²·(v_up² + (s·|v_h|)²) + σ_floor².

Per cell, the points of one cloud are first merged into one measurement (inverse-variance mean, variance
1/Σw floored at ``min_variance`` because points of one cloud share the pose and calibration error), then
fused with the cell's estimate by a scalar Kalman update. When the two disagree beyond a Mahalanobis
distance threshold (the terrain changed, or the earlier estimate was an outlier) the prior variance is
first inflated just enough to make them consistent, so the newer evidence pulls the estimate over
instead of being ignored. All steps are vectorised (bincount over cell indices): the result does not
depend on point order beyond float rounding of the sums, which numpy computes sequentially.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rover_autonomy.mapping.grid import ElevationMap


@dataclass(frozen=True)
class StereoNoiseModel:
    focal_px: float  # [px] of the rectified images
    baseline: float  # [m]
    disparity_sigma: float = 0.3  # [px] matching noise
    terrain_slope: float = 0.2  # [-] slope that turns horizontal error into height error
    floor_sigma: float = 0.005  # [m] per point, whatever the range

    def height_variance(self, points_cam: np.ndarray, up_cam: np.ndarray) -> np.ndarray:
        """Height variance [m²] of each point (N, 3) given in the camera frame; ``up_cam`` is the
        map's up direction expressed in the camera frame."""
        z = points_cam[:, 2]
        sigma_z = z * z * (self.disparity_sigma / (self.focal_px * self.baseline))
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


@dataclass(frozen=True)
class FusionResult:
    points_used: int
    cells_updated: int
    cells_inconsistent: int


def fuse_points(
    grid: ElevationMap,
    points: np.ndarray,
    variances: np.ndarray,
    stamp_ns: int,
    settings: FusionSettings = FusionSettings(),
) -> FusionResult:
    """Fuse points (N, 3) in the map frame [m] with height variances (N,) [m²] into ``grid``."""
    finite = np.isfinite(points).all(axis=1) & np.isfinite(variances) & (variances > 0)
    finite &= variances <= settings.max_variance
    row, col, inside = grid.cell_of(points[:, 0], points[:, 1])
    use = finite & inside
    if not use.any():
        return FusionResult(0, 0, 0)
    rows, cols = grid.shape
    flat = (row[use] * cols + col[use]).astype(np.intp)
    weight = 1.0 / variances[use].astype(np.float64)
    heights = points[use, 2].astype(np.float64)
    sum_w = np.bincount(flat, weight, minlength=rows * cols)
    cells = np.flatnonzero(sum_w)
    sum_w = sum_w[cells]
    measured = np.bincount(flat, weight * heights, minlength=rows * cols)[cells] / sum_w
    measured_var = np.maximum(1.0 / sum_w, settings.min_variance)
    counts = np.bincount(flat, minlength=rows * cols)[cells]

    if grid.t0_ns is None:
        grid.t0_ns = int(stamp_ns)
    elevation = grid["elevation"].reshape(-1)
    variance = grid["variance"].reshape(-1)
    prior = elevation[cells].astype(np.float64)
    prior_var = variance[cells].astype(np.float64)
    new = ~np.isfinite(prior)
    innovation = np.where(new, 0.0, measured - prior)
    limit_sq = settings.mahalanobis_threshold**2
    inconsistent = ~new & (innovation * innovation > limit_sq * (prior_var + measured_var))
    prior_var = np.where(inconsistent, innovation * innovation / limit_sq - measured_var, prior_var)
    gain = np.where(new, 1.0, prior_var / (prior_var + measured_var))
    elevation[cells] = np.where(new, measured, prior + gain * innovation)
    variance[cells] = np.where(new, measured_var, (1.0 - gain) * prior_var)
    grid["count"].reshape(-1)[cells] += counts
    grid["time"].reshape(-1)[cells] = (stamp_ns - grid.t0_ns) * 1e-9
    return FusionResult(int(use.sum()), int(cells.size), int(inconsistent.sum()))
