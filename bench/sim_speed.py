"""Simulator speed on the default worlds: real-time factor with and without the stereo cameras.

    PYTHONPATH=$PWD python bench/sim_speed.py [--seconds 20] [--worlds mars moon]

For each world the rover drives straight at 0.3 m/s from the world's start. Figures:
* core, no cameras: physics + traction + IMU, the engine alone;
* core, stereo 640x480 at 2 Hz: the same plus rendering both cameras every 0.5 sim-s;
* node, no cameras / stereo: the rover_sim node stepping as fast as it can (real_time_factor 0) and
  publishing every topic of the contract (nobody subscribed), including the image conversion.
A figure is sim seconds per wall second (the real-time factor reached); the goals are >= 20x without
cameras and >= 1x with stereo at 2 Hz.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.sim.engine import RoverSim, SimConfig
from rover_autonomy.sim.scene import resolve_world


def core_factor(world, model, seconds: float, cameras: bool, timestep: float) -> float:
    sim = RoverSim(world, model, SimConfig(cameras=cameras, timestep=timestep))
    cmd = wheel_commands(model, 0.3, 0.0)
    sim.command_steer(cmd.steer)
    sim.command_drive(cmd.drive)
    frame_steps = round(0.5 / sim.config.timestep)
    imu_steps = round(1.0 / model.imu.rate / sim.config.timestep)
    start = time.perf_counter()
    for step in range(1, round(seconds / sim.config.timestep) + 1):
        sim.step()
        if step % imu_steps == 0:
            sim.imu_sample()
        if cameras and step % frame_steps == 0:
            sim.render_stereo()
    elapsed = time.perf_counter() - start
    sim.close()
    return seconds / elapsed


def node_factor(world_name: str, seconds: float, cameras: bool, timestep: float) -> float:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float64MultiArray

    from rover_autonomy.sim.node import RoverSimNode

    context = rclpy.Context()
    rclpy.init(context=context)
    params = {"world": world_name, "cameras": cameras, "real_time_factor": 0.0, "timestep": timestep}
    node = RoverSimNode(
        context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    cmd = wheel_commands(node.rover, 0.3, 0.0)
    node._on_steer(Float64MultiArray(data=cmd.steer.tolist()))
    node._on_drive(Float64MultiArray(data=cmd.drive.tolist()))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    start = time.perf_counter()
    while node.sim.time_ns < seconds * 1e9:
        executor.spin_once(timeout_sec=0.01)
    elapsed = time.perf_counter() - start
    factor = node.sim.time_ns * 1e-9 / elapsed
    executor.remove_node(node)
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    return factor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sim seconds per measurement")
    parser.add_argument("--worlds", nargs="+", default=["mars", "moon"])
    parser.add_argument("--timestep", type=float, default=0.005, help="physics step [s] (node default 0.005)")
    args = parser.parse_args()
    model = load_rover_model()
    print(
        f"timestep {args.timestep} s, {args.seconds:g} sim-s per figure, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'world':8} {'hfield':>12} {'rocks':>6} | {'core':>7} {'core+stereo':>12} | {'node':>7} {'node+stereo':>12}"
    )
    for name in args.worlds:
        world = resolve_world(name)
        info = world.info
        rows = round(info["size"][0] / info["resolution"]) + 1
        figures = [
            core_factor(world, model, args.seconds, False, args.timestep),
            core_factor(world, model, args.seconds / 2, True, args.timestep),
            node_factor(name, args.seconds, False, args.timestep),
            node_factor(name, args.seconds / 2, True, args.timestep),
        ]
        print(
            f"{name:8} {rows:>5}² {info['resolution']:.2f} m {info['rocks']:>6} | "
            f"{figures[0]:6.1f}x {figures[1]:11.2f}x | {figures[2]:6.1f}x {figures[3]:11.2f}x"
        )
    print("goals: >= 20x without cameras, >= 1x with 640x480 stereo at 2 Hz")


if __name__ == "__main__":
    main()
