"""World generator: determinism, rock and crater statistics against their models, hazards, the MuJoCo
scene against the ground truth, the loader's validation and the CLI's answers to bad input."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.paths import REPO

from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.worlds import WorldError, WorldSpec, WorldSpecError, generate, load_world, write_world
from rover_autonomy.worlds import craters as crater_model
from rover_autonomy.worlds import hazard as hazard_model
from rover_autonomy.worlds import rocks as rock_model
from rover_autonomy.worlds.cli import main as cli_main
from rover_autonomy.worlds.grid import Grid
from rover_autonomy.worlds.planets import FRESH_DEPTH_RATIO, MIN_DEPTH_RATIO, PLANETS
from rover_autonomy.worlds.world import write_atomically

SMALL = {"size": 20.0, "resolution": 0.05}


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


@pytest.fixture(scope="module")
def mars_dir(tmp_path_factory, model):
    # 60 m: big enough that the rock statistics hold to a few per cent for any seed (5.7 % standard
    # deviation of the CFA at D >= 0.5 m over 30 seeds), small enough to generate in a second.
    out = tmp_path_factory.mktemp("worlds") / "mars"
    spec = WorldSpec(planet="mars", seed=11, rock_density=0.2, size=60.0, resolution=0.1)
    write_world(generate(spec, model), out, model=model)
    return out


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory, model):
    out = tmp_path_factory.mktemp("worlds") / "small"
    write_world(
        generate(WorldSpec(planet="mars", seed=4, size=12.0, resolution=0.1), model), out, model=model
    )
    return out


@pytest.fixture(scope="module")
def mars(mars_dir):
    return load_world(mars_dir)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path, model):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        write_world(
            generate(WorldSpec(planet="mars", seed=seed, rock_density=0.15, **SMALL), model), tmp_path / name
        )
    original, same, other = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert same == original
    for name in ("terrain.npz", "world.yaml", "scene.xml", "hfield.bin"):
        assert other[name] != original[name], name


def test_rock_cumulative_fractional_area_follows_golombek_rapp():
    # Large samples: the model itself, for the range of k the CLI accepts.
    for k in (0.02, 0.07, 0.15, 0.3):
        rocks = rock_model.sample_rocks(np.random.default_rng(5), k, (0.0, 200.0, 0.0, 200.0))
        area = math.pi / 4 * rocks["diameter"] ** 2
        for d in (0.2, 0.3, 0.5):
            measured = area[rocks["diameter"] >= d].sum() / 200.0**2
            expected = float(rock_model.cumulative_fractional_area(k, d))
            assert measured == pytest.approx(expected, rel=0.2), (k, d)


def test_generated_world_rocks_follow_golombek_rapp_with_folded_rocks_counted(mars):
    diameters = mars.all_rock_diameters()
    assert mars.folded_rocks.size > 0 and np.all(mars.folded_rocks["diameter"] < 0.15)
    assert np.all(mars.rocks["diameter"] >= 0.15)
    # Rocks are kept out of the start disc: the statistic is over the rest of the world.
    area = mars.size**2 - math.pi * mars.start_clear_radius**2
    for d in (0.1, 0.2, 0.3, 0.5):
        measured = (math.pi / 4 * diameters[diameters >= d] ** 2).sum() / area
        expected = float(rock_model.cumulative_fractional_area(mars.rock_density, d))
        assert measured == pytest.approx(expected, rel=0.2), d
    # Partly buried: visible height about half the diameter on average, never above it.
    ratio = mars.rocks["height"] / mars.rocks["diameter"]
    assert 0.35 < np.median(ratio) < 0.6 and ratio.max() < 1.0


def test_rocks_stand_on_the_ground_truth_surface(mars):
    from scipy.spatial import cKDTree

    # Rocks with no other rock within their diameter: the crest over the footprint is their own.
    tree = cKDTree(np.stack([mars.rocks["x"], mars.rocks["y"]], axis=1))
    big = [
        rock
        for rock in mars.rocks[mars.rocks["diameter"] >= 0.5]
        if len(tree.query_ball_point([rock["x"], rock["y"]], 0.75 * rock["diameter"] + 0.25)) == 1
    ]
    assert len(big) > 10
    errors = []
    for rock in big:
        r = rock["diameter"] / 2
        x, y = np.meshgrid(np.linspace(-r, r, 41) + rock["x"], np.linspace(-r, r, 41) + rock["y"])
        top = np.nanmax(mars.height_at(x, y))
        errors.append(top - mars.terrain_height_at(rock["x"], rock["y"]) - rock["height"])
    # The highest ground-truth point over a rock is its recorded top: exact up to how the grid
    # (0.1 m here) samples a pointed crest.
    errors = np.abs(errors)
    assert np.median(errors) < 0.02 and errors.max() < 0.08


def test_crater_statistics_and_profile_follow_the_model():
    planet = PLANETS["moon"]
    craters = crater_model.sample_craters(np.random.default_rng(2), planet, (0, 300, 0, 300), 0.5, 60.0)
    ratio = craters["depth"] / craters["diameter"]
    assert ratio.min() >= MIN_DEPTH_RATIO - 1e-9 and ratio.max() <= FRESH_DEPTH_RATIO + 1e-9
    assert np.mean(ratio > 0.15) > 0.05  # some fresh craters, most degraded
    # Equilibrium population: cumulative counts fall as D^-2 (within the sampled window).
    counts = [np.sum(craters["diameter"] >= d) for d in (0.5, 1.0, 2.0)]
    slopes = np.diff(np.log(counts)) / np.log(2.0)
    np.testing.assert_allclose(slopes, -2.0, atol=0.15)
    # A fresh crater stamped on flat ground: rim-to-floor depth 0.2 D, rim above the surroundings.
    grid = Grid.square(40.0, 0.05)
    height = np.zeros(grid.shape)
    fresh = np.zeros(1, crater_model.CRATER_DTYPE)
    fresh[0] = (0.0, 0.0, 10.0, 2.0, 0.36, 0.0)
    crater_model.stamp_craters(height, grid.origin, grid.resolution, fresh)
    floor = grid.bilinear(height, 0.0, 0.0)
    rim = height.max()
    assert rim - floor == pytest.approx(2.0, rel=0.05)
    assert rim == pytest.approx(0.36, rel=0.15)  # rounding the cusp of a fresh rim lowers it ~10 %
    assert abs(grid.bilinear(height, 14.9, 0.0)) < 0.01  # ejecta thins out by 3 radii


def test_generated_craters_are_in_the_model_range(mars):
    ratio = mars.craters["depth"] / mars.craters["diameter"]
    assert mars.craters.size > 0
    assert np.all((ratio >= MIN_DEPTH_RATIO - 1e-3) & (ratio <= FRESH_DEPTH_RATIO + 1e-3))


def test_hazard_rule_on_known_surfaces(model):
    res = 0.05
    xs = np.arange(200) * res
    rule = hazard_model.hazard_rule(model)
    for slope_deg, expect in ((rule["max_tilt_deg"] + 5, True), (rule["max_tilt_deg"] - 5, False)):
        plane = np.tile(xs * math.tan(math.radians(slope_deg)), (200, 1))
        flags = hazard_model.hazard_layer(plane, res, model)
        assert bool(np.all(flags[50:150, 50:150] & hazard_model.SLOPE)) is expect
        assert not np.any(flags & hazard_model.STEP)
    for step, expect in ((rule["max_step"] + 0.05, True), (rule["max_step"] - 0.05, False)):
        ledge = np.where(xs[None, :] > 5.0, step, 0.0) * np.ones((200, 1))
        assert bool(np.any(hazard_model.hazard_layer(ledge, res, model) & hazard_model.STEP)) is expect
    for tall, expect in ((rule["max_protrusion"] + 0.1, True), (rule["max_protrusion"] - 0.1, False)):
        post = np.zeros((200, 200))
        post[98:102, 98:102] = tall
        belly = hazard_model.hazard_layer(post, res, model) & hazard_model.BELLY
        assert bool(belly[100, 100]) is expect


def test_world_hazards_mark_tall_rocks_and_spare_the_start(mars, model):
    rule = hazard_model.hazard_rule(model)
    # A rock taller than the wheel's step limit is flagged along its flanks (where the step is).
    tall = mars.rocks[mars.rocks["height"] > rule["max_step"] + 0.05]
    assert tall.size > 10
    for rock in tall:
        r = rock["diameter"] / 2
        x, y = np.meshgrid(np.linspace(-r, r, 9) + rock["x"], np.linspace(-r, r, 9) + rock["y"])
        assert np.any(mars.hazard_at(x, y) & hazard_model.STEP)
    low = mars.rocks[mars.rocks["height"] < 0.5 * rule["max_step"]]
    isolated = [rock for rock in low if not np.any(mars.hazard_at(rock["x"], rock["y"]))]
    assert len(isolated) > 0.8 * len(low)  # small rocks are no hazard (unless next to a big one)
    x, y = np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21))
    inside = np.hypot(x, y) <= 1
    sx, sy = (
        mars.start.x + x[inside] * mars.start_clear_radius,
        mars.start.y + y[inside] * mars.start_clear_radius,
    )
    assert not np.any(mars.hazard_at(sx, sy))


def test_world_metadata_and_sampling(mars, model):
    assert mars.planet == "mars" and mars.gravity == pytest.approx(3.711)
    assert mars.grid.shape == (601, 601) and mars.surface.dtype == np.float32
    assert mars.extent == pytest.approx((-30.0, 30.0, -30.0, 30.0))
    # Bilinear sampling returns the raster at nodes and NaN outside.
    assert mars.height_at(mars.grid.xs[7], mars.grid.ys[3]) == pytest.approx(float(mars.surface[3, 7]))
    assert math.isnan(mars.height_at(30.5, 0.0))
    assert mars.start.x == pytest.approx(-18.0) and mars.start.yaw == 0.0
    assert len(mars.rocks) == mars.metadata["rock_model"]["count"] > 1000
    assert np.isclose(np.linalg.norm(mars.sun.direction), 1.0)


def test_mjcf_loads_and_a_dropped_box_rests_on_the_ground_truth(mars):
    mujoco = pytest.importorskip("mujoco")
    spec = mujoco.MjSpec.from_file(str(mars.mjcf_path))
    half = 0.1
    boxes = [(mars.start.x + dx, mars.start.y + dy) for dx, dy in ((0, 0), (1.5, 0.8), (-1.2, -1.5))]
    for i, (x, y) in enumerate(boxes):
        body = spec.worldbody.add_body(name=f"box{i}", pos=[x, y, mars.height_at(x, y) + 0.3])
        body.add_freejoint()
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[half, half, half], density=1500)
    m = spec.compile()
    assert m.opt.gravity[2] == pytest.approx(-mars.gravity)
    d = mujoco.MjData(m)
    for _ in range(1500):  # 3 s
        mujoco.mj_step(m, d)
    for i, (x, y) in enumerate(boxes):
        pos = d.body(f"box{i}").xpos
        assert np.linalg.norm(d.body(f"box{i}").cvel) < 1e-2  # at rest
        assert np.hypot(pos[0] - x, pos[1] - y) < 0.05  # where it was dropped
        assert pos[2] - half == pytest.approx(mars.height_at(pos[0], pos[1]), abs=0.02)
    # Rays onto the rocks of the scene hit the ground-truth surface: same geometry in both.
    biggest = mars.rocks[np.argsort(mars.rocks["diameter"])[-20:]]
    geom = np.array([-1], np.int32)
    for rock in biggest:
        dist = mujoco.mj_ray(
            m, d, np.array([rock["x"], rock["y"], 50.0]), np.array([0, 0, -1.0]), None, 1, -1, geom
        )
        assert 50.0 - dist == pytest.approx(mars.height_at(rock["x"], rock["y"]), abs=0.02)


def test_spec_validation_rejects_bad_input(model):
    bad = [
        ({"planet": "venus"}, "unknown planet"),
        ({"rock_density": 0.0}, "outside (0, 0.5]"),
        ({"rock_density": 0.6}, "outside (0, 0.5]"),
        ({"rock_density": float("nan")}, "outside (0, 0.5]"),
        ({"size": 4.0}, "too small for the rover"),
        ({"resolution": 0.0}, "resolution"),
        ({"size": 2000.0}, "nodes per raster"),
        ({"planet": "mars", "polar": True}, "Moon only"),
    ]
    for change, message in bad:
        with pytest.raises(WorldSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            WorldSpec(**{"planet": "moon", **change}).validated(model)


def test_loader_rejects_corrupt_worlds(tmp_path, small_dir):
    import shutil

    def broken(name, edit):
        target = tmp_path / name
        shutil.copytree(small_dir, target)
        edit(target)
        return target

    meta = yaml.safe_load((small_dir / "world.yaml").read_text())
    cases = [
        (lambda p: (p / "world.yaml").write_text("format: [unclosed"), "not valid YAML"),
        (lambda p: (p / "world.yaml").write_text("just a string"), "expected a mapping"),
        (lambda p: (p / "world.yaml").write_text(yaml.safe_dump({**meta, "gravity": "high"})), "gravity"),
        (lambda p: (p / "world.yaml").write_text(yaml.safe_dump({**meta, "shape": [10, 10]})), "shape"),
        (lambda p: (p / "world.yaml").write_text(yaml.safe_dump({**meta, "rocks": [[1, 2]]})), "rocks"),
        (lambda p: (p / "world.yaml").write_text(yaml.safe_dump({**meta, "format": "other/9"})), "format"),
        (lambda p: (p / "terrain.npz").write_bytes(b"PK\x03\x04 truncated"), "cannot read rasters"),
        (lambda p: (p / "terrain.npz").unlink(), "cannot read rasters"),
        (lambda p: (p / "scene.xml").unlink(), "missing scene.xml"),
        (lambda p: (p / "world.yaml").unlink(), "not a world directory"),
    ]
    for i, (edit, message) in enumerate(cases):
        with pytest.raises(WorldError, match=message) as info:
            load_world(broken(f"w{i}", edit))
        assert "\n" not in str(info.value)


def test_cli_writes_a_world_and_answers_bad_input_with_one_line(tmp_path, capsys):
    out = tmp_path / "easy"
    assert (
        cli_main(
            [
                "--planet",
                "moon",
                "--seed",
                "3",
                "--rock-density",
                "0.005",
                "--size",
                "12",
                "--resolution",
                "0.1",
                "--out",
                str(out),
                "--preview",
            ]
        )
        == 0
    )
    world = load_world(out)
    assert world.preview_path is not None and world.rock_density == 0.005
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    bad = [
        ["--planet", "venus", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--rock-density", "0", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--rock-density", "0.51", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--size", "3", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--size", "12", "--resolution", "0.1", "--out", str(blocker / "x")],
        ["--planet", "mars", "--size", "12", "--resolution", "0.1", "--out", str(blocker)],
        ["--planet", "mars", "--seed", "-1", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--size", "nan", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--polar", "--out", str(tmp_path / "x")],
        ["--planet", "mars", "--seed", "abc", "--out", str(tmp_path / "x")],
    ]
    capsys.readouterr()
    for argv in bad:
        try:
            code = cli_main(argv)
        except SystemExit as exit_:  # argparse's own type errors
            code = exit_.code
        assert code == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("rover-autonomy world: error:"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "easy"]  # nothing half-written


def test_interrupted_write_leaves_nothing_behind(tmp_path, small_dir):
    def fail_midway(tmp):
        (tmp / "world.yaml").write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "new", fail_midway)
    assert list(tmp_path.iterdir()) == []
    # A failed regeneration leaves the existing world as it was.
    import shutil

    shutil.copytree(small_dir, tmp_path / "old")
    before = _files(tmp_path / "old")
    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "old", fail_midway)
    assert _files(tmp_path / "old") == before and sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    # A non-empty directory that is not a world is never replaced.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(WorldError, match="not a world directory"):
        write_atomically(tmp_path / "mine", lambda tmp: None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_shipped_worlds_load():
    for name in ("moon", "mars"):
        world = load_world(name)
        assert world.planet == name and world.size >= 80.0
        assert world.start_clear_radius > 0


def test_cli_runs_as_a_module(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rover_autonomy.worlds.cli",
            "--planet",
            "pluto",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown planet 'pluto'" in result.stderr


def test_easy_world_has_a_hazard_free_15_m_corridor(model):
    # The CI mission world: `rover-autonomy world --planet P --easy --seed 0 --size 30 --resolution 0.1`.
    for planet in ("moon", "mars"):
        world = generate(WorldSpec(planet=planet, seed=0, easy=True, size=30.0, resolution=0.1), model)
        assert world.spec.rock_density == 0.01
        x0, y0, _ = world.start
        rows = np.abs(world.grid.ys - y0) <= 1.5  # the rover's width plus margin
        cols = (world.grid.xs >= x0) & (world.grid.xs <= x0 + 17.0)
        assert not np.any(world.hazard[np.ix_(rows, cols)]), planet
        assert np.all(world.rocks["height"] < model.limits.max_step)


def test_cli_registers_as_a_subcommand_and_polar_sets_a_low_sun(tmp_path):
    from rover_autonomy.cli import build_parser

    args = build_parser().parse_args(
        [
            "world",
            "--planet",
            "moon",
            "--polar",
            "--size",
            "12",
            "--resolution",
            "0.1",
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert args.handler(args) == 0
    world = load_world(tmp_path / "p")
    assert world.sun.elevation == pytest.approx(4.0) and world.gravity == pytest.approx(1.62)


def test_cli_gazebo_flag_exports_a_sound_sdf(tmp_path):
    from rover_autonomy.cli import main
    from rover_autonomy.description.sdf_check import check_world_sdf

    out = tmp_path / "gz"
    argv = ["world", "--planet", "mars", "--easy", "--size", "12", "--resolution", "0.1", "--out", str(out)]
    assert main([*argv, "--gazebo"]) == 0
    sdf = out / "gazebo" / "world.sdf"
    assert sdf.is_file() and (out / "gazebo" / "terrain.png").is_file()
    assert check_world_sdf(sdf) == []
    assert load_world(out).planet == "mars"
