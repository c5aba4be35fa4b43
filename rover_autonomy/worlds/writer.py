"""Store a generated world as a world directory (layout and formats: see ``world``), atomically."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rover_autonomy.rover_model import RoverModel, load_rover_model
from rover_autonomy.worlds import scene
from rover_autonomy.worlds.generator import GeneratedWorld, render_resolution
from rover_autonomy.worlds.rocks import DEFAULT_FOLD_DIAMETER, MAX_DIAMETER, MIN_DIAMETER, q_of_k
from rover_autonomy.worlds.world import (
    CRATER_COLUMNS,
    FOLDED_COLUMNS,
    FORMAT,
    HFIELD_FILE,
    MJCF_FILE,
    PREVIEW_FILE,
    RASTER_FILE,
    ROCK_COLUMNS,
    ROCK_MESH_DIR,
    TEXTURE_FILE,
    WORLD_FILE,
    Sun,
    save_npz,
    write_atomically,
)


def write_world(
    world: GeneratedWorld,
    out_dir: str | Path,
    *,
    preview: bool = False,
    command: str | None = None,
    model: RoverModel | None = None,
) -> Path:
    """Write ``world`` into ``out_dir`` (created or replaced atomically); returns the directory."""
    model = model or load_rover_model()
    out_dir = Path(out_dir)

    def fill(tmp: Path) -> None:
        spec = world.spec
        step = round(render_resolution(spec.size, spec.resolution) / spec.resolution)
        coarse = scene.coarse_heights(world.terrain, step)
        z_min = float(coarse.min())
        z_range = max(float(coarse.max()) - z_min, 1e-3)
        sun = Sun(spec.sun_azimuth, spec.sun_elevation)
        save_npz(
            tmp / RASTER_FILE,
            {
                "terrain": world.terrain,
                "rock_relief": world.rock_relief,
                "hazard": world.hazard,
                "folded_rocks": np.stack([world.folded_rocks[c] for c in FOLDED_COLUMNS], axis=1)
                if world.folded_rocks.size
                else np.zeros((0, len(FOLDED_COLUMNS))),
            },
        )
        scene.write_hfield(tmp / HFIELD_FILE, coarse)
        scene.write_texture(tmp / TEXTURE_FILE, world.planet)
        scene.write_rock_meshes(tmp / ROCK_MESH_DIR)
        title = (
            f"rover_autonomy world: {spec.planet}, seed {spec.seed}, k {spec.rock_density:g}, "
            f"{spec.size:g} m; generated, see world.yaml and docs/worlds.md"
        )
        (tmp / MJCF_FILE).write_text(
            scene.scene_xml(
                planet=world.planet,
                size=spec.size,
                centre=(0.0, 0.0),
                light_at=scene.sun_light_position(world, sun.direction),
                z_min=z_min,
                z_range=z_range,
                sun_direction=sun.direction,
                rocks=world.rocks,
                hfield_file=HFIELD_FILE,
                texture_file=TEXTURE_FILE,
                rock_dir=ROCK_MESH_DIR,
                near_clip=model.stereo.near_clip,
                far_clip=max(model.stereo.far_clip, spec.size * 1.5),
                title=title,
            )
        )
        render = {
            "resolution": step * spec.resolution,
            "shape": list(coarse.shape),
            "z_min": z_min,
            "z_range": z_range,
        }
        (tmp / WORLD_FILE).write_text(metadata_yaml(world, sun, render, command))
        if preview:
            from rover_autonomy.worlds.preview import write_preview  # on use: matplotlib

            write_preview(world, tmp / PREVIEW_FILE)

    write_atomically(out_dir, fill)
    return out_dir


def _num(value: float, digits: int = 4) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if text in ("", "-0"):
        return "0.0"
    return text if "." in text else text + ".0"


def metadata_yaml(world: GeneratedWorld, sun: Sun, render: dict, command: str | None) -> str:
    spec, grid = world.spec, world.grid
    x0, y0 = grid.origin
    slope, slope_dir = world.regional_slope
    lines = [
        "# rover_autonomy world (generated; regenerate from `spec` with `rover-autonomy world`, see docs/worlds.md)",
        "# Units: m, rad unless a key says _deg. Frame: map (ENU: x east, y north, z up).",
        f"format: {FORMAT}",
        *([f"command: {command!r}"] if command else []),
        "spec:  # the generator's inputs: WorldSpec(**spec) regenerates this world",
        f"  planet: {spec.planet}",
        f"  seed: {spec.seed}",
        f"  rock_density: {_num(spec.rock_density, 6)}",
        f"  size: {_num(spec.size)}",
        f"  resolution: {_num(spec.resolution)}",
        f"  sun_azimuth: {_num(spec.sun_azimuth)}",
        f"  sun_elevation: {_num(spec.sun_elevation)}",
        f"  polar: {'true' if spec.polar else 'false'}",
        f"  fold_diameter: {_num(spec.fold_diameter)}",
        f"  start_clear_radius: {_num(spec.start_clear_radius)}",
        f"planet: {spec.planet}",
        f"gravity: {_num(world.planet.gravity)}  # [m/s^2]",
        f"albedo: {_num(world.planet.albedo)}  # normal albedo of the regolith",
        f"rock_density: {_num(spec.rock_density, 6)}  # Golombek-Rapp k",
        f"size: {_num(spec.size)}  # [m] side of the square world, centred on the map origin",
        f"resolution: {_num(spec.resolution)}  # [m] ground-truth node spacing",
        f"origin: [{_num(x0)}, {_num(y0)}]  # [m] map x, y of raster node [0, 0]; row = +y, col = +x",
        f"shape: [{grid.shape[0]}, {grid.shape[1]}]  # raster rows, cols",
        "sun:",
        f"  azimuth_deg: {_num(sun.azimuth)}  # from north (+y) towards east (+x)",
        f"  elevation_deg: {_num(sun.elevation)}",
        f"  direction: [{', '.join(_num(c, 6) for c in sun.direction)}]  # unit vector towards the sun",
        f"  light_distance: {_num(scene.LIGHT_DISTANCE)}  # [m] the scene's light sits this far up-sun of start",
        "start:  # rover start pose (base_link on the ground) and its clear, smooth disc",
        f"  x: {_num(world.start[0])}",
        f"  y: {_num(world.start[1])}",
        f"  yaw: {_num(world.start[2])}",
        f"  clear_radius: {_num(spec.start_clear_radius)}",
        f"regional_slope: {{slope_deg: {_num(slope)}, direction_deg: {_num(slope_dir)}}}  # uphill direction from +x",
        "hazard_rule:  # hazard.py: SLOPE=1 tilt of the support surface, STEP=2, BELLY=4",
        *[f"  {key}: {_num(value)}" for key, value in world.hazard_rule.items()],
        "render:  # the MuJoCo height field (hfield.bin), coarser than the ground truth for render speed",
        f"  resolution: {_num(render['resolution'])}",
        f"  shape: [{render['shape'][0]}, {render['shape'][1]}]",
        f"  z_min: {_num(render['z_min'], 6)}",
        f"  z_range: {_num(render['z_range'], 6)}",
        "files:",
        f"  rasters: {RASTER_FILE}",
        f"  mjcf: {MJCF_FILE}",
        f"  hfield: {HFIELD_FILE}",
        f"  texture: {TEXTURE_FILE}",
        "rock_model:  # Golombek-Rapp F_k(D) = k exp(-q D); rocks below fold_diameter are in the terrain",
        f"  q: {_num(q_of_k(spec.rock_density), 6)}",
        f"  min_diameter: {_num(MIN_DIAMETER)}",
        f"  max_diameter: {_num(MAX_DIAMETER)}",
        f"  fold_diameter: {_num(spec.fold_diameter)}  # default {DEFAULT_FOLD_DIAMETER}",
        f"  folded_count: {len(world.folded_rocks)}  # listed in terrain.npz folded_rocks",
        f"  count: {len(world.rocks)}",
        f"rock_columns: [{', '.join(ROCK_COLUMNS)}]",
        "rocks:" + (" []" if world.rocks.size == 0 else ""),
    ]
    for rock in world.rocks:
        values = [_num(float(rock[c]), 4) if c != "shape" else str(int(rock[c])) for c in ROCK_COLUMNS]
        lines.append(f"- [{', '.join(values)}]")
    lines.append(f"crater_columns: [{', '.join(CRATER_COLUMNS)}]")
    lines.append("craters:" + (" []" if world.craters.size == 0 else ""))
    for crater in world.craters:
        lines.append(f"- [{', '.join(_num(float(crater[c]), 4) for c in CRATER_COLUMNS)}]")
    assert all(math.isfinite(float(v)) for v in world.start)
    return "\n".join(lines) + "\n"
