"""Synthetic rover-centre costmaps for tests, benchmarks and demos of the planners.

They imitate what ``terrain/costmap`` holds (0 free … 99 costly, 100 lethal, −1 unknown, already in
rover-centre cost space) without running the mapping stack:

- rocks: a rock taller than the belly clearance makes every cell within ``rover_radius`` of its edge
  lethal (the rover's centre cannot come closer), then a cost ramp ``margin`` wide; small rocks only add a
  cost bump;
- craters: a lethal rim band (optionally breached) around a bowl whose cost grows towards the rim;
- walls: lethal bands (scarps, ridges) with gaps wider than the rover;
- unknown patches (−1) and a smooth background roughness.

Everything is drawn from a ``numpy.random.Generator`` so a seed reproduces a map exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from rover_autonomy.planning.costs import LETHAL, UNKNOWN


def _disc_window(shape, centre_rc, radius_cells):
    r0 = max(int(centre_rc[0] - radius_cells) - 1, 0)
    r1 = min(int(centre_rc[0] + radius_cells) + 2, shape[0])
    c0 = max(int(centre_rc[1] - radius_cells) - 1, 0)
    c1 = min(int(centre_rc[1] + radius_cells) + 2, shape[1])
    rows, cols = np.ogrid[r0:r1, c0:c1]
    dist = np.hypot(rows - centre_rc[0], cols - centre_rc[1])
    return (slice(r0, r1), slice(c0, c1)), dist


def _ramp(distance_m, inflate_m, margin_m):
    """Rover-centre cost around an obstacle: lethal within ``inflate_m``, then a ramp 99 → 0."""
    cost = np.where(
        distance_m <= inflate_m,
        float(LETHAL),
        np.clip(99.0 * (1.0 - (distance_m - inflate_m) / margin_m), 0.0, 99.0),
    )
    return cost


def random_costmap(
    shape: tuple[int, int],
    resolution: float,
    rng: np.random.Generator,
    *,
    rock_density: float = 0.02,  # tall rocks per m²
    small_rock_density: float = 0.05,  # small rocks per m²
    craters: int = 3,
    walls: int = 2,
    unknown_patches: int = 4,
    rover_radius: float = 0.5,  # [m] how close the rover's centre may come to a tall obstacle
    margin: float = 0.6,  # [m] width of the cost ramp outside the lethal zone
    roughness: float = 15.0,  # peak background cost
) -> np.ndarray:
    """An int8 costmap of ``shape`` (rows = y, cols = x) at ``resolution`` [m/cell]."""
    height, width = shape
    area = height * width * resolution**2
    res = resolution
    lethal_mask = np.zeros(shape, dtype=bool)
    soft = np.zeros(shape, dtype=np.float64)

    # Smooth background roughness: low-pass filtered noise scaled to [0, roughness].
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=2.0 / res)
    noise -= noise.min()
    soft = np.maximum(soft, roughness * noise / max(noise.max(), 1e-12))

    for _ in range(rng.poisson(rock_density * area)):
        centre = rng.uniform((0, 0), shape)
        radius = rng.uniform(0.15, 0.6) / res
        window, dist = _disc_window(shape, centre, radius)
        lethal_mask[window] |= dist <= radius
    for _ in range(rng.poisson(small_rock_density * area)):
        centre = rng.uniform((0, 0), shape)
        reach = rng.uniform(0.3, 0.8) / res
        peak = rng.uniform(20, 70)
        window, dist = _disc_window(shape, centre, reach)
        soft[window] = np.maximum(soft[window], peak * np.clip(1 - dist / reach, 0, 1))
    for _ in range(craters):
        centre = rng.uniform((0, 0), shape)
        radius = rng.uniform(2.0, 8.0) / res
        rim = max(0.3 / res, 1.0)
        window, dist = _disc_window(shape, centre, radius + rim)
        band = np.abs(dist - radius) <= rim / 2
        if rng.random() < 0.5:  # a breach in the rim, wider than the rover
            rows, cols = np.ogrid[window[0], window[1]]
            angle = np.arctan2(rows - centre[0], cols - centre[1])
            breach_dir = rng.uniform(-np.pi, np.pi)
            half_gap = (1.5 / res) / radius
            band &= np.abs(np.angle(np.exp(1j * (angle - breach_dir)))) > half_gap
        lethal_mask[window] |= band
        bowl = np.where(dist < radius, 20.0 + 60.0 * (dist / radius) ** 2, 0.0)
        soft[window] = np.maximum(soft[window], bowl)
    for _ in range(walls):
        _draw_wall(lethal_mask, rng, res)

    distance = ndimage.distance_transform_edt(~lethal_mask) * res
    cost = np.maximum(_ramp(distance, rover_radius, margin), np.minimum(soft, 99.0))
    costmap = np.rint(cost).astype(np.int8)

    for _ in range(unknown_patches):
        centre = rng.uniform((0, 0), shape)
        radius = rng.uniform(1.0, 5.0) / res
        window, dist = _disc_window(shape, centre, radius)
        costmap[window][dist <= radius] = UNKNOWN
    return costmap


def _draw_wall(mask: np.ndarray, rng: np.random.Generator, res: float, gaps: int | None = None) -> None:
    """A straight lethal band across the whole map with ``gaps`` openings 1.5–3 m wide beyond inflation."""
    height, width = mask.shape
    horizontal = rng.random() < 0.5
    along = width if horizontal else height
    across = rng.uniform(0.2, 0.8) * (height if horizontal else width)
    slope = rng.uniform(-0.3, 0.3)
    thickness = rng.uniform(0.2, 0.6) / res
    t = np.arange(along)
    centre_line = across + slope * (t - along / 2)
    open_ = np.zeros(along, dtype=bool)
    gaps = int(rng.integers(1, 4)) if gaps is None else gaps
    for _ in range(gaps):
        # The gap must fit the rover (2 × rover_radius of inflation on each side) plus clearance.
        gap = rng.uniform(2.5, 4.0) / res
        start = rng.uniform(0, along - gap)
        open_[int(start) : int(start + gap)] = True
    offsets = np.arange(-int(np.ceil(thickness / 2)), int(np.ceil(thickness / 2)) + 1)
    for off in offsets:
        line = np.rint(centre_line + off).astype(int)
        keep = (~open_) & (line >= 0) & (line < (height if horizontal else width))
        if horizontal:
            mask[line[keep], t[keep]] = True
        else:
            mask[t[keep], line[keep]] = True


def add_closed_wall(costmap: np.ndarray, row_or_col: int, horizontal: bool, thickness: int = 3) -> np.ndarray:
    """A copy of ``costmap`` split in two by a lethal wall with no gap (an unsolvable case)."""
    out = costmap.copy()
    lo, hi = row_or_col - thickness // 2, row_or_col + thickness // 2 + 1
    if horizontal:
        out[lo:hi, :] = LETHAL
    else:
        out[:, lo:hi] = LETHAL
    return out


def enclose(costmap: np.ndarray, centre_rc: tuple[int, int], radius: int, thickness: int = 3) -> np.ndarray:
    """A copy of ``costmap`` with a closed lethal ring around ``centre_rc`` (an unsolvable case)."""
    out = costmap.copy()
    rows, cols = np.ogrid[: out.shape[0], : out.shape[1]]
    dist = np.hypot(rows - centre_rc[0], cols - centre_rc[1])
    out[np.abs(dist - radius) <= thickness / 2] = LETHAL
    return out
