"""Craters: power-law size-frequency sampling and radial profiles of simple craters.

Size-frequency: the cumulative number per m² is N(>=D) = c_eq·D^-2 (equilibrium) below the crossover
diameter D_x and N(D_x)·(D/D_x)^-2.8 (production) above it (see ``planets``). Diameters are drawn by
inverting this distribution between ``min_diameter`` and ``max_diameter``.

Profile, in r/R (R = D/2), rim-to-floor depth d and rim height h:

- interior: paraboloid bowl z = h - d·(1 - (r/R)²), floor at h - d, rim crest at h (Pike 1977);
- exterior: ejecta blanket thinning as (r/R)^-3 (McGetchin et al. 1973), shifted so it reaches 0 at 3R;
- degradation: d/D falls from 0.2 (fresh) towards ``MIN_DEPTH_RATIO``; rim height falls in proportion
  and the profile is rounded by a Gaussian in r/R whose width grows with degradation (diffusive
  slope relaxation, Soderblom 1970).

The recorded ``depth`` is the rim-to-floor depth d of the designed profile (before rounding, which
lowers the rim a little); ``rim_height`` is h.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rover_autonomy.worlds.planets import (
    EQUILIBRIUM_SLOPE,
    FRESH_DEPTH_RATIO,
    FRESH_RIM_RATIO,
    MIN_DEPTH_RATIO,
    PRODUCTION_SLOPE,
    Planet,
)

EJECTA_EXTENT = 3.0  # [R] ejecta thins to zero at three crater radii
CRATER_DTYPE = np.dtype(
    [
        ("x", "f8"),
        ("y", "f8"),
        ("diameter", "f8"),
        ("depth", "f8"),
        ("rim_height", "f8"),
        ("degradation", "f8"),
    ]
)
_PROFILE_SAMPLES = 301  # samples of the radial profile over [0, EJECTA_EXTENT]


def cumulative_density(planet: Planet, diameter: np.ndarray | float) -> np.ndarray:
    """N(>=D): craters per m² with diameter at least D [m]."""
    d = np.asarray(diameter, dtype=float)
    cross = planet.crater_crossover
    eq = planet.crater_eq_coeff * d**-EQUILIBRIUM_SLOPE
    at_cross = planet.crater_eq_coeff * cross**-EQUILIBRIUM_SLOPE
    prod = at_cross * (d / cross) ** -PRODUCTION_SLOPE
    return np.where(d <= cross, eq, prod)


def sample_craters(
    rng: np.random.Generator,
    planet: Planet,
    extent: tuple[float, float, float, float],
    min_diameter: float,
    max_diameter: float,
) -> np.ndarray:
    """Crater centres uniform over ``extent`` (xmin, xmax, ymin, ymax) and a little beyond it.

    Centres are drawn over the extent grown by the largest ejecta radius, so craters just outside the
    world still leave their rims and ejecta inside it, as on a real surface.
    """
    out = np.zeros(0, CRATER_DTYPE)
    if max_diameter <= min_diameter:
        return out
    margin = EJECTA_EXTENT * max_diameter / 2  # then each crater is kept if its own ejecta reaches in
    xmin, xmax, ymin, ymax = extent[0] - margin, extent[1] + margin, extent[2] - margin, extent[3] + margin
    area = (xmax - xmin) * (ymax - ymin)
    n_min, n_max = cumulative_density(planet, [min_diameter, max_diameter])
    count = rng.poisson(area * (n_min - n_max))
    # Inverse transform: N(>=D) is monotone, tabulate it on a log grid and interpolate its inverse.
    grid = np.geomspace(min_diameter, max_diameter, 512)
    cum = cumulative_density(planet, grid)
    target = n_min - rng.random(count) * (n_min - n_max)
    diameters = np.exp(np.interp(-target, -cum, np.log(grid)))
    craters = np.zeros(count, CRATER_DTYPE)
    craters["x"] = rng.uniform(xmin, xmax, count)
    craters["y"] = rng.uniform(ymin, ymax, count)
    craters["diameter"] = diameters
    state = rng.random(count) ** planet.crater_degradation_power  # 0 fresh .. 1 most degraded
    ratio = FRESH_DEPTH_RATIO - (FRESH_DEPTH_RATIO - MIN_DEPTH_RATIO) * state
    craters["depth"] = ratio * diameters
    craters["rim_height"] = FRESH_RIM_RATIO * diameters * ratio / FRESH_DEPTH_RATIO
    craters["degradation"] = state
    reach = EJECTA_EXTENT * diameters / 2
    inside = (
        (craters["x"] > extent[0] - reach)
        & (craters["x"] < extent[1] + reach)
        & (craters["y"] > extent[2] - reach)
        & (craters["y"] < extent[3] + reach)
    )
    return craters[inside]


_DEGRADATION_LEVELS = 65  # profile tables over the degradation state, interpolated linearly


def radial_profile(depth_ratio: float, rim_ratio: float, degradation: float) -> tuple[np.ndarray, np.ndarray]:
    """(r/R samples, z/D) of one crater: bowl, rim, ejecta, rounded by degradation."""
    rim_shape, bowl_shape = _shape_tables()
    level = float(np.clip(degradation, 0.0, 1.0)) * (_DEGRADATION_LEVELS - 1)
    i0 = min(int(level), _DEGRADATION_LEVELS - 2)
    w = level - i0
    rim = (1 - w) * rim_shape[i0] + w * rim_shape[i0 + 1]
    bowl = (1 - w) * bowl_shape[i0] + w * bowl_shape[i0 + 1]
    return _radii(), rim_ratio * rim - depth_ratio * bowl


def _radii() -> np.ndarray:
    return np.linspace(0.0, EJECTA_EXTENT, _PROFILE_SAMPLES)


_TABLES: tuple[np.ndarray, np.ndarray] | None = None


def _shape_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per degradation level, the rounded unit rim/ejecta shape and unit bowl shape over r/R.

    The profile is linear in the rim and depth ratios: z/D = rim·rim_shape - depth·bowl_shape, with
    rim_shape = 1 and bowl_shape = 0 at the crest before rounding.
    """
    global _TABLES
    if _TABLES is None:
        x = _radii()
        inside = x <= 1.0
        tail = EJECTA_EXTENT**-3
        rim = np.where(inside, 1.0, (np.maximum(x, 1.0) ** -3 - tail) / (1.0 - tail))
        bowl = np.where(inside, 1.0 - x**2, 0.0)
        rims, bowls = [], []
        for state in np.linspace(0.0, 1.0, _DEGRADATION_LEVELS):
            sigma = (0.03 + 0.25 * state) / (x[1] - x[0])  # [samples]
            # Reflecting at r = 0 keeps the floor flat and symmetric.
            r = gaussian_filter1d(rim, sigma, mode="reflect")
            b = gaussian_filter1d(bowl, sigma, mode="reflect")
            rims.append(r - r[-1] * x / x[-1])  # exactly zero at the ejecta edge: no step outside
            bowls.append(b - b[-1] * x / x[-1])
        _TABLES = (np.array(rims), np.array(bowls))
    return _TABLES


def stamp_craters(
    height: np.ndarray, origin: tuple[float, float], resolution: float, craters: np.ndarray
) -> None:
    """Add each crater's profile to ``height`` (float64, row = y, col = x) in place.

    Each crater's radial profile [m] is interpolated from the tables at its degradation state; craters
    of similar size are stamped together (patches of equal size, a node's value interpolated in r/R),
    large ones one by one over the part of their patch inside the raster. Overlapping craters add up.
    """
    if craters.size == 0:
        return
    rim_shape, bowl_shape = _shape_tables()
    level = np.clip(craters["degradation"], 0, 1) * (_DEGRADATION_LEVELS - 1)
    l0 = np.minimum(level.astype(np.intp), _DEGRADATION_LEVELS - 2)
    wl = (level - l0)[:, None]
    rim = rim_shape[l0] * (1 - wl) + rim_shape[l0 + 1] * wl
    bowl = bowl_shape[l0] * (1 - wl) + bowl_shape[l0 + 1] * wl
    profiles = craters["rim_height"][:, None] * rim - craters["depth"][:, None] * bowl  # [m] over r/R
    half = np.ceil(EJECTA_EXTENT * craters["diameter"] / 2 / resolution).astype(int) + 1
    sizes = np.unique(np.ceil(1.2 ** np.ceil(np.log(half) / np.log(1.2))).astype(int))
    lo = 0
    for size in sizes:
        members = np.nonzero((half <= size) & (half > lo))[0]
        lo = size
        if size > 100:
            for i in members:
                _stamp(height, origin, resolution, craters[i : i + 1], profiles[i : i + 1], size, clip=True)
            continue
        chunk = max(1, 2_000_000 // (2 * size + 1) ** 2)
        for first in range(0, members.size, chunk):
            picked = members[first : first + chunk]
            _stamp(height, origin, resolution, craters[picked], profiles[picked], size, clip=False)


def _stamp(
    height: np.ndarray,
    origin: tuple[float, float],
    resolution: float,
    batch: np.ndarray,
    profiles: np.ndarray,
    size: int,
    clip: bool,
) -> None:
    ny, nx = height.shape
    row_c = np.rint((batch["y"] - origin[1]) / resolution).astype(np.intp)
    col_c = np.rint((batch["x"] - origin[0]) / resolution).astype(np.intp)
    if clip:  # one crater: only the rows and columns inside the raster
        row_off = np.arange(max(-size, -row_c[0]), min(size, ny - 1 - row_c[0]) + 1)
        col_off = np.arange(max(-size, -col_c[0]), min(size, nx - 1 - col_c[0]) + 1)
        if row_off.size == 0 or col_off.size == 0:
            return
    else:
        row_off = col_off = np.arange(-size, size + 1)
    rows = row_c[:, None, None] + row_off[None, :, None]
    cols = col_c[:, None, None] + col_off[None, None, :]
    dx = (origin[0] + cols * resolution - batch["x"][:, None, None]).astype(np.float32)
    dy = (origin[1] + rows * resolution - batch["y"][:, None, None]).astype(np.float32)
    t = (
        np.hypot(dx, dy)
        * (((_PROFILE_SAMPLES - 1) / EJECTA_EXTENT) / (batch["diameter"] / 2)).astype(np.float32)[
            :, None, None
        ]
    )
    keep = t < _PROFILE_SAMPLES - 1
    if not clip:
        keep &= (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    which = np.broadcast_to(np.arange(batch.size)[:, None, None], t.shape)[keep]
    t = t[keep]
    i0 = t.astype(np.intp)
    wx = t - i0
    flat_profiles = profiles.reshape(-1)
    at = which * _PROFILE_SAMPLES + i0
    z = flat_profiles[at] * (1 - wx) + flat_profiles[at + 1] * wx
    index = (rows * nx + cols)[keep]
    if clip:  # no overlaps within one crater: a plain fancy-index add is exact
        height.reshape(-1)[index] += z
    else:
        np.add.at(height.reshape(-1), index, z)
