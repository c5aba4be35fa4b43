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
    margin = EJECTA_EXTENT * max_diameter / 2
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
    return craters


def radial_profile(depth_ratio: float, rim_ratio: float, degradation: float) -> tuple[np.ndarray, np.ndarray]:
    """(r/R samples, z/D) of one crater: bowl, rim, ejecta, rounded by degradation."""
    x = np.linspace(0.0, EJECTA_EXTENT, _PROFILE_SAMPLES)
    z = np.empty_like(x)
    inside = x <= 1.0
    z[inside] = rim_ratio - depth_ratio * (1.0 - x[inside] ** 2)
    tail = EJECTA_EXTENT**-3
    z[~inside] = rim_ratio * (x[~inside] ** -3 - tail) / (1.0 - tail)
    sigma = (0.03 + 0.25 * degradation) / (x[1] - x[0])  # [samples]
    # Mirror at r = 0 so the smoothing keeps the floor flat and symmetric.
    z = gaussian_filter1d(z, sigma, mode="reflect")
    z -= z[-1] * x / x[-1]  # exactly zero at the ejecta edge, no step into the surroundings
    return x, z


def stamp_craters(
    height: np.ndarray, origin: tuple[float, float], resolution: float, craters: np.ndarray
) -> None:
    """Add each crater's profile to ``height`` (float array, row = y, col = x) in place."""
    ny, nx = height.shape
    for crater in craters:
        diameter = crater["diameter"]
        radius = diameter / 2
        reach = EJECTA_EXTENT * radius
        c0 = max(int(np.floor((crater["x"] - reach - origin[0]) / resolution)), 0)
        c1 = min(int(np.ceil((crater["x"] + reach - origin[0]) / resolution)) + 1, nx)
        r0 = max(int(np.floor((crater["y"] - reach - origin[1]) / resolution)), 0)
        r1 = min(int(np.ceil((crater["y"] + reach - origin[1]) / resolution)) + 1, ny)
        if c0 >= c1 or r0 >= r1:
            continue
        xs = origin[0] + np.arange(c0, c1) * resolution - crater["x"]
        ys = origin[1] + np.arange(r0, r1) * resolution - crater["y"]
        rho = np.hypot(xs[None, :], ys[:, None]) / radius
        grid, profile = radial_profile(
            crater["depth"] / diameter, crater["rim_height"] / diameter, crater["degradation"]
        )
        height[r0:r1, c0:c1] += np.interp(rho, grid, profile, right=0.0) * diameter
