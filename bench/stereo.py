"""Stereo benchmark: quality on Middlebury 2014 motorcycle and speed of the stereo path at 640x480.

Quality: ``skimage.data.stereo_motorcycle()`` (Middlebury 2014 "Motorcycle", quarter resolution 741x500,
ground-truth disparity 7.2-59.9 px). The reference is the bare OpenCV matcher
``StereoSGBM_create(minDisparity=0, numDisparities=64, blockSize=5, mode=SGBM_3WAY)`` on grey, computed
in the same run. bad-t is the share of predicted pixels (with valid ground truth) off by more than t px;
density is the share of valid ground-truth pixels that got a disparity.

Speed: the same pair resized to 640x480, 64 disparities, default parameters. The reference is the bare
OpenCV matcher configured with our default matcher parameters (``create_opencv_matcher``).

    PYTHONPATH=$PWD .venv/bin/python bench/stereo.py [--repeats N]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from skimage import data

from rover_autonomy.geometry import quaternion_to_matrix, yaw_to_quaternion
from rover_autonomy.perception.camera import CameraCalibration
from rover_autonomy.perception.stereo.matcher import MatcherParams, create_opencv_matcher
from rover_autonomy.perception.stereo.processor import StereoProcessor

THREADS = 2
# Middlebury 2014 Motorcycle calib.txt (full size 2964 px wide): f 3979.911 px, doffs 124.343 px,
# baseline 193.001 mm. The scikit-image copy is a quarter of that size.
QUARTER = 741 / 2964
FOCAL, DOFFS, BASELINE = 3979.911 * QUARTER, 124.343 * QUARTER, 0.193001


def calibrations(width: int, height: int, focal: float, doffs: float, baseline: float):
    """Left/right CameraInfo-style calibrations of a rectified pair (principal points doffs apart)."""
    cx, cy = width / 2, height / 2

    def cal(cx_side: float, tx: float) -> CameraCalibration:
        k = [[focal, 0, cx_side], [0, focal, cy], [0, 0, 1]]
        p = [[focal, 0, cx_side, tx], [0, focal, cy, 0], [0, 0, 1, 0]]
        return CameraCalibration.from_arrays(width, height, k, np.zeros(5), np.eye(3), p)

    return cal(cx, 0.0), cal(cx - doffs, -focal * baseline)


def scores(disparity: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    valid = np.isfinite(truth)
    predicted = valid & np.isfinite(disparity)
    error = np.abs(disparity[predicted] - truth[predicted])
    return {
        "bad1": 100 * float(np.mean(error > 1.0)),
        "bad2": 100 * float(np.mean(error > 2.0)),
        "mae": float(error.mean()),
        "density": 100 * predicted.sum() / valid.sum(),
    }


def reference_disparity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    matcher = cv2.StereoSGBM_create(
        minDisparity=0, numDisparities=64, blockSize=5, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY
    )
    raw = matcher.compute(left, right)
    disparity = raw.astype(np.float32) / 16
    disparity[raw < 0] = np.nan
    return disparity


def interleaved_ms(runs: dict, repeats: int) -> dict[str, tuple[float, float, float]]:
    """(median wall, minimum wall, median CPU) time [ms] of each callable, run in turns so that load
    changes hit all of them alike. CPU time (all threads of this process) is the least sensitive to
    other processes competing for the 2 cores."""
    for fn in runs.values():
        fn()  # warm-up (numba compilation, allocations)
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: (
            1000 * float(np.median(wall[name])),
            1000 * min(wall[name]),
            1000 * float(np.median(cpu[name])),
        )
        for name in runs
    }


def camera_info(cal: CameraCalibration):
    """A sensor_msgs/CameraInfo of a calibration."""
    from sensor_msgs.msg import CameraInfo

    return CameraInfo(
        width=cal.width,
        height=cal.height,
        distortion_model=cal.distortion_model,
        d=cal.D.tolist(),
        k=cal.K.ravel(),
        r=cal.R.ravel(),
        p=cal.P.ravel(),
    )


def quality() -> None:
    left_rgb, right_rgb, truth = data.stereo_motorcycle()
    left = cv2.cvtColor(left_rgb, cv2.COLOR_RGB2GRAY)
    right = cv2.cvtColor(right_rgb, cv2.COLOR_RGB2GRAY)
    height, width = left.shape
    cal_left, cal_right = calibrations(width, height, FOCAL, DOFFS, BASELINE)
    rows = [("reference SGBM 3WAY bs5 (bare)", reference_disparity(left, right))]
    for label, changes in (
        ("ours, defaults", {}),
        ("ours, lr_check", {"lr_check": True}),
        ("ours, match_left_border off", {"match_left_border": False}),
        ("ours, full_dp (8 paths)", {"full_dp": True}),
        ("ours, block matching, window 11", {"stereo_algorithm": 0, "correlation_window_size": 11}),
    ):
        processor = StereoProcessor()
        processor.update(**changes)
        result = processor.process(left_rgb, right_rgb, "rgb8", "rgb8", cal_left, cal_right)
        rows.append((label, result.disparity))
    print(
        f"Middlebury 2014 motorcycle {width}x{height}, ground truth {np.nanmin(truth):.1f}-"
        f"{np.nanmax(truth[np.isfinite(truth)]):.1f} px"
    )
    print(f"{'':34s} {'bad-1.0':>8s} {'bad-2.0':>8s} {'MAE px':>7s} {'density':>8s}")
    for label, disparity in rows:
        s = scores(disparity, truth)
        print(f"{label:34s} {s['bad1']:7.2f}% {s['bad2']:7.2f}% {s['mae']:7.3f} {s['density']:7.2f}%")


def speed(repeats: int) -> None:
    left_rgb, right_rgb, _ = data.stereo_motorcycle()
    size = (640, 480)
    scale = size[0] / left_rgb.shape[1]
    left_rgb = cv2.resize(left_rgb, size, interpolation=cv2.INTER_AREA)
    right_rgb = cv2.resize(right_rgb, size, interpolation=cv2.INTER_AREA)
    left = cv2.cvtColor(left_rgb, cv2.COLOR_RGB2GRAY)
    right = cv2.cvtColor(right_rgb, cv2.COLOR_RGB2GRAY)
    cal_left, cal_right = calibrations(*size, FOCAL * scale, DOFFS * scale, BASELINE)

    import rclpy
    from rclpy.parameter import Parameter

    from rover_autonomy.perception.stereo.node import StereoProcessorNode
    from rover_autonomy.ros_common.conversions import array_to_image
    from rover_autonomy.ros_common.node_base import keep_freed_memory

    left_msg = array_to_image(left, "mono8", 1, "stereo_left_optical_frame")
    right_msg = array_to_image(right, "mono8", 1, "stereo_right_optical_frame")
    left_info, right_info = camera_info(cal_left), camera_info(cal_right)
    allocator = keep_freed_memory()  # as the node's main() does
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = StereoProcessorNode(context=context)
        checked = StereoProcessorNode(
            context=context, namespace="lr_check", parameter_overrides=[Parameter("lr_check", value=True)]
        )
        bare = create_opencv_matcher(MatcherParams())
        # the same OpenCV work as our matcher with match_left_border: the pair padded on the left
        pad = MatcherParams().max_disparity
        padded = [cv2.copyMakeBorder(image, 0, 0, pad, 0, cv2.BORDER_REPLICATE) for image in (left, right)]
        times = interleaved_ms(
            {
                "bare": lambda: bare.compute(left, right),
                "padded": lambda: bare.compute(*padded),
                "core": lambda: node._processor.process(left, right, "mono8", "mono8", cal_left, cal_right),
                "node": lambda: node.process_pair(left_msg, right_msg, left_info, right_info),
                "lr": lambda: checked.process_pair(left_msg, right_msg, left_info, right_info),
            },
            repeats,
        )
        _, cloud = node.process_pair(left_msg, right_msg, left_info, right_info)
        node.destroy_node()
        checked.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    bare_median, bare_min, bare_cpu = times["bare"]
    print(
        f"\nSpeed 640x480 mono8, 64 disparities, default parameters, {THREADS} threads, {repeats} runs each"
    )
    print(f"{'':42s} {'wall median':>16s} {'wall min':>15s} {'CPU median':>15s} {'pairs/s':>8s}")
    for key, label in (
        ("bare", "bare OpenCV matcher, our parameters"),
        ("padded", "  same OpenCV work on the left-padded pair"),
        ("core", "core (arrays in, disparity + points)"),
        ("node", "node path (messages in and out)"),
        ("lr", "node path with lr_check"),
    ):
        median, fastest, cpu = times[key]
        print(
            f"{label:42s} {median:6.1f} ms {median / bare_median:5.2f}x {fastest:5.1f} ms {fastest / bare_min:5.2f}x "
            f"{cpu:5.1f} ms {cpu / bare_cpu:5.2f}x {1000 / median:8.1f}"
        )
    print(
        f"points per cloud: {cloud.width}; glibc keeps freed memory (as stereo_processor's main): {allocator}"
    )


def throughput(seconds: float) -> None:
    """Pairs per second through a stereo_processor process over DDS (sender and node share the cores)."""
    import os
    import random
    import subprocess
    import sys

    import rclpy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from rover_autonomy.ros_common import qos
    from rover_autonomy.ros_common.conversions import array_to_image, ns_to_stamp

    env = dict(os.environ, ROS_DOMAIN_ID=str(random.SystemRandom().randint(101, 200)))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.update(env)
    node_process = subprocess.Popen(
        [sys.executable, "-c", "from rover_autonomy.perception.stereo.node import main; main()"], env=env
    )
    left_rgb, right_rgb, _ = data.stereo_motorcycle()
    size = (640, 480)
    scale = size[0] / left_rgb.shape[1]
    left, right = (
        cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        for image in (left_rgb, right_rgb)
    )
    infos = [camera_info(c) for c in calibrations(*size, FOCAL * scale, DOFFS * scale, BASELINE)]
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        sender = rclpy.create_node("stereo_bench_sender", context=context)
        publishers = {
            topic: sender.create_publisher(kind, topic, qos.for_topic(topic))
            for topic, kind in (
                ("stereo/left/image_rect", Image),
                ("stereo/right/image_rect", Image),
                ("stereo/left/camera_info", CameraInfo),
                ("stereo/right/camera_info", CameraInfo),
            )
        }
        received = []
        sender.create_subscription(
            PointCloud2,
            "stereo/points",
            lambda msg: received.append(time.perf_counter()),
            qos.for_topic("stereo/points"),
        )
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(sender)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            all(p.get_subscription_count() for p in publishers.values())
            and sender.count_publishers("stereo/points")
        ):
            executor.spin_once(timeout_sec=0.05)
        sent, last_send = 0, 0.0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            now = time.perf_counter()
            # like a camera driver, every image goes out with its camera_info; a pair lost on the
            # way (e.g. before discovery completed) is given up on after 0.5 s
            if sent == len(received) or now - last_send > 0.5:
                sent, last_send = sent + 1, now
                stamp = ns_to_stamp(sent * 50_000_000)
                for side, image, info in (("left", left, infos[0]), ("right", right, infos[1])):
                    msg = array_to_image(image, "mono8")
                    msg.header.stamp = info.header.stamp = stamp
                    publishers[f"stereo/{side}/camera_info"].publish(info)
                    publishers[f"stereo/{side}/image_rect"].publish(msg)
            executor.spin_once(timeout_sec=0.002)
        warm = [t for t in received if t - start > 1.0]  # skip the first second (numba load, discovery)
        rate = (len(warm) - 1) / (warm[-1] - warm[0]) if len(warm) > 1 else 0.0
        print(
            f"over DDS, node in its own process, one pair in flight: {rate:.1f} pairs/s ({len(received)} clouds)"
        )
    finally:
        node_process.terminate()
        node_process.wait(timeout=10)
        rclpy.try_shutdown(context=context)


def simulated_terrain(worlds: list[str]) -> None:
    """Stereo on the simulator's rendered pairs against the world's ground truth.

    Views: at four places of each generated world, the rover (held level at the terrain height, its
    start height above ground) faces four headings. Depth error is against MuJoCo's rendered depth
    (exact per pixel); the vertical error of each point is its height in ``map`` minus the world's
    ground-truth surface (terrain + rocks, bilinear) under it. Rover-configured parameters
    (``disparity_range`` 128 from the node graph).
    """
    import math

    import mujoco

    from rover_autonomy.bringup.graph import NODES
    from rover_autonomy.resources import worlds_dir
    from rover_autonomy.rover_model import load_rover_model
    from rover_autonomy.sim.engine import RoverSim, SimConfig
    from rover_autonomy.sim.scene import load_sim_world
    from rover_autonomy.sim.sensors import RenderError, projection_matrices
    from rover_autonomy.worlds import load_world

    model = load_rover_model()
    stereo = model.stereo
    p_left, p_right = projection_matrices(stereo)
    k = stereo.intrinsics()
    cal_left, cal_right = (
        CameraCalibration.from_arrays(stereo.width, stereo.height, k, np.zeros(5), np.eye(3), p)
        for p in (p_left, p_right)
    )
    overrides = next(node for node in NODES if node.name == "stereo_processor").parameters
    processor = StereoProcessor()
    processor.update(**overrides)
    camera_to_base = stereo.camera_to_base("left")
    print(
        f"\nSimulated terrain: {stereo.width}x{stereo.height}, f {stereo.focal_px:.1f} px, "
        f"baseline {stereo.baseline} m, parameters: defaults + {overrides}"
    )
    print(
        f"{'world':8s} {'pairs':>5s} {'points<=10m':>11s} {'median |dz|/z':>13s} {'|dz|>2%':>8s} "
        f"{'median |dh|':>11s} {'|dh|>0.2m':>9s} {'|dh|>0.1m':>9s} {'density':>8s}"
    )
    for name in worlds:
        world = load_world(worlds_dir() / name)
        try:
            sim = RoverSim(load_sim_world(world.path), model, SimConfig(cameras=True))
        except RenderError as err:
            print(f"{name}: skipped ({err})")
            return
        ride_height = float(
            sim.ground_truth().position[2] - world.terrain_height_at(world.start.x, world.start.y)
        )
        depth_errors, height_errors, densities = [], [], []
        places = [(world.start.x, world.start.y), (-10.0, 8.0), (6.0, -12.0), (16.0, 14.0)]
        for x, y in places:
            for heading in (0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi):
                q = sim.root_qpos
                sim.data.qpos[q : q + 3] = [x, y, world.terrain_height_at(x, y) + ride_height]
                sim.data.qpos[q + 3 : q + 7] = np.roll(yaw_to_quaternion(heading), 1)  # w, x, y, z
                mujoco.mj_forward(sim.model, sim.data)
                left, right = sim.render_stereo()
                true_depth = sim.render_depth("left")
                result = processor.process(left, right, "rgb8", "rgb8", cal_left, cal_right)
                geometry = result.geometry
                # per-pixel depth against the rendered depth, surface within 10 m (no sky)
                near = true_depth <= 10.0
                stereo_depth = geometry.depth(result.disparity)
                matched = near & np.isfinite(stereo_depth)
                depth_errors.append(np.abs(stereo_depth[matched] - true_depth[matched]) / true_depth[matched])
                densities.append(matched.sum() / max(near.sum(), 1))
                # every cloud point within 10 m, in map, against the ground-truth surface
                points = result.points[:, :3].astype(np.float64)
                points = points[np.linalg.norm(points, axis=1) <= 10.0]
                truth = sim.ground_truth()
                in_base = points @ camera_to_base[:3, :3].T + camera_to_base[:3, 3]
                in_map = in_base @ quaternion_to_matrix(truth.quaternion).T + truth.position
                surface = world.height_at(in_map[:, 0], in_map[:, 1])
                height_errors.append(in_map[:, 2] - surface)
        sim.close()
        depth_error = np.concatenate(depth_errors)
        height_error = np.concatenate(height_errors)
        height_error = np.abs(height_error[np.isfinite(height_error)])
        print(
            f"{name:8s} {len(depth_errors):5d} {height_error.size:11d} {100 * np.median(depth_error):12.2f}% "
            f"{100 * np.mean(depth_error > 0.02):7.2f}% {100 * np.median(height_error):9.1f}cm "
            f"{100 * np.mean(height_error > 0.2):8.2f}% {100 * np.mean(height_error > 0.1):8.2f}% "
            f"{100 * np.mean(densities):7.1f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of each variant")
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of the DDS throughput run")
    parser.add_argument(
        "--worlds",
        nargs="*",
        default=["mars", "moon"],
        help="generated worlds for the simulated-terrain figures",
    )
    args = parser.parse_args()
    cv2.setNumThreads(THREADS)
    quality()
    speed(args.repeats)
    throughput(args.seconds)
    if args.worlds:
        simulated_terrain(args.worlds)


if __name__ == "__main__":
    main()
