"""Simulator core without ROS: rover model in MuJoCo, terramechanics, sensors, command checks, lockstep."""

import itertools
import math

import numpy as np
import pytest

from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.sim.engine import CommandError, RoverSim, SimConfig
from rover_autonomy.sim.lockstep import LockstepGate, parse_gate_topics
from rover_autonomy.sim.scene import WorldError, resolve_world, slope_world, terrain_world
from rover_autonomy.sim.terramechanics import SOILS, WheelGeometry, soil_forces, steady_slip

MODEL = load_rover_model()
WHEEL = WheelGeometry(MODEL.wheel_radius, MODEL.wheel_width)


@pytest.fixture(scope="module")
def flat_sim():
    sim = RoverSim(slope_world(0.0, start=(0.0, 0.0, 0.0)), MODEL)
    yield sim
    sim.close()


def test_rover_is_built_from_the_model(flat_sim):
    m = flat_sim.model
    rover_mass = sum(m.body_mass[b] for b in range(m.nbody) if m.body_rootid[b] == flat_sim.base_body)
    assert rover_mass == pytest.approx(MODEL.total_mass)
    names, positions, rates = flat_sim.joint_state()
    assert names == MODEL.drive_joints + MODEL.steer_joints + MODEL.suspension_joints
    assert positions.shape == rates.shape == (len(names),)


def test_spawn_settles_base_link_on_the_ground_at_nominal_suspension(flat_sim):
    truth = flat_sim.ground_truth()
    assert flat_sim.time_ns == 0
    assert abs(truth.position[2]) < 0.01  # base_link origin is on the ground on flat terrain
    assert np.linalg.norm(truth.linear) < 0.01
    _, positions, _ = flat_sim.joint_state()
    assert np.max(np.abs(positions[-4:])) < 0.01
    # Every wheel carries weight, about a sixth each.
    share = flat_sim.wheel_load / (MODEL.total_mass * flat_sim.world.gravity)
    assert np.all(share > 0.1) and share.sum() == pytest.approx(1.0, rel=0.05)


def test_differential_ties_the_rockers_on_a_bump():
    heights = np.zeros((48, 80))
    heights[:, 44:52] = 0.12  # a 12 cm step under the left front wheel's path only... on both sides
    heights[:24, :] = 0.0  # right half (y < 0) stays flat
    world = terrain_world(heights, 0.1, start=(0.0, 0.0, 0.0))
    sim = RoverSim(world, MODEL)
    cmd = wheel_commands(MODEL, 0.2, 0.0)
    sim.command_drive(cmd.drive)
    sim.step(int(2.5 / sim.config.timestep))
    names, positions, _ = sim.joint_state()
    angle = dict(zip(names, positions, strict=True))
    assert abs(angle["rocker_left"]) > 0.02  # the bump moved the suspension
    assert angle["rocker_left"] == pytest.approx(-angle["rocker_right"], abs=2e-3)
    sim.close()


def test_slip_grows_with_slope_and_spins_out_on_steep_sand():
    gravity, soil = 3.711, SOILS["mars"]
    weight = MODEL.total_mass * gravity / len(MODEL.wheels)
    slips = [
        steady_slip(weight * math.sin(math.radians(a)), weight * math.cos(math.radians(a)), soil, WHEEL)
        for a in (0, 5, 10, 15)
    ]
    assert all(b > a for a, b in itertools.pairwise(slips))
    assert slips[0] < 0.05 and 0.1 < slips[2] < 0.4
    assert (
        steady_slip(weight * math.sin(math.radians(25)), weight * math.cos(math.radians(25)), soil, WHEEL)
        == 1.0
    )
    # On level ground (compaction resistance only) a heavier wheel rolls at more slip.
    level = [steady_slip(0.0, w, soil, WHEEL) for w in (weight / 2, weight, 2 * weight)]
    assert level[0] < level[1] < level[2]


def test_soil_force_is_traction_when_driving_and_resistance_when_rolling():
    load = np.full(3, 120.0)
    pull, side, slip = soil_forces(
        load, np.array([0.3, 0.6, 0.0]), np.array([0.3, 0.3, 0.0]), np.zeros(3), SOILS["mars"], WHEEL
    )
    assert slip.tolist() == pytest.approx([0.0, 0.5, 0.0])
    assert pull[0] < 0 < pull[1]  # free rolling loses the compaction resistance; slipping drives
    assert pull[1] < 120.0 * math.tan(SOILS["mars"].friction_angle) + 50  # bounded by the shear strength
    _, side, _ = soil_forces(
        load[:1], np.array([0.3]), np.array([0.3]), np.array([0.1]), SOILS["mars"], WHEEL
    )
    assert side[0] < 0  # opposes sliding sideways


def test_straight_drive_on_flat_ground_covers_the_commanded_distance():
    sim = RoverSim(slope_world(0.0, start=(-5.0, 0.0, 0.0)), MODEL)
    start = sim.ground_truth().position
    cmd = wheel_commands(MODEL, 0.3, 0.0)
    sim.command_steer(cmd.steer)
    sim.command_drive(cmd.drive)
    sim.step(int(10.0 / sim.config.timestep))
    moved = sim.ground_truth().position - start
    assert moved[0] == pytest.approx(3.0, rel=0.15)
    assert abs(moved[1]) < 0.05
    assert np.all((sim.wheel_slip > 0) & (sim.wheel_slip < 0.1))  # sand: a little slip, no spinning
    sim.close()


def test_imu_reads_the_planets_gravity_at_rest(flat_sim):
    accel = []
    for _ in range(50):
        flat_sim.step(2)
        accel.append(flat_sim.imu_sample().linear_acceleration)
    mean = np.mean(accel, axis=0)
    assert np.linalg.norm(mean) == pytest.approx(3.711, abs=0.06)  # bias sigma is 0.02 m/s^2 per axis
    assert mean[2] > 3.6
    spread = np.std(accel, axis=0)
    expected = MODEL.imu.accel_noise_density * math.sqrt(MODEL.imu.rate)
    assert spread == pytest.approx([expected] * 3, rel=0.5)


def test_imu_noise_is_seeded():
    a = RoverSim(slope_world(0.0), MODEL, SimConfig(seed=3))
    b = RoverSim(slope_world(0.0), MODEL, SimConfig(seed=3))
    a.step(2), b.step(2)
    assert np.array_equal(a.imu_sample().angular_velocity, b.imu_sample().angular_velocity)


@pytest.mark.parametrize(
    "values, problem",
    [([0.0] * 5, "expected 6"), ([0.0] * 5 + [math.nan], "NaN"), ([1e6] + [0.0] * 5, "beyond")],
)
def test_malformed_commands_are_refused(flat_sim, values, problem):
    with pytest.raises(CommandError, match=problem):
        flat_sim.command_drive(values)
    with pytest.raises(CommandError):
        flat_sim.command_steer([math.inf] * 4)


def test_commands_within_the_absurd_margin_are_clamped_to_the_limits(flat_sim):
    flat_sim.command_drive([MODEL.wheel_max_rate * 1.5] * 6)
    assert flat_sim.drive_target.tolist() == [MODEL.wheel_max_rate] * 6
    flat_sim.stop()


def test_unknown_and_corrupt_worlds_are_reported(tmp_path):
    with pytest.raises(WorldError, match="venus"):
        resolve_world("venus")
    with pytest.raises(WorldError, match="slope"):
        resolve_world("slope:steep")
    with pytest.raises(WorldError):
        resolve_world(str(tmp_path))  # an empty directory is no world


def test_lockstep_gate_waits_for_every_topic_or_times_out():
    topics = parse_gate_topics(
        ["cmd_vel:geometry_msgs/msg/TwistStamped", "drive_controller/commands:std_msgs/Float64MultiArray"]
    )
    assert [t.type_path for t in topics] == [
        "geometry_msgs/msg/TwistStamped",
        "std_msgs/msg/Float64MultiArray",
    ]
    with pytest.raises(ValueError, match="expected"):
        parse_gate_topics(["cmd_vel"])
    gate = LockstepGate([t.topic for t in topics], timeout=1.0)
    gate.hold(500, wall_now=0.0)
    gate.observe("cmd_vel", 400)  # an answer to an older frame does not count
    gate.observe("drive_controller/commands", None)
    assert gate.poll(0.1) is None and gate.holding and gate.missing == ["cmd_vel"]
    gate.observe("cmd_vel", 500)
    assert gate.poll(0.2) is None and not gate.holding
    gate.hold(1000, wall_now=1.0)
    assert "cmd_vel" in gate.poll(2.5) and not gate.holding and gate.timeouts == 1


def test_contacts_separate_the_body_from_the_wheels():
    # A boulder under the chassis: the rover is high-centred on it.
    world = terrain_world(np.zeros((40, 40)), 0.1, rocks=np.array([[0.0, 0.0, 0.25, 0.5]]))
    sim = RoverSim(world, MODEL)
    contacts = sim.contacts()
    body = [c for c in contacts if not c.wheel]
    assert body and {c.other for c in body} == {"rock_0"}
    assert {c.part for c in body} <= {"chassis", "mast", "camera_head", *MODEL.suspension_joints}
    assert all(c.part.startswith("wheel_") for c in contacts if c.wheel)
    sim.close()


def test_rock_culling_leaves_the_images_unchanged():
    rng = np.random.default_rng(1)
    xy = rng.uniform(-18.0, 18.0, (300, 2))
    rocks = np.column_stack([xy, np.full(300, 0.05), rng.uniform(0.1, 0.4, 300)])
    world = terrain_world(np.zeros((81, 81)), 0.5, rocks=rocks)
    sim = RoverSim(world, MODEL, SimConfig(cameras=True))
    culled = sim.render_stereo()
    hidden = int(np.sum(sim.model.geom_group == sim.renderer.CULLED_GROUP))
    assert 50 < hidden < 300  # rocks behind and beside the cameras
    sim.renderer._static = np.zeros(0, int)  # culling off
    sim.model.geom_group[:] = 0
    full = sim.render_stereo()
    assert all(np.array_equal(a, b) for a, b in zip(culled, full, strict=True))
    sim.close()


def test_a_corrupt_world_scene_is_reported(tmp_path):
    import shutil

    from rover_autonomy.resources import worlds_dir

    world_dir = tmp_path / "moon"
    shutil.copytree(worlds_dir() / "moon", world_dir)
    (world_dir / "scene.xml").write_text("<mujoco><worldbody><geom type='hfield' hfield='nothing'/>")
    with pytest.raises(WorldError, match="moon"):
        RoverSim(resolve_world(str(world_dir)), MODEL)


def test_the_simulation_is_deterministic():
    def run():
        sim = RoverSim(slope_world(5.0, start=(-5.0, 0.0, 0.3)), MODEL, SimConfig(seed=7))
        cmd = wheel_commands(MODEL, 0.25, 0.1)
        sim.command_steer(cmd.steer)
        sim.command_drive(cmd.drive)
        sim.step(400)
        truth = sim.ground_truth()
        return np.concatenate(
            [truth.position, truth.quaternion, sim.wheel_slip, sim.imu_sample().linear_acceleration]
        )

    assert np.array_equal(run(), run())
