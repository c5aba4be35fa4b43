"""Worlds for the simulator: a world's MJCF scene composed with the rover, and generated test terrains.

A :class:`SimWorld` is what the simulator needs from a world: a factory of its MJCF scene (terrain
height field, rocks, lights) as a fresh ``mujoco.MjSpec``, the start pose, gravity and soil. The rover
spec from :mod:`.rover_mjcf` is attached into the scene's worldbody with ``MjSpec.attach`` under the
prefix ``rover/``; the world's geoms stay as they are, height fields are the soil, other world geoms
are rock.

:func:`terrain_world` builds a world from a height array (flat ground, a slope, a textured field
with rocks) for tests and benchmarks; :func:`load_sim_world` reads a generated world directory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from rover_autonomy.resources import worlds_dir
from rover_autonomy.sim.terramechanics import SOILS, Soil

ROVER_PREFIX = "rover/"
GRAVITY = {"mars": 3.711, "moon": 1.62, "earth": 9.81}  # [m/s^2]


class WorldError(ValueError):
    """A world cannot be loaded: unknown name, missing or corrupt files."""


@dataclass(frozen=True)
class SimWorld:
    name: str
    make_spec: Callable[[], mujoco.MjSpec]  # a fresh scene spec per call (specs are mutated on attach)
    start: tuple[float, float, float]  # (x [m], y [m], yaw [rad]) in map
    gravity: float  # [m/s^2]
    soil: Soil
    info: dict = field(default_factory=dict)  # resolution, rock count... for reports


def _add_sky_and_light(spec: mujoco.MjSpec, sun_dir=(0.4, 0.3, -0.85)) -> None:
    light = spec.worldbody.add_light()
    light.name = "sun"
    light.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    light.dir = list(sun_dir)
    light.diffuse = [0.9, 0.88, 0.85]
    light.ambient = [0.25, 0.25, 0.25]
    light.castshadow = False
    spec.visual.headlight.ambient = [0.1, 0.1, 0.1]
    spec.visual.headlight.diffuse = [0.2, 0.2, 0.2]


def _regolith_texture(spec: mujoco.MjSpec, seed: int, size: int = 512) -> str:
    """A multi-scale noise texture, so stereo matching has surface detail to lock on."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size))
    for octave in (8, 32, 128, 512):
        coarse = rng.random((octave, octave))
        image += np.kron(coarse, np.ones((size // octave, size // octave))) / octave**0.3
    image = (image - image.min()) / np.ptp(image)
    rgb = np.stack([0.55 + 0.35 * image, 0.42 + 0.3 * image, 0.3 + 0.25 * image], axis=-1)
    texture = spec.add_texture()
    texture.name = "regolith"
    texture.type = mujoco.mjtTexture.mjTEXTURE_2D
    texture.width = texture.height = size
    texture.nchannel = 3
    texture.data = (rgb * 255).astype(np.uint8).tobytes()
    material = spec.add_material()
    material.name = "regolith"
    material.textures = ["", "regolith"] + [""] * 8  # slot 1: mjTEXROLE_RGB
    material.texrepeat = [4.0, 4.0]
    material.specular = 0.05
    return material.name


def terrain_world(
    heights: np.ndarray,
    resolution: float,
    planet: str = "mars",
    start: tuple[float, float, float] = (0.0, 0.0, 0.0),
    rocks: np.ndarray | None = None,
    seed: int = 0,
    name: str = "terrain",
) -> SimWorld:
    """A world from a height grid centred on the map origin.

    ``heights`` (rows = y, cols = x) [m] at ``resolution`` [m/cell]; ``rocks`` (K, 4) of x, y, z, radius
    [m] for ellipsoidal rocks resting on the ground.
    """
    heights = np.asarray(heights, dtype=float)
    if heights.ndim != 2 or min(heights.shape) < 2 or not np.all(np.isfinite(heights)):
        raise WorldError(f"terrain heights must be a finite 2-D grid, got shape {heights.shape}")
    if planet not in SOILS:
        raise WorldError(f"unknown planet {planet!r}; choose one of: {', '.join(SOILS)}")
    rows, cols = heights.shape
    low, span = float(heights.min()), max(float(np.ptp(heights)), 1e-3)
    rocks = np.zeros((0, 4)) if rocks is None else np.asarray(rocks, dtype=float)

    def make_spec() -> mujoco.MjSpec:
        spec = mujoco.MjSpec()
        spec.modelname = name
        spec.compiler.degree = False
        hfield = spec.add_hfield()
        hfield.name = "terrain"
        hfield.nrow, hfield.ncol = rows, cols
        # MuJoCo: size = (x half-extent, y half-extent, elevation range, base depth); data in [0, 1].
        hfield.size = [(cols - 1) * resolution / 2, (rows - 1) * resolution / 2, span, 1.0]
        hfield.userdata = ((heights - low) / span).reshape(-1).tolist()
        material = _regolith_texture(spec, seed)
        geom = spec.worldbody.add_geom()
        geom.name = "terrain"
        geom.type = mujoco.mjtGeom.mjGEOM_HFIELD
        geom.hfieldname = "terrain"
        geom.pos = [0.0, 0.0, low]
        geom.material = material
        for i, (x, y, z, radius) in enumerate(rocks):
            rock = spec.worldbody.add_geom()
            rock.name = f"rock_{i}"
            rock.type = mujoco.mjtGeom.mjGEOM_ELLIPSOID
            rock.size = [radius, 0.8 * radius, 0.6 * radius]
            rock.pos = [x, y, z]
            rock.rgba = [0.45, 0.38, 0.33, 1.0]
        _add_sky_and_light(spec)
        return spec

    info = {"resolution": resolution, "size": (cols * resolution, rows * resolution), "rocks": len(rocks)}
    return SimWorld(name, make_spec, tuple(start), GRAVITY[planet], SOILS[planet], info)


def slope_world(angle_deg: float, length: float = 40.0, width: float = 12.0, resolution: float = 0.25, **kw):
    """A plane rising along +x at ``angle_deg``, level at x = 0 (flat ground for angle 0)."""
    xs = np.arange(0.0, length + 1e-9, resolution) - length / 2
    ys = np.arange(0.0, width + 1e-9, resolution)
    heights = np.tile(xs * math.tan(math.radians(angle_deg)), (ys.size, 1))
    return terrain_world(heights, resolution, name=kw.pop("name", f"slope_{angle_deg:g}deg"), **kw)


def load_sim_world(path: str | Path) -> SimWorld:
    """A generated world directory (``world.yaml`` + MJCF scene); raises :class:`WorldError`."""
    path = Path(path)
    from rover_autonomy.worlds import load_world  # on use: the world generator's imports take ~1 s

    try:
        world = load_world(path)
    except (OSError, ValueError, KeyError) as err:  # worlds.WorldError is a ValueError
        raise WorldError(str(err)) from err
    return _from_generated(world, path)


def _from_generated(world, path: Path) -> SimWorld:
    """Adapter from ``rover_autonomy.worlds.World``: its MJCF scene, start, gravity and planet soil."""
    if world.planet not in SOILS:
        raise WorldError(f"{path}: no soil model for planet {world.planet!r} (known: {', '.join(SOILS)})")
    mjcf = Path(world.mjcf_path)

    def make_spec() -> mujoco.MjSpec:
        return mujoco.MjSpec.from_file(str(mjcf))

    info = {
        "resolution": world.render_resolution,
        "ground_truth_resolution": world.resolution,
        "size": (world.size, world.size),
        "rocks": len(world.rocks),
        "folded_rocks": len(world.folded_rocks),
    }
    start = (world.start.x, world.start.y, world.start.yaw)
    return SimWorld(path.name, make_spec, start, float(world.gravity), SOILS[world.planet], info)


def compose(world: SimWorld, rover_spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """The world's scene with the rover attached at the origin (the engine places it at the start)."""
    try:
        spec = world.make_spec()
    except Exception as err:  # MuJoCo reports parse errors of a corrupt scene as several types
        raise WorldError(
            f"world {world.name}: cannot read its MJCF scene ({str(err).splitlines()[0]})"
        ) from err
    frame = spec.worldbody.add_frame()
    spec.attach(rover_spec, prefix=ROVER_PREFIX, frame=frame)
    spec.option.gravity = [0.0, 0.0, -world.gravity]
    return spec


def resolve_world(name: str) -> SimWorld:
    """A world by name: ``moon``/``mars`` (the package's generated worlds), a world directory, or a
    generated test terrain ``flat[:planet]`` / ``slope:<deg>[:planet]``."""
    parts = name.split(":")
    if parts[0] in ("flat", "slope"):
        try:
            angle = 0.0 if parts[0] == "flat" else float(parts[1])
            planet = (
                parts[1 if parts[0] == "flat" else 2]
                if len(parts) > (1 if parts[0] == "flat" else 2)
                else "mars"
            )
        except (IndexError, ValueError) as err:
            raise WorldError(f"world {name!r}: expected flat[:planet] or slope:<deg>[:planet]") from err
        if not -45.0 <= angle <= 45.0:
            raise WorldError(f"world {name!r}: slope must lie within ±45 deg")
        if angle == 0.0:
            return slope_world(0.0, planet=planet, name=f"flat_{planet}", start=(0.0, 0.0, 0.0))
        return slope_world(angle, planet=planet, start=(-12.0, 0.0, 0.0))
    if name in ("moon", "mars"):
        path = worlds_dir() / name
        if not path.is_dir():
            raise WorldError(f"world {name!r}: not found at {path} (generate it with rover-autonomy worlds)")
        return load_sim_world(path)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise WorldError(
            f"world {name!r}: not a directory, nor one of moon, mars, flat[:planet], slope:<deg>[:planet]"
        )
    return load_sim_world(path)
