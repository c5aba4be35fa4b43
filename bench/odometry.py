"""Odometry benchmark: drift, heading and slip against ground truth, with naive planar odometry as reference.

Two sources, each with its reference computed in the same run (naive planar 2D wheel odometry: (vx, wz)
from the wheels at nominal geometry, integrated on the plane, no IMU):

**Synthetic drives** (``rover_autonomy/harness/drives.py``): wheel rates and steering from the
kinematics along the plan, the IMU from the true attitude and the planet's gravity with the rover model's
noise and bias. The synthetic soil's slip law (``terrain_slip`` below) is learnt only through
``calibrate`` on a separate hill drive.

* flat: 50 m of arcs and point turns, 5 % of the yaw rate lost to skid — final position drift [% of
  distance], heading error [deg per 10 m];
* rough: the same plan on wavy terrain with slopes up to 10 deg — drift [%];
* 15 deg climb without slip — horizontal distance error [%];
* slipping slope: calibration on a 0-24 deg hill, then a sustained 22 deg climb — time to flag slip over
  the 40 % limit, slip estimate error after 6 s [points], drift with and without the slope model;
* determinism (two replays bit-identical) and cost [ms of CPU per second of data].

**The simulator** (``rover_autonomy/harness/sim_drive.py``, when ``rover_autonomy.sim`` is installed):
the rover_sim core (MuJoCo, terramechanics slip) driven through the base controller core, Mars sand.
Calibration on the 5/10/15 deg test slopes; the same plan on an 80 m flat world and on the generated Mars
world (k = 0.07); a 15 deg climb (true slip from the simulator's per-wheel slip). Then the same drives
with the stereo pair rendered at its rate and stereo visual odometry fused (stereo core + VO core, each
increment delivered 0.3 s after its frame, as from the nodes).

    PYTHONPATH=$PWD .venv/bin/python bench/odometry.py [--source all|synthetic|sim] [--seed N]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.harness.drives import (
    PlaneTerrain,
    Segment,
    WavyTerrain,
    joint_message,
    replay,
    synthesise,
)
from rover_autonomy.harness.sim_drive import SimRun, calibration_drives, sim_available, sim_drive
from rover_autonomy.odometry.calibration import TRUTH, calibrate
from rover_autonomy.odometry.estimator import PlanarWheelOdometry, WheelOdometry
from rover_autonomy.odometry.inputs import IMU, JOINTS
from rover_autonomy.odometry.parameters import PARAMETERS, config_from
from rover_autonomy.rover_model import load_rover_model

MARS = 3.711
YAW_SLIP = 0.05  # share of the commanded yaw rate lost to skid on turns (flat and rough drives)


def terrain_slip(theta: float) -> float:
    """Slip of the synthetic soil at climb angle theta [rad]: convex growth uphill, a light skid downhill."""
    return 0.65 * (1 - math.exp(-((theta / 0.32) ** 2))) if theta >= 0 else 0.25 * theta


def config(model, gravity=MARS, slip_model=None):
    values = {spec.name: spec.default for spec in PARAMETERS}
    values.update(gravity=gravity)
    return config_from(model, values, slip_model)


def planar(model, drive) -> np.ndarray:
    reference = PlanarWheelOdometry(model)
    for j, k in enumerate(drive.joint_index):
        pose = reference.add(float(drive.stamps[k]), drive.steer[j], drive.drive_rate[j])
    return pose


def errors(drive, results):
    last = results[-1]
    k = round(last.stamp * 100)
    truth = drive.position[k]
    yaw = math.degrees(abs(math.remainder(last.rpy[2] - drive.rpy[k, 2], 2 * math.pi)))
    return (
        float(np.linalg.norm(last.position - truth)),
        float(np.linalg.norm(last.position[:2] - truth[:2])),
        yaw,
        truth,
    )


def accuracy(name, model, drive, cfg):
    started = time.process_time()
    results = replay(WheelOdometry(model, cfg), model, drive)
    cpu = time.process_time() - started
    error3d, error2d, yaw, truth = errors(drive, results)
    pose = planar(model, drive)
    planar_error = float(np.linalg.norm(pose[:2] - truth[:2]))
    planar_yaw = math.degrees(abs(math.remainder(pose[2] - drive.rpy[-1, 2], 2 * math.pi)))
    d = drive.distance
    print(
        f"{name:<28} {d:6.1f} m | ours: drift {100 * error3d / d:5.2f} % (horizontal {100 * error2d / d:5.2f} %), "
        f"heading {10 * yaw / d:5.3f} deg/10 m | planar 2D: drift {100 * planar_error / d:5.2f} %, "
        f"heading {10 * planar_yaw / d:5.3f} deg/10 m"
    )
    return results, cpu, float(drive.stamps[-1])


def drive_events(model, drive):
    velocity = np.gradient(drive.position, drive.stamps, axis=0)
    events = []
    for k, t in enumerate(drive.stamps):
        stamp = round(float(t) * 1e9) * 1e-9
        events.append((IMU, stamp, (drive.gyro[k], drive.accel[k])))
        events.append((TRUTH, stamp, float(velocity[k] @ rpy_to_matrix(*drive.rpy[k])[:, 0])))
        if k in drive.joint_index:
            j = int(np.searchsorted(drive.joint_index, k))
            events.append((JOINTS, stamp, joint_message(model, drive, j)))
    return events


def synthetic_figures(model, seed: int) -> None:
    print("synthetic drives:")
    flat_plan = [
        Segment(30, 0.3, 0.0),
        Segment(25, 0.3, 0.12),
        Segment(6, 0.0, 0.4),
        Segment(40, 0.3, -0.08),
        Segment(8, 0.0, -0.4),
        Segment(30, 0.3, 0.05),
        Segment(10, -0.2, 0.0),
        Segment(30, 0.3, 0.0),
    ]
    cpu_total = data_total = 0.0

    flat = synthesise(model, flat_plan, gravity=MARS, yaw_slip=YAW_SLIP, seed=seed)
    results, cpu, seconds = accuracy("flat: arcs + point turns", model, flat, config(model))
    cpu_total, data_total = cpu_total + cpu, data_total + seconds
    again = replay(WheelOdometry(model, config(model)), model, flat)
    identical = all(a.position.tobytes() == b.position.tobytes() for a, b in zip(results, again, strict=True))

    waves = ((0.18, 16.0, 0.4, 0.0), (0.08, 7.0, 2.0, 1.0), (0.015, 3.0, -1.0, 0.5))
    rough = WavyTerrain(waves)
    drive = synthesise(model, flat_plan, rough, gravity=MARS, yaw_slip=YAW_SLIP, seed=seed + 1)
    _, cpu, seconds = accuracy(
        f"rough: slopes <= {math.degrees(rough.max_slope()):.0f} deg", model, drive, config(model)
    )
    cpu_total, data_total = cpu_total + cpu, data_total + seconds

    climb = synthesise(
        model, [Segment(60, 0.3, 0.0)], PlaneTerrain(math.radians(15)), gravity=MARS, seed=seed + 2
    )
    _, cpu, seconds = accuracy("15 deg climb, no slip", model, climb, config(model))
    cpu_total, data_total = cpu_total + cpu, data_total + seconds

    # Slipping slope: calibrate on a hill, then climb.
    wavelength = 40.0
    amplitude = math.tan(math.radians(24)) * wavelength / (2 * math.pi)
    hill = WavyTerrain(((amplitude, wavelength, 0.0, -math.pi / 2),))
    calibration = synthesise(
        model,
        [Segment(50, 0.3, 0.0), Segment(45, -0.3, 0.0)],
        hill,
        gravity=MARS,
        slip_law=terrain_slip,
        seed=seed + 3,
    )
    fit = calibrate(model, config(model), drive_events(model, calibration))
    a1, a2, b1 = fit.model.coefficients
    print(
        f"calibration on a 0-24 deg hill: a1 {a1:.3f}, a2 {a2:.3f}, b1 {b1:.3f} from {fit.samples} windows, "
        f"rms {fit.rms_error:.3f}"
    )
    slope = math.radians(22)
    slipping = synthesise(
        model,
        [Segment(40, 0.3, 0.0)],
        PlaneTerrain(slope),
        gravity=MARS,
        slip_law=terrain_slip,
        seed=seed + 4,
    )
    start = float(slipping.stamps[slipping.joint_index[np.argmax(np.abs(slipping.drive_rate[:, 0]) > 0.5)]])
    for label, slip_model in (("without slope model", None), ("calibrated slope model", fit.model)):
        cfg = config(model, slip_model=slip_model)
        results, cpu, seconds = accuracy(
            f"22 deg slip {terrain_slip(slope):.0%}, {label}", model, slipping, cfg
        )
        cpu_total, data_total = cpu_total + cpu, data_total + seconds
        flagged = next((r.stamp for r in results if r.slip_flag), None)
        cruising = [j for j, r in enumerate(results) if r.stamp > start + 6 and abs(r.wheel_speed) > 0.25]
        slip_error = max(abs(results[j].slip - slipping.slip[j]) for j in cruising)
        flag_text = f"{flagged - start:.1f} s" if flagged is not None else "never"
        sigma = math.sqrt(results[cruising[-1]].pose_covariance[0, 0])
        print(
            f"{'':<28} slip over the 40 % limit flagged after {flag_text}; slip error after 6 s "
            f"{100 * slip_error:.1f} points; position sigma x {sigma:.3f} m"
        )
    print(f"determinism: two replays bit-identical: {'yes' if identical else 'NO'}")
    print(f"cost: {1000 * cpu_total / data_total:.1f} ms CPU per second of data (100 Hz IMU + 50 Hz joints)")


def report_sim(name, run: SimRun) -> None:
    last, (truth, yaw) = run.estimates[-1], run.truth[-1]
    d = run.distance
    error3d = float(np.linalg.norm(last.position - truth))
    error2d = float(np.linalg.norm(last.position[:2] - truth[:2]))
    heading = math.degrees(abs(math.remainder(last.rpy[2] - yaw, 2 * math.pi)))
    pose = run.planar[-1]
    planar_error = float(np.linalg.norm(pose[:2] - truth[:2]))
    planar_heading = math.degrees(abs(math.remainder(pose[2] - yaw, 2 * math.pi)))
    print(
        f"{name:<28} {d:6.1f} m | ours: drift {100 * error3d / d:5.2f} % (horizontal {100 * error2d / d:5.2f} %), "
        f"heading {10 * heading / d:5.3f} deg/10 m | planar 2D: drift {100 * planar_error / d:5.2f} %, "
        f"heading {10 * planar_heading / d:5.3f} deg/10 m"
    )


def climb_slip_figures(run: SimRun) -> None:
    moving_from = next(t for t, s in zip(run.stamps, run.true_slip, strict=True) if s > 0)
    flagged = next((t for t, e in zip(run.stamps, run.estimates, strict=True) if e.slip >= 0.2), None)
    cruising = [i for i, t in enumerate(run.stamps) if moving_from + 6 < t < moving_from + 28]
    errors = [run.estimates[i].slip - run.true_slip[i] for i in cruising]
    truth_mean = float(np.mean([run.true_slip[i] for i in cruising]))
    flag_text = f"{flagged - moving_from:.1f} s" if flagged is not None else "never"
    print(
        f"{'':<28} true slip {100 * truth_mean:.0f} %; slip >= 20 % flagged after {flag_text}; estimate "
        f"error after 6 s: mean {100 * np.mean(errors):+.1f}, max {100 * np.max(np.abs(errors)):.1f} points"
    )


def visual_figures(model, seed: int, slip_model, plan, flat_world) -> None:
    from rover_autonomy.sim.scene import resolve_world

    print("with stereo visual odometry fused (calibrated slope model as fallback):")
    mars = resolve_world("mars")
    drives = (
        ("flat: arcs + point turns", flat_world, plan),
        ("mars world, whole plan", mars, plan),
        ("15 deg climb", resolve_world("slope:15:mars"), [(30, 0.3, 0.0)]),
    )
    for label, world, steps in drives:
        cfg = config(model, gravity=world.gravity, slip_model=slip_model)
        run = sim_drive(model, world, steps, cfg, seed + (1 if "climb" in label else 0), visual=True)
        report_sim(label, run)
        invalid = sum(not step.valid for step in run.visual_steps) - 1  # the first frame has no motion
        inliers = np.median([step.inliers for step in run.visual_steps if step.valid])
        print(
            f"{'':<28} {len(run.visual_steps)} frames, {invalid} without a motion, median {inliers:.0f} inliers"
        )
        if "climb" in label:
            climb_slip_figures(run)


def simulator_figures(model, seed: int) -> None:
    from rover_autonomy.odometry.calibration import calibrate_drives
    from rover_autonomy.sim.scene import resolve_world, terrain_world

    print("\nsimulator (rover_sim core, base controller core in the loop, Mars sand):")
    started = time.perf_counter()
    fit = calibrate_drives(model, config(model), calibration_drives(model, config(model), "mars", seed=seed))
    a1, a2, b1 = fit.model.coefficients
    print(
        f"calibration on the 5, 10, 15 deg slopes: a1 {a1:.3f}, a2 {a2:.3f}, b1 {b1:.3f} "
        f"({fit.samples} windows, rms {fit.rms_error:.3f})"
    )
    flat_world = terrain_world(np.zeros((161, 161)), 0.5, planet="mars", name="flat_80m")
    plan = [(30, 0.3, 0.0), (25, 0.3, 0.12), (8, 0.0, 0.4), (40, 0.3, -0.08), (8, 0.0, -0.4), (30, 0.3, 0.05)]
    plan += [(30, 0.3, 0.0), (20, 0.3, -0.05)]  # >= 50 m on flat ground
    flat = sim_drive(model, flat_world, plan, config(model, slip_model=fit.model), seed)
    report_sim("flat: arcs + point turns", flat)
    mars = resolve_world("mars")
    for label, slip_model in (("no slope model", None), ("calibrated", fit.model)):
        cfg = config(model, gravity=mars.gravity, slip_model=slip_model)
        rough = sim_drive(model, mars, plan, cfg, seed)
        report_sim(f"mars world, {label}", rough)
        # The blind plan wedges the rover against a rock: the figure up to that moment.
        until = sim_drive(model, mars, plan, cfg, seed, stop_when_stuck=5.0)
        if until.stuck_at is not None:
            report_sim(f"  until wedged ({until.stuck_at:.0f} s)", until)
    climb_world = resolve_world("slope:15:mars")
    for label, slip_model in (("no slope model", None), ("calibrated", fit.model)):
        run = sim_drive(model, climb_world, [(30, 0.3, 0.0)], config(model, slip_model=slip_model), seed + 1)
        report_sim(f"15 deg climb, {label}", run)
        climb_slip_figures(run)
    visual_figures(model, seed, fit.model, plan, flat_world)
    print(f"  ({time.perf_counter() - started:.0f} s of wall time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=("all", "synthetic", "sim"), default="all")
    args = parser.parse_args()
    model = load_rover_model()
    if args.source in ("all", "synthetic"):
        synthetic_figures(model, args.seed)
    if args.source in ("all", "sim"):
        if sim_available():
            simulator_figures(model, args.seed)
        else:
            print("simulator figures skipped: rover_autonomy.sim is not installed")


if __name__ == "__main__":
    main()
