"""Planet parameters for world generation: gravity, sun, surface reflectance, relief and crater statistics.

The numbers are representative of the terrain a rover meets, not of one site; each names its source.

- Gravity: Moon 1.62 m/s², Mars 3.711 m/s² (IAU/NASA fact sheets).
- Normal albedo: lunar regolith 0.07 (mare) to 0.2 (highlands), 0.12 taken; Mars bright dusty plains about 0.25.
- Relief: a fractal (fractional Brownian) surface split in two bands. Undulation (wavelengths longer than
  ``relief_corner`` metres, Hurst exponent ~0.9 as LOLA finds at metre to hectometre baselines,
  Rosenburg et al. 2011) and small-scale roughness (shorter wavelengths, Hurst 0.5), each with a given RMS
  height, plus a regional slope in a random direction.
- Craters: cumulative size-frequency N(>=D) = c_eq·D^-2 per m² (D in m) for the equilibrium population
  (small craters, Trask 1966; Gault 1970 put geometric saturation at 1.54·D^-2, equilibrium at a few per
  cent of it), steepening to the production slope D^-2.8 (Neukum et al. 2001) above the crossover
  diameter, where older terrain has not yet reached equilibrium. Mars keeps far fewer small craters
  (atmospheric filtering, aeolian infill) and degrades them faster.
- Fresh simple craters: rim-to-floor depth/diameter 0.2, rim height 0.036·D (Pike 1977); degraded craters
  shallower, down to ``crater_min_depth_ratio``.
- Rocks: Golombek–Rapp cumulative fractional area F_k(D) = k·exp(-q(k)·D), q(k) = 1.79 + 0.152/k
  (Golombek & Rapp 1997; Golombek et al. 2003). Default k: Mars 0.07 (typical landing site), Moon 0.02
  (mare regolith, few rocks outside fresh ejecta).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planet:
    name: str
    gravity: float  # [m/s²]
    albedo: float  # normal albedo of the surface [-]
    tint: tuple[float, float, float]  # relative RGB colour of the regolith (max 1)
    sky: tuple[tuple[float, float, float], tuple[float, float, float]]  # skybox zenith, horizon RGB
    ambient: float  # diffuse sky light relative to the sun [-]
    sun_azimuth: float  # [deg] from north (+y) towards east (+x)
    sun_elevation: float  # [deg] above the horizon
    default_k: float  # Golombek–Rapp rock density [-]
    undulation_rms: float  # [m] RMS height of the long-wavelength relief
    undulation_hurst: float  # [-]
    roughness_rms: float  # [m] RMS height of the small-scale roughness
    roughness_hurst: float  # [-]
    relief_corner: float  # [m] wavelength splitting undulation from roughness
    max_regional_slope: float  # [deg] the regional slope is drawn uniformly in [0, this]
    crater_eq_coeff: float  # c_eq in N(>=D) = c_eq·D^-2 [craters/m², D in m]
    crater_crossover: float  # [m] diameter above which the production slope -2.8 applies
    crater_degradation_power: float  # degradation state s = u^p, u uniform: p < 1 favours degraded craters


FRESH_DEPTH_RATIO = 0.2  # rim-to-floor depth / diameter of a fresh simple crater (Pike 1977)
FRESH_RIM_RATIO = 0.036  # rim height / diameter of a fresh simple crater (Pike 1977)
MIN_DEPTH_RATIO = 0.04  # the most degraded craters kept as craters
EQUILIBRIUM_SLOPE = 2.0  # cumulative SFD exponent, equilibrium population
PRODUCTION_SLOPE = 2.8  # cumulative SFD exponent, production population (small lunar craters)
LUNAR_POLAR_SUN_ELEVATION = 4.0  # [deg] sun at ~85° latitude: long shadows, as at Artemis candidate sites

PLANETS: dict[str, Planet] = {
    "moon": Planet(
        name="moon",
        gravity=1.62,
        albedo=0.12,
        tint=(1.0, 0.98, 0.95),
        sky=((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ambient=0.04,
        sun_azimuth=120.0,
        sun_elevation=30.0,
        default_k=0.02,
        undulation_rms=0.5,
        undulation_hurst=0.9,
        roughness_rms=0.012,
        roughness_hurst=0.5,
        relief_corner=2.0,
        max_regional_slope=2.0,
        crater_eq_coeff=0.06,
        crater_crossover=100.0,
        crater_degradation_power=0.6,
    ),
    "mars": Planet(
        name="mars",
        gravity=3.711,
        albedo=0.25,
        tint=(1.0, 0.72, 0.52),
        sky=((0.55, 0.42, 0.32), (0.85, 0.70, 0.55)),
        ambient=0.2,
        sun_azimuth=135.0,
        sun_elevation=45.0,
        default_k=0.07,
        undulation_rms=0.4,
        undulation_hurst=0.85,
        roughness_rms=0.015,
        roughness_hurst=0.5,
        relief_corner=2.0,
        max_regional_slope=3.0,
        crater_eq_coeff=0.01,
        crater_crossover=20.0,
        crater_degradation_power=0.4,
    ),
}
