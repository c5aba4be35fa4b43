"""Export a world to Gazebo (Harmonic) as SDFormat 1.9: heightmap terrain, rocks, sun, gravity, atmosphere.

What is written into ``out_dir``:

=====================  ============================================================================
``world.sdf``          SDF 1.9 world: the world systems (physics, user commands, scene broadcaster,
                       sensors with ogre2, IMU), gravity, no magnetic field, the planet's atmosphere,
                       the sun as a directional light, the terrain heightmap, the rocks
``terrain.png``        16-bit grey heightmap of (2ⁿ+1)² pixels from the float master terrain, at its
                       own spacing (padded by its border to 2ⁿ+1) or, above 4097 samples, resampled;
                       pixel 0 is ``z_min``, 65535 is ``z_min + z_range``
``terrain_texture.png``  the world's texture (heightmap diffuse), copied unless the export sits inside
                       the world directory (then referred to as ``../terrain_texture.png``), with a
                       flat ``terrain_normal.png`` (SDF requires a normal map beside it)
``gazebo.yaml``        what the launch file needs: world name, start pose and the terrain height under
                       it (spawn), gravity, heightmap quantisation
=====================  ============================================================================

Heightmap geometry: Gazebo samples a square image over ``<size>`` centred on ``<pos>``, the first and
last pixels on the border (node-registered, like the world rasters, so no half-cell shift), image row 0
at +y (north). The master raster's rows go north, so the image is the raster flipped vertically. At the
master's spacing every master node is a heightmap sample, so Gazebo's terrain matches the ground truth
at the nodes to half a quantisation step (bench/gazebo.py measures it against bilinear resampling).
Rocks are spherical caps of the rock's base diameter D and height h above the terrain under its centre
(sphere radius (D²/4 + h²)/(2h), centre h − R above the ground), one collision and
visual per rock (one static model per 10 m square), collision shapes every Gazebo physics engine
supports.

Friction: Gazebo has Coulomb friction only. The terrain gets μ = tan φ of the planet's soil in the
embedded simulator's terramechanics (Mars dry sand 28° → 0.53, lunar soil 35° → 0.70), the ceiling of
its shear law without cohesion; rocks the embedded simulator's wheel-on-rock μ (0.8).

Atmosphere: SDF has one model, ``adiabatic`` (temperature [K] and pressure [Pa] at z = 0, temperature
gradient [K/m]). Mars: 610 Pa mean surface pressure, 210 K mean surface temperature, −2.5 K/km
(Viking/MSL REMS-era climatology). The Moon has no atmosphere (surface exosphere ~3·10⁻¹⁰ Pa): pressure 0.
"""

from __future__ import annotations

import math
import os
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rover_autonomy.description.sdf_check import check_world_sdf
from rover_autonomy.sim.terramechanics import ROCK_FRICTION, SOILS

SDF_VERSION = "1.9"
HEIGHTMAP_FILE = "terrain.png"
TEXTURE_FILE = "terrain_texture.png"
NORMAL_FILE = "terrain_normal.png"
TEXTURE_TILE = 10.0  # [m] side of the ground covered by one copy of the texture (SDF's default)
SDF_FILE = "world.sdf"
META_FILE = "gazebo.yaml"
MAX_HEIGHTMAP = 4097  # largest heightmap side [px] written (2^12 + 1)
# Rocks are grouped into one static model per square of this side [m]: small links for the physics
# broad phase and for libsdformat (whose sibling-name checks grow with the square of a link's children).
ROCK_TILE = 10.0
ROCK_COLOURS = {"mars": (0.45, 0.38, 0.32, 1.0), "moon": (0.5, 0.5, 0.5, 1.0)}
PHYSICS_STEP = 0.002  # [s] max_step_size: the embedded simulator's order of magnitude (2-5 ms)


class GazeboExportError(ValueError):
    """The world cannot be exported to Gazebo; the message says what to change."""


@dataclass(frozen=True)
class Atmosphere:
    temperature: float  # [K] at z = 0
    pressure: float  # [Pa] at z = 0
    temperature_gradient: float  # [K/m]


ATMOSPHERES = {
    "mars": Atmosphere(210.0, 610.0, -0.0025),
    "moon": Atmosphere(250.0, 0.0, 0.0),
}
# Scene light (ambient RGB, background RGB): black lunar sky; Mars' dusty butterscotch sky scatters light.
SCENES = {
    "mars": ((0.35, 0.28, 0.22), (0.78, 0.62, 0.47)),
    "moon": ((0.04, 0.04, 0.04), (0.0, 0.0, 0.0)),
}


@dataclass
class WorldData:
    """What the exporter needs of a world (the fields of ``rover_autonomy.worlds.World``)."""

    name: str
    planet: str  # "moon" | "mars"
    gravity: float  # [m/s^2]
    terrain: np.ndarray  # float (rows, cols) master terrain [m]; rows +y, cols +x, node-registered
    origin: tuple[float, float]  # [m] map x, y of node [0, 0]
    resolution: float  # [m] node spacing
    rocks: dict[str, np.ndarray]  # "x", "y", "diameter", "height" [m] (structured arrays work too)
    sun_direction: tuple[float, float, float]  # unit vector in map towards the sun
    start: tuple[float, float, float]  # (x [m], y [m], yaw [rad]) in map
    texture: Path | None = None
    extra: dict = field(default_factory=dict)


def heightmap_side(samples: int) -> int:
    """Smallest 2ⁿ+1 >= ``samples`` (no loss of resolution), capped at :data:`MAX_HEIGHTMAP`."""
    side = 2
    while side + 1 < samples and side + 1 < MAX_HEIGHTMAP:
        side *= 2
    return side + 1


def heightmap_grid(
    terrain: np.ndarray, origin: tuple[float, float], resolution: float
) -> tuple[np.ndarray, tuple[float, float], float]:
    """Heights on a (2ⁿ+1)² grid, with the grid's origin [m] and spacing [m].

    At the master's own spacing whenever 2ⁿ+1 fits (up to :data:`MAX_HEIGHTMAP`): the raster is padded
    evenly on all sides by repeating its border, so every master node is a heightmap sample and the
    terrain is reproduced exactly (up to quantisation); the margin lies outside the world. Larger
    rasters are resampled bilinearly onto :data:`MAX_HEIGHTMAP` samples over the same extent.
    """
    n = terrain.shape[0]
    side = heightmap_side(n)
    if side >= n:
        before = (side - n) // 2
        padded = np.pad(terrain, ((before, side - n - before),) * 2, mode="edge")
        return padded, (origin[0] - before * resolution, origin[1] - before * resolution), resolution
    return resample_terrain(terrain, side), origin, (n - 1) * resolution / (side - 1)


def resample_terrain(terrain: np.ndarray, side: int) -> np.ndarray:
    """Bilinear resample of a square node-registered raster onto ``side`` × ``side`` nodes."""
    from scipy.ndimage import map_coordinates

    n = terrain.shape[0]
    coords = np.linspace(0.0, n - 1, side)
    rows, cols = np.meshgrid(coords, coords, indexing="ij")
    return map_coordinates(terrain.astype(np.float64), [rows, cols], order=1, mode="nearest")


def quantise(heights: np.ndarray) -> tuple[np.ndarray, float, float]:
    """uint16 image (row 0 = +y) of ``heights`` (rows +y), with its z_min and z_range [m]."""
    z_min = float(heights.min())
    z_range = float(heights.max()) - z_min
    if z_range <= 0:
        z_range = 1.0  # flat terrain: any range maps every pixel to z_min
    levels = np.rint((heights - z_min) / z_range * 65535.0)
    return np.clip(levels, 0, 65535).astype(np.uint16)[::-1], z_min, z_range


def spherical_cap(diameter: float, height: float) -> tuple[float, float]:
    """(radius, centre height above the ground) of the sphere cut by the ground into a cap of
    base ``diameter`` and ``height`` [m]."""
    a = diameter / 2
    radius = (a * a + height * height) / (2 * height)
    return radius, height - radius


def _bilinear(terrain: np.ndarray, origin, resolution: float, x: float, y: float) -> float:
    col = (x - origin[0]) / resolution
    row = (y - origin[1]) / resolution
    rows, cols = terrain.shape
    col = min(max(col, 0.0), cols - 1.0)
    row = min(max(row, 0.0), rows - 1.0)
    c0, r0 = min(int(col), cols - 2), min(int(row), rows - 2)
    fc, fr = col - c0, row - r0
    t = terrain
    return float(
        (1 - fr) * ((1 - fc) * t[r0, c0] + fc * t[r0, c0 + 1])
        + fr * ((1 - fc) * t[r0 + 1, c0] + fc * t[r0 + 1, c0 + 1])
    )


def _text(parent: ET.Element, tag: str, value, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, **attrs)
    if isinstance(value, (tuple, list, np.ndarray)):
        el.text = " ".join(_num(v) for v in value)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, (int, float, np.floating)):
        el.text = _num(value)
    else:
        el.text = str(value)
    return el


def _num(value) -> str:
    text = f"{float(value):.9g}"
    return "0" if text == "-0" else text


def _check(world: WorldData) -> None:
    terrain = np.asarray(world.terrain)
    if terrain.ndim != 2 or terrain.shape[0] != terrain.shape[1] or terrain.shape[0] < 2:
        raise GazeboExportError(
            f"world {world.name}: Gazebo heightmaps are square; the terrain raster is {terrain.shape}: "
            "generate a square world (rover-autonomy world --size)"
        )
    if not np.isfinite(terrain).all():
        raise GazeboExportError(f"world {world.name}: the terrain raster has NaN or infinite heights")
    if world.planet not in ATMOSPHERES:
        raise GazeboExportError(
            f"world {world.name}: no Gazebo atmosphere for planet {world.planet!r} "
            f"(known: {', '.join(sorted(ATMOSPHERES))})"
        )
    if not (world.gravity > 0 and world.resolution > 0):
        raise GazeboExportError(f"world {world.name}: gravity and resolution must be positive")
    for key in ("x", "y", "diameter", "height"):
        if key not in _fields(world.rocks):
            raise GazeboExportError(f"world {world.name}: rocks lack the {key!r} column")


def _fields(rocks) -> set[str]:
    names = getattr(getattr(rocks, "dtype", None), "names", None)
    return set(names) if names else set(rocks)


def build_world(world: WorldData, out_dir: str | Path) -> Path:
    """Write ``world.sdf``, the heightmap and ``gazebo.yaml`` into ``out_dir``; returns the SDF path."""
    import cv2
    import yaml

    _check(world)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    terrain = np.asarray(world.terrain, dtype=np.float64)
    heights, origin, spacing = heightmap_grid(terrain, world.origin, world.resolution)
    side = heights.shape[0]
    size = (side - 1) * spacing
    centre = (origin[0] + size / 2, origin[1] + size / 2)
    image, z_min, z_range = quantise(heights)
    if not cv2.imwrite(str(out / HEIGHTMAP_FILE), image):
        raise GazeboExportError(f"cannot write {out / HEIGHTMAP_FILE}")
    texture = None
    if world.texture is not None and Path(world.texture).is_file():
        source = Path(world.texture).resolve()
        if out.resolve().is_relative_to(source.parent):
            # An export inside its world directory refers to the world's texture instead of copying it.
            texture = os.path.relpath(source, out.resolve())
        else:
            texture = TEXTURE_FILE
            shutil.copyfile(source, out / TEXTURE_FILE)
        # SDF requires a normal map beside the diffuse texture: a flat one (the heightmap's own
        # geometry gives the shading normals).
        flat = np.zeros((8, 8, 3), np.uint8)
        flat[:] = (255, 128, 128)  # BGR of the tangent-space normal (0, 0, 1)
        cv2.imwrite(str(out / NORMAL_FILE), flat)

    sdf = ET.Element("sdf", version=SDF_VERSION)
    w = ET.SubElement(sdf, "world", name=world.name)
    physics = ET.SubElement(w, "physics", name="default", type="dart")
    _text(physics, "max_step_size", PHYSICS_STEP)
    _text(physics, "real_time_factor", 1.0)
    for filename, name, body in (
        ("gz-sim-physics-system", "gz::sim::systems::Physics", {}),
        ("gz-sim-user-commands-system", "gz::sim::systems::UserCommands", {}),
        ("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster", {}),
        ("gz-sim-sensors-system", "gz::sim::systems::Sensors", {"render_engine": "ogre2"}),
        ("gz-sim-imu-system", "gz::sim::systems::Imu", {}),
    ):
        plugin = ET.SubElement(w, "plugin", filename=filename, name=name)
        for tag, value in body.items():
            _text(plugin, tag, value)
    _text(w, "gravity", (0.0, 0.0, -world.gravity))
    _text(w, "magnetic_field", (0.0, 0.0, 0.0))
    atmosphere = ATMOSPHERES[world.planet]
    atm = ET.SubElement(w, "atmosphere", type="adiabatic")
    _text(atm, "temperature", atmosphere.temperature)
    _text(atm, "pressure", atmosphere.pressure)
    _text(atm, "temperature_gradient", atmosphere.temperature_gradient)
    ambient, background = SCENES[world.planet]
    scene = ET.SubElement(w, "scene")
    _text(scene, "ambient", (*ambient, 1.0))
    _text(scene, "background", (*background, 1.0))
    _text(scene, "shadows", True)
    _text(scene, "grid", False)

    to_sun = np.asarray(world.sun_direction, dtype=float)
    to_sun = to_sun / np.linalg.norm(to_sun)
    sun = ET.SubElement(w, "light", name="sun", type="directional")
    _text(sun, "cast_shadows", True)
    _text(sun, "pose", (*(np.array([centre[0], centre[1], z_min + z_range]) + 50.0 * to_sun), 0, 0, 0))
    _text(sun, "diffuse", (1.0, 0.98, 0.95, 1.0))
    _text(sun, "specular", (0.2, 0.2, 0.2, 1.0))
    _text(sun, "direction", -to_sun)

    model = ET.SubElement(w, "model", name="terrain")
    _text(model, "static", True)
    link = ET.SubElement(model, "link", name="terrain")
    pos = (centre[0], centre[1], z_min)
    for tag in ("collision", "visual"):
        el = ET.SubElement(link, tag, name=f"terrain_{tag}")
        hm = ET.SubElement(ET.SubElement(el, "geometry"), "heightmap")
        _text(hm, "uri", HEIGHTMAP_FILE)
        _text(hm, "size", (size, size, z_range))
        _text(hm, "pos", pos)
        if tag == "visual" and texture:
            tex = ET.SubElement(hm, "texture")
            _text(tex, "size", TEXTURE_TILE)
            _text(tex, "diffuse", texture)
            _text(tex, "normal", NORMAL_FILE)
        if tag == "collision":
            _friction(el, terrain_friction(world.planet))

    _rocks(w, world, terrain)

    ET.indent(sdf, space="  ")
    sdf_path = out / SDF_FILE
    sdf_path.write_text(
        '<?xml version="1.0"?>\n'
        f"<!-- Gazebo world exported from {world.name} by rover_autonomy.description.sdf_world -->\n"
        + ET.tostring(sdf, encoding="unicode")
        + "\n"
    )
    x, y, yaw = world.start
    meta = {
        "world_name": world.name,
        "planet": world.planet,
        "gravity": float(world.gravity),
        "start": {
            "x": float(x),
            "y": float(y),
            "z": _bilinear(terrain, world.origin, world.resolution, x, y),
            "yaw": float(yaw),
        },
        "heightmap": {
            "file": HEIGHTMAP_FILE,
            "side": side,
            "size": size,
            "z_min": z_min,
            "z_range": z_range,
            "z_step": z_range / 65535.0,
        },
    }
    (out / META_FILE).write_text(
        "# Read by launch/gazebo.launch.py (spawn pose, map -> odom). Units: m, rad, m/s^2.\n"
        + yaml.safe_dump(meta, sort_keys=False)
    )
    return sdf_path


def _rocks(world_el: ET.Element, world: WorldData, terrain: np.ndarray) -> None:
    """Rocks as spherical caps, grouped into one static model per :data:`ROCK_TILE` square."""
    rocks = world.rocks
    count = len(rocks["x"])
    digits = max(4, len(str(count - 1)))
    colour = ROCK_COLOURS[world.planet]

    tiles: dict[tuple[int, int], ET.Element] = {}
    for i in range(count):
        d, h = float(rocks["diameter"][i]), float(rocks["height"][i])
        if not (d > 0 and h > 0):
            continue
        x, y = float(rocks["x"][i]), float(rocks["y"][i])
        key = (math.floor((x - world.origin[0]) / ROCK_TILE), math.floor((y - world.origin[1]) / ROCK_TILE))
        if key not in tiles:
            model = ET.SubElement(world_el, "model", name=f"rocks_{key[0]}_{key[1]}")
            _text(model, "static", True)
            tiles[key] = ET.SubElement(model, "link", name="rocks")
        link = tiles[key]
        radius, centre = spherical_cap(d, h)
        z = _bilinear(terrain, world.origin, world.resolution, x, y) + centre
        for tag in ("collision", "visual"):
            el = ET.SubElement(link, tag, name=f"rock_{i:0{digits}d}_{tag}")
            _text(el, "pose", (x, y, z, 0, 0, 0))
            _text(ET.SubElement(ET.SubElement(el, "geometry"), "sphere"), "radius", radius)
            if tag == "visual":
                _text(ET.SubElement(el, "material"), "diffuse", colour)
            else:
                _friction(el, ROCK_FRICTION)


def terrain_friction(planet: str) -> float:
    """Coulomb coefficient of the regolith: tan φ of the planet's soil in the embedded simulator's
    terramechanics (the ceiling of its shear law, A·c + W·tan φ, without cohesion)."""
    return math.tan(SOILS[planet].friction_angle)


def _friction(collision: ET.Element, mu: float) -> None:
    ode = ET.SubElement(ET.SubElement(ET.SubElement(collision, "surface"), "friction"), "ode")
    _text(ode, "mu", mu)
    _text(ode, "mu2", mu)


def world_data(world) -> WorldData:
    """Adapter from a loaded ``rover_autonomy.worlds.World``."""
    return WorldData(
        name=f"{world.planet}_{world.seed}" if getattr(world, "seed", None) is not None else world.planet,
        planet=world.planet,
        gravity=float(world.gravity),
        terrain=world.terrain,
        origin=tuple(world.grid.origin),
        resolution=float(world.grid.resolution),
        rocks=world.rocks,
        sun_direction=tuple(world.sun.direction),
        start=(world.start.x, world.start.y, world.start.yaw),
        texture=getattr(world, "texture_path", None),
    )


def export_sdf(world_dir: str | Path, out_dir: str | Path) -> Path:
    """Export a world directory (or a shipped world's name) to Gazebo; returns the written SDF path.

    ``rover-autonomy world ... --gazebo`` calls this after writing the world.
    """
    from rover_autonomy.worlds import load_world  # on use: the world generator's imports take ~1 s

    return build_world(world_data(load_world(world_dir)), out_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m rover_autonomy.description.sdf_world WORLD OUT_DIR``: export and check a world."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m rover_autonomy.description.sdf_world",
        description="Export a world (moon, mars or a world directory) to Gazebo SDF 1.9",
    )
    parser.add_argument("world")
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        path = export_sdf(args.world, args.out_dir)
    except (ValueError, OSError) as err:  # WorldError, GazeboExportError: one line each
        print(f"gazebo export: {err}", file=sys.stderr)
        return 2
    problems = check_world_sdf(path)
    for problem in problems:
        print(f"gazebo export: {problem}", file=sys.stderr)
    print(f"wrote {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
