"""World generation: relief, craters, rocks and hazards on one grid, from a seed.

``generate(spec)`` builds a world in memory; ``write_world(world, out_dir)`` stores it (see ``world`` for
the files). Every random component draws from its own stream ``SeedSequence(seed, spawn_key=(i,))``,
so the same spec gives byte-identical files and changing one component's parameters leaves the
others in place.

Order: relief (undulation + roughness + regional slope) → craters → folded small rocks → explicit
rocks placed on that terrain → ground-truth surface = terrain + rock relief → hazards.

The start area: a disc of ``start_clear_radius`` around the start pose with no rocks (folded or not),
no craters reaching into it (rim within 1.5 radii plus the disc) and the roughness faded out, so the
rover spawns settled on a smooth patch and a dropped test body rests where the ground truth says.
The start pose sits at x = -0.3·size, y = 0, facing +x (east): the longest straight traverse runs
across the world (0.8·size minus margins; 50 m in the 80 m defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from rover_autonomy.rover_model import RoverModel, load_rover_model
from rover_autonomy.worlds import craters as crater_model
from rover_autonomy.worlds import rocks as rock_model
from rover_autonomy.worlds.grid import Grid
from rover_autonomy.worlds.hazard import hazard_layer, hazard_rule
from rover_autonomy.worlds.planets import LUNAR_POLAR_SUN_ELEVATION, PLANETS, Planet
from rover_autonomy.worlds.relief import fractal_band, regional_plane, smoothstep

MIN_SIZE = 10.0  # [m] a start area, the 1.4 m rover and room to drive
MAX_NODES = 40_000_000  # per raster (~160 MB as float32): 300 m at 5 cm
MIN_RESOLUTION, MAX_RESOLUTION = 0.01, 0.5  # [m]
MAX_K = 0.5  # Golombek–Rapp k above ~0.3 is already extreme (the rockiest Viking 2 areas)
EASY_K = 0.01  # Golombek–Rapp k of the CI world: ~1 rock >= 0.15 m per 40 m², ~1 >= 0.3 m per 1000 m²
MIN_CRATER_DIAMETER = 0.5  # [m] smaller craters are part of the roughness
RENDER_MAX_NODES_PER_SIDE = 401  # render/physics height field: see render_resolution()
MIN_RENDER_RESOLUTION = 0.1  # [m]
HEIGHT_QUANTUM = 2.0**-12  # [m] (0.24 mm) raster heights are multiples of this


class WorldSpecError(ValueError):
    """A world cannot be generated with these parameters."""


@dataclass(frozen=True)
class WorldSpec:
    planet: str = "mars"
    seed: int = 0
    rock_density: float | None = None  # Golombek–Rapp k; None = the planet's default
    size: float = 80.0  # [m] side of the square world
    resolution: float = 0.05  # [m] ground-truth grid spacing
    sun_azimuth: float | None = None  # [deg] from north towards east; None = planet default
    sun_elevation: float | None = None  # [deg]; None = planet default (or polar)
    polar: bool = False  # lunar polar low sun (Moon only)
    easy: bool = False  # CI terrain: k = EASY_K unless given, gentler relief, few degraded craters
    fold_diameter: float = rock_model.DEFAULT_FOLD_DIAMETER  # [m]
    start_clear_radius: float = 3.0  # [m]

    def validated(self, model: RoverModel) -> WorldSpec:
        """This spec with defaults filled in; raises WorldSpecError naming the first bad field."""
        if self.planet not in PLANETS:
            raise WorldSpecError(f"unknown planet {self.planet!r} (choose from {', '.join(sorted(PLANETS))})")
        planet = PLANETS[self.planet]
        k = (EASY_K if self.easy else planet.default_k) if self.rock_density is None else self.rock_density
        if not (isinstance(k, (int, float)) and math.isfinite(k) and 0 < k <= MAX_K):
            raise WorldSpecError(f"rock density k={k} is outside (0, {MAX_K}]")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise WorldSpecError(f"seed {self.seed!r} must be an integer in [0, 2^63)")
        res = self.resolution
        if not (math.isfinite(res) and MIN_RESOLUTION <= res <= MAX_RESOLUTION):
            raise WorldSpecError(f"resolution {res} m is outside [{MIN_RESOLUTION}, {MAX_RESOLUTION}] m")
        rover_extent = 2 * max(max(abs(w.x), abs(w.y)) for w in model.wheels) + 2 * model.wheel_radius
        need = max(MIN_SIZE, 2 * (self.start_clear_radius + rover_extent))
        if not (math.isfinite(self.size) and self.size >= need):
            raise WorldSpecError(f"size {self.size} m is too small for the rover: at least {need:g} m")
        nodes = (round(self.size / res) + 1) ** 2
        if nodes > MAX_NODES:
            raise WorldSpecError(
                f"size {self.size} m at {res} m is {nodes} nodes per raster (max {MAX_NODES}): coarsen it"
            )
        if self.polar and self.planet != "moon":
            raise WorldSpecError("the polar low-sun option is for the Moon only")
        elevation = self.sun_elevation
        if elevation is None:
            elevation = LUNAR_POLAR_SUN_ELEVATION if self.polar else planet.sun_elevation
        if not (math.isfinite(elevation) and 0 < elevation <= 90):
            raise WorldSpecError(f"sun elevation {elevation} deg is outside (0, 90]")
        azimuth = planet.sun_azimuth if self.sun_azimuth is None else self.sun_azimuth
        if not math.isfinite(azimuth):
            raise WorldSpecError(f"sun azimuth {azimuth} deg is not finite")
        if not (rock_model.MIN_DIAMETER <= self.fold_diameter <= 1.0):
            raise WorldSpecError(
                f"fold diameter {self.fold_diameter} m is outside [{rock_model.MIN_DIAMETER}, 1] m"
            )
        return WorldSpec(
            planet=self.planet,
            seed=self.seed,
            rock_density=float(k),
            size=float(self.size),
            resolution=float(res),
            sun_azimuth=float(azimuth % 360.0),
            sun_elevation=float(elevation),
            polar=self.polar,
            easy=self.easy,
            fold_diameter=float(self.fold_diameter),
            start_clear_radius=float(self.start_clear_radius),
        )


@dataclass
class GeneratedWorld:
    """A world in memory, as ``write_world`` stores it."""

    spec: WorldSpec  # validated: every default filled in
    planet: Planet
    grid: Grid
    terrain: np.ndarray  # float32 master raster [m]: relief + craters + folded rocks
    rock_relief: np.ndarray  # float32 [m]: rock tops above the terrain, 0 elsewhere
    hazard: np.ndarray  # uint8 bit flags (hazard.SLOPE | STEP | BELLY)
    rocks: np.ndarray  # rocks.ROCK_DTYPE, explicit rocks (D >= fold diameter)
    folded_rocks: np.ndarray  # rocks.ROCK_DTYPE, rocks folded into the terrain
    craters: np.ndarray  # craters.CRATER_DTYPE
    start: tuple[float, float, float]  # x [m], y [m], yaw [rad] in map
    regional_slope: tuple[float, float]  # [deg], direction [deg from +x]
    hazard_rule: dict[str, float] = field(default_factory=dict)

    @property
    def surface(self) -> np.ndarray:
        """Ground truth: terrain with the rocks standing on it (float32) [m]."""
        return self.terrain + self.rock_relief


def easy_planet(planet: Planet) -> Planet:
    """The planet with the CI world's terrain: half the relief and slope, 3 % of the craters, degraded."""
    return replace(
        planet,
        undulation_rms=planet.undulation_rms / 2,
        max_regional_slope=planet.max_regional_slope / 2,
        crater_eq_coeff=planet.crater_eq_coeff * 0.03,
        crater_degradation_power=0.2,
    )


def render_resolution(size: float, resolution: float) -> float:
    """Node spacing [m] of the MuJoCo height field: coarse enough to render at camera rates.

    Software GL (llvmpipe) renders a 401×401 height field with shadows at 640×480 in ~95 ms and an
    801×801 one in ~250 ms, so the field is capped at 401 nodes a side and is never finer than 0.1 m
    (nor finer than the ground truth). A multiple of the ground-truth spacing keeps nodes aligned.
    """
    target = max(MIN_RENDER_RESOLUTION, size / (RENDER_MAX_NODES_PER_SIDE - 1), resolution)
    steps = math.ceil(target / resolution - 1e-9)
    while round(size / resolution) % steps:  # the field must span the world exactly
        steps += 1
    return steps * resolution


def generate(spec: WorldSpec, model: RoverModel | None = None) -> GeneratedWorld:
    """Generate the world described by ``spec`` (validated first)."""
    model = model or load_rover_model()
    spec = spec.validated(model)
    planet = easy_planet(PLANETS[spec.planet]) if spec.easy else PLANETS[spec.planet]
    grid = Grid.square(spec.size, spec.resolution)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(5)]
    relief_rng, slope_rng, crater_rng, rock_rng, roughness_rng = streams
    xs, ys = grid.xs, grid.ys
    start = (-0.3 * spec.size, 0.0, 0.0)
    start_distance = np.hypot(xs[None, :] - start[0], ys[:, None] - start[1])

    # Relief: undulation, regional slope, roughness faded out over the start area.
    longest = spec.size * 2
    height = fractal_band(
        relief_rng,
        grid.shape,
        spec.resolution,
        planet.undulation_hurst,
        planet.undulation_rms,
        planet.relief_corner,
        longest,
    )
    slope_deg = float(slope_rng.uniform(0, planet.max_regional_slope))
    slope_dir = float(slope_rng.uniform(0, 2 * math.pi))
    height += regional_plane(xs, ys, slope_deg, slope_dir)
    if 2 * spec.resolution < planet.relief_corner:
        roughness = fractal_band(
            roughness_rng,
            grid.shape,
            spec.resolution,
            planet.roughness_hurst,
            planet.roughness_rms,
            2 * spec.resolution,
            planet.relief_corner,
        )
        fade = smoothstep((start_distance - spec.start_clear_radius) / 1.0)
        height += roughness * fade

    # Craters, kept out of the start area.
    max_crater = min(spec.size / 2, 60.0)
    craters = crater_model.sample_craters(crater_rng, planet, grid.extent, MIN_CRATER_DIAMETER, max_crater)
    reach = np.hypot(craters["x"] - start[0], craters["y"] - start[1])
    craters = craters[reach > 1.5 * craters["diameter"] / 2 + spec.start_clear_radius]
    _round_to_file_precision(craters)
    crater_model.stamp_craters(height, grid.origin, grid.resolution, craters)
    terrain = height.astype(np.float32)

    # Rocks: sampled over the world, none in the start area; small ones folded into the terrain.
    rocks = rock_model.sample_rocks(rock_rng, spec.rock_density, grid.extent)
    footprint = np.maximum(rocks["sx"], rocks["sy"]) * rock_model.prototypes().max_radius
    clear = np.hypot(rocks["x"] - start[0], rocks["y"] - start[1]) > spec.start_clear_radius + footprint
    rocks = rocks[clear]
    rock_model.place_on_terrain(rocks, grid, terrain)
    _round_to_file_precision(rocks)
    small = rocks["diameter"] < spec.fold_diameter
    folded, explicit = rocks[small], rocks[~small]
    rock_model.fold_into_terrain(folded, grid, terrain)
    terrain = quantise(terrain)
    rock_relief = quantise(rock_model.rasterise_rocks(explicit, grid, terrain))
    surface = terrain + rock_relief
    hazard = hazard_layer(surface, spec.resolution, model)
    return GeneratedWorld(
        spec=spec,
        planet=planet,
        grid=grid,
        terrain=terrain,
        rock_relief=rock_relief,
        hazard=hazard,
        rocks=explicit,
        folded_rocks=folded,
        craters=craters,
        start=start,
        regional_slope=(slope_deg, math.degrees(slope_dir)),
        hazard_rule=hazard_rule(model),
    )


def quantise(heights: np.ndarray) -> np.ndarray:
    """Heights rounded to multiples of HEIGHT_QUANTUM (float32, exact below 2 km).

    Sub-millimetre mantissa noise is meaningless and incompressible; on this grid the rasters
    deflate to half the size, and terrain + rock_relief is exact in float32.
    """
    return (np.round(heights.astype(np.float64) / HEIGHT_QUANTUM) * HEIGHT_QUANTUM).astype(np.float32)


def _round_to_file_precision(table: np.ndarray) -> None:
    """Round float fields to the 0.1 mm / 1e-4 rad world.yaml keeps, before they shape any raster.

    The rasters, the scene and world.yaml then describe exactly the same rocks and craters.
    """
    for name in table.dtype.names:
        if table.dtype[name].kind == "f":
            table[name] = np.round(table[name], 4)
