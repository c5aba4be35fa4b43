"""Raster geometry shared by the generator and the loader: node-registered grids in the ``map`` frame.

Array element ``[row, col]`` is the sample AT the node x = origin_x + col·resolution,
y = origin_y + row·resolution (rows go north, +y; columns go east, +x). Between nodes the surface is
bilinear. This is the convention of MuJoCo height fields and of Gazebo heightmaps (samples span the
whole extent, first and last node on the border), so exporting needs no half-cell shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    origin: tuple[float, float]  # [m] map coordinates of node [0, 0]
    resolution: float  # [m] node spacing
    shape: tuple[int, int]  # (rows along y, cols along x)

    @classmethod
    def square(cls, size: float, resolution: float) -> Grid:
        """A grid centred on the map origin covering [-size/2, size/2]² (size a multiple of resolution)."""
        n = round(size / resolution) + 1
        half = (n - 1) * resolution / 2
        return cls((-half, -half), resolution, (n, n))

    @property
    def xs(self) -> np.ndarray:
        return self.origin[0] + np.arange(self.shape[1]) * self.resolution

    @property
    def ys(self) -> np.ndarray:
        return self.origin[1] + np.arange(self.shape[0]) * self.resolution

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) [m] of the nodes."""
        return (
            self.origin[0],
            self.origin[0] + (self.shape[1] - 1) * self.resolution,
            self.origin[1],
            self.origin[1] + (self.shape[0] - 1) * self.resolution,
        )

    def to_index(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of map points."""
        col = (np.asarray(x, dtype=float) - self.origin[0]) / self.resolution
        row = (np.asarray(y, dtype=float) - self.origin[1]) / self.resolution
        return row, col

    def contains(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        row, col = self.to_index(x, y)
        return (row >= 0) & (row <= self.shape[0] - 1) & (col >= 0) & (col <= self.shape[1] - 1)

    def bilinear(self, values: np.ndarray, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Bilinear sample of ``values`` at map points; NaN outside the grid."""
        row, col = self.to_index(x, y)
        row, col = np.broadcast_arrays(row, col)
        inside = self.contains(x, y)
        r = np.clip(row, 0, self.shape[0] - 1)
        c = np.clip(col, 0, self.shape[1] - 1)
        r0 = np.minimum(np.floor(r).astype(np.intp), self.shape[0] - 2)
        c0 = np.minimum(np.floor(c).astype(np.intp), self.shape[1] - 2)
        tr, tc = r - r0, c - c0
        v = values.astype(np.float64, copy=False)
        out = (
            v[r0, c0] * (1 - tr) * (1 - tc)
            + v[r0, c0 + 1] * (1 - tr) * tc
            + v[r0 + 1, c0] * tr * (1 - tc)
            + v[r0 + 1, c0 + 1] * tr * tc
        )
        return np.where(inside, out, np.nan)
