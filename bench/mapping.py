"""Terrain mapping benchmark: speed on one thread, and quality against synthetic ground truth.

    PYTHONPATH=$PWD python bench/mapping.py [--seeds 10] [--poses 4]

Speed: fusing a 300k-point stereo cloud into the 40×40 m / 0.1 m map (transform, noise model, Kalman
fusion), against a reference computed in the same run: the bare per-cell mean of the same points
(np.bincount), the least any fusion must do. Then the traversability chain with the clearance check on
a typical map and on a fully known one (worst case), the message conversions, and the resulting rate.

Simulator: the rover drives in a shipped world of the MuJoCo simulator; its rendered stereo pairs go through
the stereo pipeline of ``stereo_processor`` and the clouds, with the true poses as odometry, into the map.

Quality: rocky terrains (Golombek–Rapp k = 0.15) at several seeds; at each of several poses (3.5–7 m
from a rock taller than the belly, roughly facing it, so that enough tall rocks are seen) the rover
takes two clouds 0.5 m apart (ray-cast with occlusion, stereo depth noise), the map is scored against
the ground truth (rover_autonomy.harness.map_scoring) and against a reference in the same run: the same
points averaged without the noise model.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from rover_autonomy.harness.map_scoring import score, truth_grid  # noqa: E402
from rover_autonomy.harness.terrains import (  # noqa: E402
    CloudSimulator,
    make_terrain,
    poses_facing_rocks,
    rover_pose_on_terrain,
    terrain_from_world,
)
from rover_autonomy.mapping.mapper import TerrainMapper  # noqa: E402
from rover_autonomy.mapping.traversability import to_costmap  # noqa: E402
from rover_autonomy.rover_model import load_rover_model  # noqa: E402
from rover_autonomy.worlds import load_world  # noqa: E402

MODEL = load_rover_model()
SECOND = 1_000_000_000


def quaternion_of(rotation: np.ndarray) -> np.ndarray:
    """(x, y, z, w) of a rotation matrix (its trace is positive for rovers on ≤ 60° terrain)."""
    w = math.sqrt(max(1.0 + np.trace(rotation), 1e-12)) / 2
    return np.array(
        [
            (rotation[2, 1] - rotation[1, 2]) / (4 * w),
            (rotation[0, 2] - rotation[2, 0]) / (4 * w),
            (rotation[1, 0] - rotation[0, 1]) / (4 * w),
            w,
        ]
    )


def median_ms(function, repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU time of ``function`` [ms] (the machine is shared: CPU is our own)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu))


def speed() -> None:
    load = os.getloadavg()[0]
    print(f"## Speed (one thread, median; wall / CPU ms; load average {load:.1f} on {os.cpu_count()} cores)")
    terrain = make_terrain(0, size=50.0)
    simulator = CloudSimulator(terrain, MODEL)
    rng = np.random.default_rng(0)
    pose = rover_pose_on_terrain(terrain, MODEL, 0.0, 0.0, 0.3)
    first, _ = simulator.cloud(pose, rng)
    second, _ = simulator.cloud(pose, rng)
    cloud = np.concatenate([first, second])[:300_000]
    mapper = TerrainMapper(MODEL)
    stamp = [SECOND]
    quaternion = quaternion_of(pose[:3, :3])

    def fuse():
        stamp[0] += SECOND // 5
        mapper.add_odometry(stamp[0], pose[:3, 3], quaternion)
        mapper.add_cloud(stamp[0], MODEL.stereo.left_frame, cloud)
        assert mapper.process() == [stamp[0]]

    fuse()  # warm-up
    fuse_ms = median_ms(fuse, 15)
    camera = pose @ MODEL.stereo.camera_to_base("left")
    in_map = cloud.astype(np.float64) @ camera[:3, :3].T + camera[:3, 3]
    grid = mapper.grid

    def bare_mean():
        row, col, inside = grid.cell_of(in_map[:, 0], in_map[:, 1])
        flat = row[inside] * grid.shape[1] + col[inside]
        total = np.bincount(flat, in_map[inside, 2], minlength=grid.shape[0] * grid.shape[1])
        count = np.bincount(flat, minlength=grid.shape[0] * grid.shape[1])
        return total / np.maximum(count, 1)

    reference_ms = median_ms(bare_mean, 15)
    print(f"fuse a 300k-point cloud: {fuse_ms[0]:.1f} / {fuse_ms[1]:.1f} ms (goal 30 ms); the bare per-cell "
          f"mean of the same points {reference_ms[0]:.1f} / {reference_ms[1]:.1f} ms")  # fmt: skip

    # Worst case: every cell of the 40 x 40 m window known (the true surface), all recomputed.
    full = TerrainMapper(MODEL)
    full.grid = truth_grid(terrain, mapper.grid)
    full.update_traversability()  # warm-up (numba cache)

    def recompute():
        full.chain.run(full.grid, full=True)

    full_ms = median_ms(recompute, 3)
    print(f"traversability + clearance + costmap, full 40x40 m map known ({full.grid.known.sum()} cells), "
          f"all recomputed: {full_ms[0]:.0f} / {full_ms[1]:.0f} ms (goal 100 ms)")  # fmt: skip

    # Typical: a drive, one cloud every 0.5 m, layers updated incrementally after each cloud.
    drive = TerrainMapper(MODEL)
    fuse_times, update_times = [], []
    for i in range(12):
        pose = rover_pose_on_terrain(terrain, MODEL, 0.5 * i, 0.1 * i, 0.2)
        points, _ = simulator.cloud(pose, rng)
        drive.add_odometry((i + 1) * SECOND, pose[:3, 3], quaternion_of(pose[:3, :3]))
        drive.add_cloud((i + 1) * SECOND, MODEL.stereo.left_frame, points)
        fuse_times.append(median_ms(drive.process, 1))
        update_times.append(median_ms(drive.update_traversability, 1))
    fuse_drive = np.median(np.array(fuse_times[2:]), axis=0)
    update = np.median(np.array(update_times[2:]), axis=0)
    rated = int(np.isfinite(drive.grid["cost"]).sum())
    print(f"driving (12 clouds of ~270k points, 0.5 m apart): fuse {fuse_drive[0]:.1f} / {fuse_drive[1]:.1f} ms, "
          f"incremental traversability + clearance + costmap {update[0]:.0f} / {update[1]:.0f} ms per cloud "
          f"({rated} rated cells at the end)")  # fmt: skip
    try:
        from rover_autonomy.ros_common.conversions import array_to_grid, arrays_to_pointcloud
    except ImportError:
        print("messages: ROS message packages not importable, conversions not timed")
        publish_ms = (0.0, 0.0)
    else:
        g = full.grid
        costs = to_costmap(g["cost"])
        geometry = g.geometry()

        def publish():
            array_to_grid(costs, geometry, 1)
            x, y = g.cell_centres()
            rows, cols = np.nonzero(g.known)
            fields = {
                "x": x[cols],
                "y": y[rows],
                "z": g["elevation"][g.known],
                "variance": g["variance"][g.known],
            }
            arrays_to_pointcloud(fields, 1, "odom")

        publish_ms = median_ms(publish, 5)
        print(
            f"messages (costmap + elevation cloud of 160k cells): {publish_ms[0]:.1f} / {publish_ms[1]:.1f} ms"
        )
    for name, update_ms in (("typical (incremental)", update), ("worst case (full recompute)", full_ms)):
        cycle = [fuse_ms[i] + update_ms[i] + publish_ms[i] for i in (0, 1)]
        print(f"cloud to published maps, {name}: {cycle[0]:.0f} / {cycle[1]:.0f} ms -> "
              f"{1e3 / cycle[0]:.1f} / {1e3 / cycle[1]:.1f} Hz (goal >= 5 Hz)")  # fmt: skip


def slopes() -> None:
    print("\n## Slopes (planes, default limits)")
    for degrees in (10.0, 15.0, 20.0, 25.0):
        mapper = TerrainMapper(MODEL, {"length_x": 12.0, "length_y": 12.0})
        x, y = mapper.grid.cell_centres()
        mapper.grid["elevation"][:] = math.tan(math.radians(degrees)) * (0.8 * x[None, :] + 0.6 * y[:, None])
        mapper.grid["variance"][:] = 1e-4
        costs = mapper.update_traversability()
        centre = costs[40:80, 40:80]
        print(f"{degrees:4.0f} deg: centre costs {centre.min()}…{centre.max()} "
              f"({'lethal' if centre.min() == 100 else 'not lethal'})")  # fmt: skip


VERBOSE = False


def report_missed_rocks(grid, truth, terrain, rover, threshold: float) -> None:
    """Print the observed rocks taller than ``threshold`` whose centre cell is not lethal."""
    rocks = terrain.rocks[terrain.rocks[:, 3] > threshold]
    row, col, inside = grid.cell_of(rocks[:, 0], rocks[:, 1])
    for rock, r, c in zip(rocks[inside], row[inside], col[inside], strict=True):
        cost = grid["cost"][r, c]
        if np.isfinite(cost) and cost < 100:
            print(
                f"  rock at ({rock[0]:.1f}, {rock[1]:.1f}) D {rock[2]:.2f} m h {rock[3]:.2f} m, "
                f"{math.hypot(rock[0] - rover[0], rock[1] - rover[1]):.1f} m away: cost {cost:.0f} "
                f"(truth {truth['cost'][r, c]:.0f}), mapped top {grid['elevation'][r, c] - rock[4]:.2f} m "
                f"(truth {truth['elevation'][r, c] - rock[4]:.2f} m), clearance {grid['clearance'][r, c]:.2f} m"
            )


def synthetic_cases(seeds: int):
    return [
        (f"seed {100 + s}", lambda s=s: (make_terrain(100 + s, size=50.0), (0.0, 0.0))) for s in range(seeds)
    ]


def world_cases(names):
    cases = []
    for name in names:

        def load(name=name):
            world = load_world(name)
            centre = (world.start.x, world.start.y)
            return terrain_from_world(world, centre, 50.0), centre

        cases.append((f"world {name}", load))
    return cases


def quality(title: str, cases, poses: int) -> None:
    """``poses`` rover poses on each terrain of ``cases`` (name, () -> (terrain, centre))."""
    print(f"\n## Quality: {title} ({poses} poses each, 2 clouds 0.5 m apart)")
    rock_threshold = MODEL.body.bottom_z
    strict_threshold = MODEL.body.bottom_z - MODEL.limits.min_belly_clearance
    totals = dict.fromkeys(
        ("sq", "cells", "sq_ref", "cost", "false", "missed", "rocks", "lethal", "rocks_s", "lethal_s"), 0.0
    )
    worst_rmse = 0.0
    maps = 0
    start = time.perf_counter()
    for index, (_, make) in enumerate(cases):
        terrain, centre = make()
        simulator = CloudSimulator(terrain, MODEL)
        rng = np.random.default_rng(index)
        for x1, y1, yaw in poses_facing_rocks(terrain, MODEL, rng, poses, rock_threshold, centre):
            mapper = TerrainMapper(MODEL)
            points_ref = []
            for i, back in enumerate((0.5, 0.0)):
                x, y = x1 - back * math.cos(yaw), y1 - back * math.sin(yaw)
                pose = rover_pose_on_terrain(terrain, MODEL, x, y, yaw)
                stamp = (i + 1) * SECOND
                mapper.add_odometry(stamp, pose[:3, 3], quaternion_of(pose[:3, :3]))
                cloud, _ = simulator.cloud(pose, rng)
                mapper.add_cloud(stamp, MODEL.stereo.left_frame, cloud)
                mapper.process()
                camera = pose @ MODEL.stereo.camera_to_base("left")
                points_ref.append(cloud.astype(np.float64) @ camera[:3, :3].T + camera[:3, 3])
            maps += 1
            mapper.update_traversability()
            truth = truth_grid(terrain, mapper.grid)
            truth_mapper = TerrainMapper(MODEL)
            truth_mapper.grid = truth
            truth_mapper.update_traversability()
            rover = (x, y)
            result = score(mapper.grid, truth, terrain, rover, 8.0, rock_threshold)
            strict = score(mapper.grid, truth, terrain, rover, 8.0, strict_threshold)
            if VERBOSE:
                report_missed_rocks(mapper.grid, truth, terrain, rover, rock_threshold)
            # Reference: the same points, plain per-cell mean, on the same cells.
            grid = mapper.grid
            pts = np.concatenate(points_ref)
            row, col, inside = grid.cell_of(pts[:, 0], pts[:, 1])
            flat = row[inside] * grid.shape[1] + col[inside]
            size = grid.shape[0] * grid.shape[1]
            mean = np.bincount(flat, pts[inside, 2], size) / np.maximum(np.bincount(flat, minlength=size), 1)
            xs, ys = grid.cell_centres()
            near = grid.known & (np.hypot(xs[None, :] - x, ys[:, None] - y) <= 8.0)
            totals["sq_ref"] += float(
                np.sum((mean.reshape(grid.shape)[near] - truth["elevation"][near]) ** 2)
            )
            totals["sq"] += result.height_rmse**2 * result.height_cells
            totals["cells"] += result.height_cells
            worst_rmse = max(worst_rmse, result.height_rmse)
            totals["cost"] += result.cost_cells
            totals["false"] += result.false_lethal
            totals["missed"] += result.missed_lethal
            totals["rocks"] += result.rocks_observed
            totals["lethal"] += result.rocks_lethal
            totals["rocks_s"] += strict.rocks_observed
            totals["lethal_s"] += strict.rocks_lethal
    t = totals
    rmse, rmse_ref = math.sqrt(t["sq"] / t["cells"]), math.sqrt(t["sq_ref"] / t["cells"])
    print(f"{maps} maps; height RMSE within 8 m: {100 * rmse:.1f} cm over {int(t['cells'])} cells (goal <= 5 cm; "
          f"worst map {100 * worst_rmse:.1f} cm); plain mean of the same points {100 * rmse_ref:.1f} cm")  # fmt: skip
    print(f"rocks taller than {rock_threshold:.2f} m (belly height): {int(t['lethal'])}/{int(t['rocks'])} observed "
          f"lethal at their centre = {100 * t['lethal'] / max(t['rocks'], 1):.1f} % (goal >= 99 % of >= 200)")  # fmt: skip
    print(f"rocks taller than {strict_threshold:.2f} m (belly height less min clearance): "
          f"{int(t['lethal_s'])}/{int(t['rocks_s'])} = {100 * t['lethal_s'] / max(t['rocks_s'], 1):.1f} %")  # fmt: skip
    print(f"false lethal: {int(t['false'])} of {int(t['cost'])} rated cells = {100 * t['false'] / t['cost']:.2f} % "
          f"(goal <= 2 %); missed lethal: {100 * t['missed'] / t['cost']:.2f} %")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")


def simulator(world_name: str, frames: int) -> None:
    """The stereo pipeline on images rendered by the simulator: the real clouds of ``stereo/points``."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from rover_autonomy.kinematics import wheel_commands
    from rover_autonomy.perception.camera import CameraCalibration
    from rover_autonomy.perception.stereo.matcher import MatcherParams
    from rover_autonomy.perception.stereo.processor import StereoParams, StereoProcessor
    from rover_autonomy.sim.engine import RoverSim, SimConfig
    from rover_autonomy.sim.scene import load_sim_world
    from rover_autonomy.sim.sensors import projection_matrices
    from rover_autonomy.worlds import resolve_world

    print(f"\n## Quality: simulator, world {world_name}, stereo_processor clouds ({frames} frames, 0.3 m/s)")
    start = time.perf_counter()
    path = resolve_world(world_name)
    world = load_world(path)
    sim = RoverSim(load_sim_world(path), MODEL, SimConfig(cameras=True))
    sim.settle()
    stereo = MODEL.stereo
    calibrations = [
        CameraCalibration.from_arrays(stereo.width, stereo.height, p[:, :3], np.zeros(5), np.eye(3), p)
        for p in projection_matrices(stereo)
    ]
    # As the graph runs stereo_processor on the mast cameras: 128 disparities.
    processor = StereoProcessor(StereoParams(matcher=MatcherParams(disparity_range=128)))
    command = wheel_commands(MODEL, 0.3, 0.0)
    sim.command_steer(command.steer)
    sim.command_drive(command.drive)
    mapper = TerrainMapper(MODEL)
    for _ in range(frames):
        sim.step(round(0.5 / sim.config.timestep))  # 0.5 s between frames
        truth_pose = sim.ground_truth()
        left, right = sim.render_stereo()
        points = processor.process(left, right, "rgb8", "rgb8", *calibrations).points[:, :3]
        mapper.add_odometry(sim.time_ns, truth_pose.position, truth_pose.quaternion)
        mapper.add_cloud(sim.time_ns, stereo.left_frame, points)
        mapper.process()
    sim.close()
    mapper.update_traversability()
    rover = truth_pose.position[:2]
    terrain = terrain_from_world(world, rover, 50.0)
    truth = truth_grid(terrain, mapper.grid)
    truth_mapper = TerrainMapper(MODEL)
    truth_mapper.grid = truth
    truth_mapper.update_traversability()
    result = score(mapper.grid, truth, terrain, rover, 8.0, MODEL.body.bottom_z)
    print(f"height RMSE within 8 m: {100 * result.height_rmse:.1f} cm over {result.height_cells} cells; "
          f"rocks taller than {MODEL.body.bottom_z:.2f} m lethal {result.rocks_lethal}/{result.rocks_observed}; "
          f"false lethal {100 * result.false_lethal / max(result.cost_cells, 1):.2f} %, missed lethal "
          f"{100 * result.missed_lethal / max(result.cost_cells, 1):.2f} % of {result.cost_cells} rated cells "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--poses", type=int, default=20, help="rover poses per terrain")
    parser.add_argument("--worlds", default="mars,moon", help="shipped worlds to add ('' for none)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--sim-frames", type=int, default=8, help="simulator frames (0: skip the simulator)")
    parser.add_argument("--verbose", action="store_true", help="print the tall rocks that are not lethal")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    if not args.skip_speed:
        speed()
    slopes()
    if args.seeds:
        quality(f"{args.seeds} synthetic terrains, k = 0.15", synthetic_cases(args.seeds), args.poses)
    worlds = [w for w in args.worlds.split(",") if w]
    if worlds:
        quality(f"shipped worlds {', '.join(worlds)}, around the start", world_cases(worlds), args.poses)
    if args.sim_frames:
        simulator("mars", args.sim_frames)


if __name__ == "__main__":
    main()
