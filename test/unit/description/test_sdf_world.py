"""Gazebo world export: heightmap resampling and quantisation, SDF content, our checks, libsdformat."""

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
import yaml

from rover_autonomy.description import sdf_check
from rover_autonomy.description.sdf_world import (
    ATMOSPHERES,
    GazeboExportError,
    WorldData,
    build_world,
    export_sdf,
    heightmap_grid,
    heightmap_side,
    quantise,
    resample_terrain,
    spherical_cap,
)
from rover_autonomy.resources import worlds_dir

needs_ign = pytest.mark.skipif(not sdf_check.ign_available(), reason="ign (libsdformat) not installed")

RESOLUTION = 0.1
ORIGIN = (-6.0, -5.0)


def _terrain(n=121):
    ys, xs = np.mgrid[0:n, 0:n] * RESOLUTION
    return (0.3 * np.sin(xs / 2.0) + 0.2 * np.cos(ys / 3.0) + 0.02 * ys).astype(np.float32)


def _world(tmp_path, terrain=None, planet="mars", texture=True, **changes):
    texture_path = None
    if texture:
        (tmp_path / "world").mkdir(exist_ok=True)
        texture_path = tmp_path / "world" / "regolith.png"
        cv2.imwrite(str(texture_path), np.full((16, 16), 128, np.uint8))
    rocks = {
        "x": np.array([-2.0, 3.5, 0.0]),
        "y": np.array([1.0, -2.5, 4.0]),
        "diameter": np.array([0.4, 0.9, 0.25]),
        "height": np.array([0.15, 0.35, 0.05]),
    }
    fields = dict(
        name=f"{planet}_test",
        planet=planet,
        gravity=3.711 if planet == "mars" else 1.62,
        terrain=_terrain() if terrain is None else terrain,
        origin=ORIGIN,
        resolution=RESOLUTION,
        rocks=rocks,
        sun_direction=(0.5, -0.5, 0.7071),
        start=(1.0, 0.5, 0.3),
        texture=texture_path,
    )
    fields.update(changes)
    return WorldData(**fields)


def _bilinear(terrain, x, y):
    col, row = (x - ORIGIN[0]) / RESOLUTION, (y - ORIGIN[1]) / RESOLUTION
    c, r = int(col), int(row)
    fc, fr = col - c, row - r
    t = terrain.astype(float)
    return (1 - fr) * ((1 - fc) * t[r, c] + fc * t[r, c + 1]) + fr * (
        (1 - fc) * t[r + 1, c] + fc * t[r + 1, c + 1]
    )


# -- heightmap -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("samples", "side"), [(2, 3), (3, 3), (4, 5), (121, 129), (513, 513), (801, 1025)])
def test_heightmap_side_is_the_smallest_power_of_two_plus_one(samples, side):
    assert heightmap_side(samples) == side


def test_heightmap_reproduces_a_plane_within_one_quantisation_step():
    n, side = 101, 129
    ys, xs = np.mgrid[0:n, 0:n] * RESOLUTION
    plane = 0.05 * xs - 0.03 * ys + 1.0  # bilinear resampling is exact on a plane
    image, z_min, z_range = quantise(resample_terrain(plane, side))
    assert image.dtype == np.uint16 and image.shape == (side, side)
    step = z_range / 65535
    decoded = image[::-1].astype(float) * step + z_min  # row 0 of the image is +y
    coords = np.linspace(0, (n - 1) * RESOLUTION, side)
    expected = 0.05 * coords[None, :] - 0.03 * coords[:, None] + 1.0
    assert np.abs(decoded - expected).max() <= step / 2 + 1e-12
    assert image.min() == 0 and image.max() == 65535


def test_heightmap_holds_every_master_node_to_half_a_step(exported):
    world, path, root = exported
    heightmap = root.find("world/model[@name='terrain']/link/collision/geometry/heightmap")
    size = [float(v) for v in heightmap.find("size").text.split()]
    pos = [float(v) for v in heightmap.find("pos").text.split()]
    image = cv2.imread(str(path.parent / heightmap.find("uri").text), cv2.IMREAD_UNCHANGED)
    side = image.shape[0]
    step = size[2] / 65535
    heights = image[::-1].astype(float) * step + pos[2]
    spacing = size[0] / (side - 1)
    assert spacing == pytest.approx(RESOLUTION)
    first_col = round((ORIGIN[0] - (pos[0] - size[0] / 2)) / spacing)
    first_row = round((ORIGIN[1] - (pos[1] - size[1] / 2)) / spacing)
    n = world.terrain.shape[0]
    nodes = heights[first_row : first_row + n, first_col : first_col + n]
    assert np.abs(nodes - world.terrain).max() <= step / 2 + 1e-6


def test_rasters_above_the_largest_heightmap_are_resampled_over_the_same_extent(monkeypatch):
    from rover_autonomy.description import sdf_world

    monkeypatch.setattr(sdf_world, "MAX_HEIGHTMAP", 65)  # as 4097 does for rasters above 4097 samples
    ys, xs = np.mgrid[0:100, 0:100] * 0.01
    heights, origin, spacing = heightmap_grid(0.3 * xs - 0.2 * ys, (-10.0, -10.0), 0.01)
    assert heights.shape == (65, 65) and origin == (-10.0, -10.0)
    assert spacing * 64 == pytest.approx(0.01 * 99)
    coords = np.arange(65) * spacing
    assert np.allclose(heights, 0.3 * coords[None, :] - 0.2 * coords[:, None])


def test_image_top_row_is_north():
    ramp = np.tile(np.arange(9, dtype=float)[:, None], (1, 9))  # rises towards +y (rows)
    image, _, _ = quantise(resample_terrain(ramp, 9))
    assert (image[0] == 65535).all() and (image[-1] == 0).all()


def test_spherical_cap_has_the_rock_footprint_and_height():
    radius, centre = spherical_cap(0.9, 0.35)
    assert centre + radius == pytest.approx(0.35)  # top of the rock
    assert np.sqrt(radius**2 - centre**2) == pytest.approx(0.45)  # circle cut by the ground


# -- exported world --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gz")
    world = _world(tmp)
    path = build_world(world, tmp / "out")
    return world, path, ET.parse(path).getroot()


def test_world_elements_carry_planet_sun_and_terrain(exported):
    world, _, root = exported
    assert root.get("version") == "1.9"
    w = root.find("world")
    assert [float(v) for v in w.find("gravity").text.split()] == [0.0, 0.0, -3.711]
    atmosphere = w.find("atmosphere")
    assert atmosphere.get("type") == "adiabatic"
    assert float(atmosphere.find("pressure").text) == ATMOSPHERES["mars"].pressure
    assert float(atmosphere.find("temperature").text) == ATMOSPHERES["mars"].temperature
    sun = w.find("light[@name='sun']")
    direction = np.array([float(v) for v in sun.find("direction").text.split()])
    to_sun = np.array(world.sun_direction) / np.linalg.norm(world.sun_direction)
    assert np.allclose(direction, -to_sun, atol=1e-8)
    heightmap = w.find("model[@name='terrain']/link/collision/geometry/heightmap")
    size = [float(v) for v in heightmap.find("size").text.split()]
    pos = [float(v) for v in heightmap.find("pos").text.split()]
    # 121 nodes padded evenly to 129 at the same spacing: the world's centre stays the heightmap's.
    extent = (world.terrain.shape[0] - 1) * RESOLUTION
    terrain = world.terrain.astype(float)
    assert size[:2] == pytest.approx([128 * RESOLUTION, 128 * RESOLUTION])
    assert pos == pytest.approx([ORIGIN[0] + extent / 2, ORIGIN[1] + extent / 2, terrain.min()])
    assert size[2] == pytest.approx(terrain.max() - terrain.min())
    systems = {p.get("name") for p in w.findall("plugin")}
    assert {"gz::sim::systems::Physics", "gz::sim::systems::Sensors", "gz::sim::systems::Imu"} <= systems
    assert "gz::sim::systems::UserCommands" in systems  # ros_gz_sim create spawns through it


def test_friction_is_the_embedded_simulators(exported):
    from rover_autonomy.sim.terramechanics import ROCK_FRICTION, SOILS

    _, _, root = exported
    terrain = root.find("world/model[@name='terrain']/link/collision/surface/friction/ode")
    assert float(terrain.find("mu").text) == pytest.approx(np.tan(SOILS["mars"].friction_angle))
    rock = next(c for c in root.iter("collision") if c.get("name").startswith("rock_"))
    assert float(rock.find("surface/friction/ode/mu2").text) == ROCK_FRICTION


def test_rocks_are_caps_on_the_terrain(exported):
    world, _, root = exported
    collisions = [c for c in root.iter("collision") if c.get("name").startswith("rock_")]
    assert len(collisions) == len(world.rocks["x"])
    for i, collision in enumerate(sorted(collisions, key=lambda c: c.get("name"))):
        x, y, z = (float(v) for v in collision.find("pose").text.split()[:3])
        radius = float(collision.find("geometry/sphere/radius").text)
        ground = _bilinear(world.terrain, x, y)
        assert (x, y) == pytest.approx((world.rocks["x"][i], world.rocks["y"][i]))
        assert z + radius - ground == pytest.approx(world.rocks["height"][i], abs=1e-6)
        assert np.sqrt(radius**2 - (ground - z) ** 2) == pytest.approx(
            world.rocks["diameter"][i] / 2, abs=1e-6
        )


def test_metadata_gives_the_spawn_pose_on_the_terrain(exported):
    world, path, _ = exported
    meta = yaml.safe_load((path.parent / "gazebo.yaml").read_text())
    assert meta["start"]["z"] == pytest.approx(_bilinear(world.terrain, 1.0, 0.5), abs=1e-6)
    assert (meta["start"]["x"], meta["start"]["y"], meta["start"]["yaw"]) == (1.0, 0.5, 0.3)
    assert meta["heightmap"]["side"] == 129


def test_our_checks_pass_on_an_export(exported):
    _, path, _ = exported
    assert sdf_check.check_world_sdf(path) == []
    referenced = {p.name for _, p in sdf_check.referenced_files(path)}
    assert referenced == {"terrain.png", "terrain_texture.png", "terrain_normal.png"}


@needs_ign
def test_libsdformat_validates_exports_of_both_planets(exported, tmp_path):
    _, path, _ = exported
    moon = build_world(_world(tmp_path, planet="moon", texture=False), tmp_path / "moon")
    for sdf in (path, moon):
        valid, output = sdf_check.ign_check(sdf)
        assert valid, output[-2000:]


@needs_ign
def test_the_elements_we_write_exist_in_sdf_1_9():
    assert sdf_check.spec_paths("1.9") >= sdf_check.USED_PATHS


# -- what ign sdf -k misses, our checks catch ------------------------------------------------------


def _copy(exported, tmp_path):
    _, path, _ = exported
    out = tmp_path / "copy"
    shutil.copytree(path.parent, out)
    return out / path.name


def test_checks_report_unknown_elements(exported, tmp_path):
    sdf = _copy(exported, tmp_path)
    sdf.write_text(sdf.read_text().replace("<static>", "<statik>true</statik><static>", 1))
    problems = sdf_check.check_world_sdf(sdf)
    assert problems == ["world.sdf: element /sdf/world/model/statik is not one the exporter writes"]


def test_checks_report_missing_and_malformed_heightmaps(exported, tmp_path):
    sdf = _copy(exported, tmp_path)
    (sdf.parent / "terrain_normal.png").unlink()
    assert any("terrain_normal.png, which does not exist" in p for p in sdf_check.check_world_sdf(sdf))
    cv2.imwrite(str(sdf.parent / "terrain.png"), np.zeros((100, 100), np.uint8))
    problems = " ".join(sdf_check.check_world_sdf(sdf))
    assert "expected 16-bit grey" in problems and "2^n+1 pixels a side, got 100x100" in problems


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"terrain": np.zeros((10, 12), np.float32)}, "heightmaps are square"),
        ({"terrain": np.full((9, 9), np.nan, np.float32)}, "NaN or infinite"),
        ({"planet": "venus"}, "no Gazebo atmosphere for planet 'venus'"),
        ({"rocks": {"x": np.zeros(1), "y": np.zeros(1), "diameter": np.ones(1)}}, "lack the 'height' column"),
    ],
)
def test_worlds_gazebo_cannot_express_are_refused(tmp_path, changes, message):
    with pytest.raises(GazeboExportError, match=message):
        build_world(_world(tmp_path, **changes), tmp_path / "out")


def test_export_command_answers_a_missing_world_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rover_autonomy.description.sdf_world",
            str(tmp_path / "none"),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a world directory" in result.stderr


# -- shipped worlds --------------------------------------------------------------------------------


@pytest.mark.parametrize("planet", ["moon", "mars"])
def test_shipped_gazebo_export_is_current_and_sound(planet, tmp_path):
    shipped = worlds_dir() / planet / "gazebo"
    assert (shipped / "world.sdf").is_file(), (
        f"regenerate: python -m rover_autonomy.description.sdf_world {planet} worlds/{planet}/gazebo"
    )
    # Exported inside a copy of the world directory, as shipped (the texture is referred to, not copied).
    copy = shutil.copytree(worlds_dir() / planet, tmp_path / planet, ignore=shutil.ignore_patterns("gazebo"))
    fresh = export_sdf(copy, copy / "gazebo").parent
    for name in ("world.sdf", "gazebo.yaml", "terrain.png", "terrain_normal.png"):
        assert (fresh / name).read_bytes() == (shipped / name).read_bytes(), (
            f"worlds/{planet}/gazebo/{name} is stale: "
            f"python -m rover_autonomy.description.sdf_world {planet} worlds/{planet}/gazebo"
        )
    assert sdf_check.check_world_sdf(shipped / "world.sdf") == []


@needs_ign
def test_shipped_moon_passes_libsdformat():
    valid, output = sdf_check.ign_check(worlds_dir() / "moon" / "gazebo" / "world.sdf")
    assert valid, output[-2000:]
