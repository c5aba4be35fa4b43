"""Traversability of the elevation map as a chain of named layers, ending in the rover-centre costmap.

The chain (each step reads the layers above it; units in brackets):

1. ``support`` — elevation of cells trusted for traversability: ``elevation`` where the standard
   deviation is at most ``max_sigma`` and the horizontal error of the data at most
   ``max_horizontal_sigma``, else unknown [m].
2. ``slope`` [rad], ``roughness`` [m], ``unknown`` [0…1] — a least-squares plane z = a + b·x + c·y
   fitted over a square window of ``slope_window`` (the wheelbase scale) around each cell: slope is
   atan(|(b, c)|), roughness the RMS residual of the fit, unknown the fraction of the window without
   support. Fitted with box filters of the moment sums, so the cost does not grow with the window.
3. ``step`` [m] — highest minus lowest support within ``step_window`` (a wheel's contact length).
4. ``traversability`` [0…1] — the per-cell terrain score in grid_map's sense:
   1 − max(slope/max_tilt, step/max_step, roughness/max_roughness), clipped; informative, not used by
   the cost.
5. ``wheel_top``, ``body_top`` [m] — highest support under a wheel patch (``wheel_patch``) and under a
   belly patch (3×3 cells) centred on each cell: what a wheel rests on, what the belly must clear.
6. ``cost`` [0…100], ``tilt`` [rad], ``clearance`` [m], ``heading`` [rad] — the rover-centre clearance
   check of :mod:`rover_autonomy.mapping.clearance` over ``headings`` headings.

:func:`to_costmap` turns ``cost`` into OccupancyGrid values (−1 unknown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from rover_autonomy.mapping import clearance
from rover_autonomy.mapping.grid import ElevationMap


@dataclass(frozen=True)
class TraversabilitySettings:
    max_sigma: float = 0.03  # [m] cells less certain than this do not support the rover
    max_horizontal_sigma: float = 0.1  # [m] nor cells measured only with a coarser horizontal error
    slope_window: float = 1.3  # [m] side of the plane-fit window
    min_fit_support: float = 0.3  # [0…1] smallest known fraction of the window for a plane fit
    step_window: float = 0.3  # [m]
    wheel_patch: float = 0.3  # [m] side of the square a wheel may rest on
    max_roughness: float = 0.10  # [m] roughness that scores traversability 0
    headings: int = 16  # headings evaluated over a full turn
    min_known_body: float = 0.5  # [0…1] smallest known fraction of belly patches for a heading
    refine_tolerance: float = 20.0  # [cost] neighbours agreeing within it are interpolated between


def _cells(length: float, resolution: float) -> int:
    """Odd window size in cells covering ``length`` [m]."""
    n = max(1, round(length / resolution))
    return n if n % 2 else n + 1


def plane_fit(support: np.ndarray, window: int, resolution: float, min_support: float):
    """(slope [rad], roughness [m], unknown fraction) of a least-squares plane over window×window cells."""
    valid = np.isfinite(support)
    # float32 moments (twice as fast) stay well conditioned with heights and cell coordinates taken
    # about the map's centre.
    offset = float(np.mean(support[valid])) if valid.any() else 0.0
    w = valid.astype(np.float32)
    z = np.where(valid, support - offset, 0.0).astype(np.float32)
    rows, cols = support.shape
    yy, xx = np.meshgrid(
        np.arange(rows, dtype=np.float32) - rows / 2,
        np.arange(cols, dtype=np.float32) - cols / 2,
        indexing="ij",
    )

    def mean(a):
        return ndimage.uniform_filter(a, window, mode="constant", cval=0.0)

    n = mean(w)
    enough = n >= min_support
    safe = np.where(enough, n, 1.0)
    mx, my, mz = mean(w * xx) / safe, mean(w * yy) / safe, mean(w * z) / safe
    sxx = mean(w * xx * xx) / safe - mx * mx
    syy = mean(w * yy * yy) / safe - my * my
    sxy = mean(w * xx * yy) / safe - mx * my
    sxz = mean(w * xx * z) / safe - mx * mz
    syz = mean(w * yy * z) / safe - my * mz
    szz = mean(w * z * z) / safe - mz * mz
    det = sxx * syy - sxy * sxy
    enough &= det > 1e-9
    det = np.where(enough, det, 1.0)
    gx = (syy * sxz - sxy * syz) / det
    gy = (sxx * syz - sxy * sxz) / det
    residual = np.maximum(szz - gx * sxz - gy * syz, 0.0)
    slope = np.arctan(np.hypot(gx, gy) / resolution)
    nan = np.float32(np.nan)
    return (
        np.where(enough, slope, nan).astype(np.float32),
        np.where(enough, np.sqrt(residual), nan).astype(np.float32),
        (1.0 - n).astype(np.float32),
    )


def _max_filter(support: np.ndarray, size: int) -> np.ndarray:
    top = ndimage.maximum_filter(
        np.where(np.isfinite(support), support, -np.inf), size, mode="constant", cval=-np.inf
    )
    return np.where(np.isfinite(top), top, np.nan).astype(np.float32)


def _min_filter(support: np.ndarray, size: int) -> np.ndarray:
    low = ndimage.minimum_filter(
        np.where(np.isfinite(support), support, np.inf), size, mode="constant", cval=np.inf
    )
    return np.where(np.isfinite(low), low, np.nan).astype(np.float32)


class TraversabilityChain:
    """Runs the layer chain on an :class:`ElevationMap` for one rover model.

    Incremental, as a Nav2 layer's update_bounds/update_costs: only the cells whose inputs changed since
    the last run (the map's dirty box, grown by the reach of the filters and of the rover footprint) are
    recomputed, on a window with margins wide enough that they come out as a full run would give them.
    """

    def __init__(
        self, geometry: clearance.ClearanceModel, resolution: float, settings: TraversabilitySettings
    ):
        self.geometry = geometry
        self.resolution = resolution
        self.settings = settings
        self.headings = np.arange(settings.headings) * (2 * math.pi / settings.headings)
        s = settings
        patch = max(_cells(s.step_window, resolution), _cells(s.wheel_patch, resolution), 3) // 2
        points = np.vstack([geometry.wheels, geometry.body_samples])
        footprint = math.ceil(np.hypot(points[:, 0], points[:, 1]).max() / resolution) + 1
        # A changed support cell changes filtered layers within `filters` cells, and costs within
        # `patch + footprint` cells; computing those needs inputs a further `filters + footprint` out.
        self.filters = max(_cells(s.slope_window, resolution) // 2, patch)
        self.reach = max(self.filters, patch + footprint)
        self.margin = self.filters + footprint + 1

    def run(self, grid: ElevationMap, full: bool = False) -> None:
        """Bring the traversability layers of ``grid`` up to date with its elevation."""
        rows, cols = grid.shape
        box = grid.take_dirty()
        if full or "cost" not in grid.layers:
            box = (0, rows, 0, cols)
        if box is None:
            return
        r0, r1, c0, c1 = box
        # Output region: the changed cells grown by the reach; input window: that plus a margin.
        o0, o1 = max(r0 - self.reach, 0), min(r1 + self.reach, rows)
        p0, p1 = max(c0 - self.reach, 0), min(c1 + self.reach, cols)
        w0, w1 = max(o0 - self.margin, 0), min(o1 + self.margin, rows)
        v0, v1 = max(p0 - self.margin, 0), min(p1 + self.margin, cols)
        parity = (int(grid.origin_index[1]) + w0, int(grid.origin_index[0]) + v0)  # map-frame row, col
        layers = self._compute(grid, (slice(w0, w1), slice(v0, v1)), parity)
        inner = (slice(o0 - w0, o1 - w0), slice(p0 - v0, p1 - v0))
        for name, values in layers.items():
            if name not in grid.layers:
                grid.add_layer(name)
            grid.layers[name][o0:o1, p0:p1] = values[inner]

    def _compute(self, grid: ElevationMap, window, parity) -> dict[str, np.ndarray]:
        s, res = self.settings, self.resolution
        elevation, variance = grid["elevation"][window], grid["variance"][window]
        trusted = (variance <= s.max_sigma**2) & ~(grid["horizontal_sigma"][window] > s.max_horizontal_sigma)
        support = np.where(trusted, elevation, np.nan).astype(np.float32)
        slope, roughness, unknown = plane_fit(support, _cells(s.slope_window, res), res, s.min_fit_support)
        tops = {}  # max filters by window size: step, wheel and belly windows are often the same

        def top(size):
            if size not in tops:
                tops[size] = _max_filter(support, size)
            return tops[size]

        step_size = _cells(s.step_window, res)
        step = top(step_size) - _min_filter(support, step_size)
        g = self.geometry
        score = np.fmax(np.fmax(slope / g.max_tilt, step / g.max_step), roughness / s.max_roughness)
        traversability = np.clip(1.0 - score, 0.0, 1.0).astype(np.float32)
        wheel_top = top(_cells(s.wheel_patch, res))
        body_top = top(3)
        check = clearance.evaluate(
            wheel_top,
            step,
            body_top,
            np.isfinite(support),
            g,
            res,
            self.headings,
            s.min_known_body,
            parity=parity,
        )
        return {
            "slope": slope, "roughness": roughness, "unknown": unknown, "step": step,
            "traversability": traversability, "wheel_top": wheel_top, "body_top": body_top, **check,
        }  # fmt: skip


def to_costmap(cost: np.ndarray) -> np.ndarray:
    """int8 OccupancyGrid values: rounded cost, 100 lethal only where the check said lethal, −1 unknown."""
    out = np.full(cost.shape, -1, np.int8)
    known = np.isfinite(cost)
    values = np.minimum(np.ceil(cost[known]), 100.0)
    values[cost[known] < clearance.LETHAL] = np.minimum(values[cost[known] < clearance.LETHAL], 99)
    out[known] = values.astype(np.int8)
    return out
