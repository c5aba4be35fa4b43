"""A rolling 2.5D grid map with named float32 layers, in the spirit of grid_map (ANYbotics).

Cell (row, col) covers x ∈ [origin_x + col·res, origin_x + (col+1)·res) and likewise y with row, so
arrays index as ``layer[row, col]`` = ``layer[y, x]`` (the OccupancyGrid order). The origin is kept on
multiples of the resolution: :meth:`ElevationMap.move_to` shifts the window by whole cells and the data
stay fixed in the map frame (as grid_map's ``move()``); cells entering the window are unknown.
NaN means unknown in every float layer; ``count`` is 0 for never-observed cells.
"""

from __future__ import annotations

import math

import numpy as np

from rover_autonomy.geometry import GridGeometry

# Layers written by fusion: elevation [m], variance [m²], count [points fused], time [s since t0_ns],
# horizontal_sigma [m] (finest horizontal error of the points a cell was measured with).
FUSION_LAYERS = ("elevation", "variance", "count", "time", "horizontal_sigma")


class ElevationMap:
    """Named float32 layers over a square-celled window that can move with the rover."""

    def __init__(self, length_x: float, length_y: float, resolution: float, centre=(0.0, 0.0)):
        if not (resolution > 0 and length_x >= resolution and length_y >= resolution):
            raise ValueError(f"invalid map geometry {length_x} x {length_y} m at {resolution} m")
        self.resolution = float(resolution)  # [m/cell]
        self.shape = (round(length_y / resolution), round(length_x / resolution))  # (rows, cols)
        self.origin_index = self._origin_for(centre)  # (col, row) index of cell (0, 0) in the frame
        self.t0_ns: int | None = None  # reference of the time layer
        # Cells changed since the last take_dirty(): (row0, row1, col0, col1), half-open, or None.
        self.dirty: tuple[int, int, int, int] | None = None
        self.layers: dict[str, np.ndarray] = {}
        for name in FUSION_LAYERS:
            self.add_layer(name, 0.0 if name == "count" else math.nan)

    # -- geometry ------------------------------------------------------------------------------
    def _origin_for(self, centre) -> np.ndarray:
        rows, cols = self.shape
        return np.array(
            [
                round(centre[0] / self.resolution - cols / 2),
                round(centre[1] / self.resolution - rows / 2),
            ],
            dtype=np.int64,
        )

    @property
    def origin(self) -> np.ndarray:
        """(x, y) of the corner of cell (0, 0) [m]."""
        return self.origin_index * self.resolution

    def geometry(self, frame_id: str = "odom") -> GridGeometry:
        """The window as it lies now, in ``frame_id``: the geometry of the costmap published from it."""
        x, y = (float(v) for v in self.origin)
        return GridGeometry(self.resolution, x, y, *self.shape, frame_id=frame_id)

    @property
    def centre(self) -> np.ndarray:
        rows, cols = self.shape
        return self.origin + 0.5 * self.resolution * np.array([cols, rows])

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """x of each column and y of each row [m]."""
        rows, cols = self.shape
        x = self.origin[0] + (np.arange(cols) + 0.5) * self.resolution
        y = self.origin[1] + (np.arange(rows) + 0.5) * self.resolution
        return x, y

    def cell_of(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, inside) of points [m]; row/col are only meaningful where ``inside``."""
        col = np.floor(np.asarray(x) / self.resolution).astype(np.int64) - self.origin_index[0]
        row = np.floor(np.asarray(y) / self.resolution).astype(np.int64) - self.origin_index[1]
        inside = (row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1])
        return row, col, inside

    # -- layers --------------------------------------------------------------------------------
    def add_layer(self, name: str, fill: float = math.nan) -> np.ndarray:
        self.layers[name] = np.full(self.shape, fill, dtype=np.float32)
        return self.layers[name]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.layers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.layers

    @property
    def known(self) -> np.ndarray:
        return np.isfinite(self.layers["elevation"])

    def clear(self) -> None:
        for name, layer in self.layers.items():
            layer.fill(0.0 if name == "count" else math.nan)
        self.t0_ns = None
        self.mark_dirty(0, self.shape[0], 0, self.shape[1])

    def mark_dirty(self, row0: int, row1: int, col0: int, col1: int) -> None:
        """Grow the changed box by rows [row0, row1) and columns [col0, col1)."""
        if self.dirty is not None:
            r0, r1, c0, c1 = self.dirty
            row0, row1, col0, col1 = min(row0, r0), max(row1, r1), min(col0, c0), max(col1, c1)
        self.dirty = (row0, row1, col0, col1)

    def take_dirty(self) -> tuple[int, int, int, int] | None:
        """The box changed since the last call (None: nothing changed), and forget it."""
        dirty, self.dirty = self.dirty, None
        return dirty

    def move_to(self, centre) -> tuple[int, int]:
        """Recentre the window on ``centre`` (x, y) [m]; returns the shift in (cols, rows)."""
        new_origin = self._origin_for(centre)
        shift_col, shift_row = (int(v) for v in new_origin - self.origin_index)
        if shift_col == 0 and shift_row == 0:
            return 0, 0
        rows, cols = self.shape
        for name, layer in self.layers.items():
            moved = np.full_like(layer, 0.0 if name == "count" else math.nan)
            # New cell (r, c) holds old cell (r + shift_row, c + shift_col).
            src_r = slice(max(shift_row, 0), rows + min(shift_row, 0))
            dst_r = slice(max(-shift_row, 0), rows + min(-shift_row, 0))
            src_c = slice(max(shift_col, 0), cols + min(shift_col, 0))
            dst_c = slice(max(-shift_col, 0), cols + min(-shift_col, 0))
            if abs(shift_row) < rows and abs(shift_col) < cols:
                moved[dst_r, dst_c] = layer[src_r, src_c]
            self.layers[name] = moved
        self.origin_index = new_origin
        if self.dirty is not None:  # the changed box moves with the data
            r0, r1, c0, c1 = self.dirty
            r0, r1 = max(r0 - shift_row, 0), min(r1 - shift_row, rows)
            c0, c1 = max(c0 - shift_col, 0), min(c1 - shift_col, cols)
            self.dirty = (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None
        return shift_col, shift_row
