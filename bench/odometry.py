"""Odometry benchmark: drift, heading and slip against ground truth, with naive planar odometry as reference.

Source: synthetic drives (``rover_autonomy/odometry/synthetic.py``) until the simulator's recorded drives
are wired in: the rover follows commanded arcs, point turns and climbs over terrain; wheel rates and
steering come from the kinematics, the IMU from the true attitude and the planet's gravity with the rover
model's noise and bias. The synthetic terrain's slip law (below) stands in for the simulator's
terramechanics; the odometry only learns it through ``calibrate`` on a separate hill drive.

Figures (each with the reference computed in the same run, naive planar 2D wheel odometry: (vx, wz) from
the wheels at nominal geometry, integrated on the plane, no IMU):

* flat: 50 m of arcs and point turns, 5 % of the yaw rate lost to skid — final position drift [% of
  distance], heading error [deg per 10 m];
* rough: the same plan on wavy terrain with slopes up to 10 deg — drift [%];
* 15 deg climb without slip — horizontal distance error [%];
* slipping slope: calibration on a 0-24 deg hill, then a sustained 22 deg climb — time to flag slip over
  the 40 % limit after the drive starts, slip estimate error after 6 s [points], position drift with and
  without the slope model;
* determinism (two replays bit-identical) and cost [ms of CPU per second of data at 100 Hz IMU, 50 Hz
  joint_states].

    PYTHONPATH=$PWD .venv/bin/python bench/odometry.py [--seed N]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from rover_autonomy.odometry.calibration import TRUTH, calibrate
from rover_autonomy.odometry.estimator import IMU, JOINTS, PlanarWheelOdometry, WheelOdometry
from rover_autonomy.odometry.parameters import PARAMETERS, config_from
from rover_autonomy.odometry.synthetic import (
    PlaneTerrain,
    Segment,
    WavyTerrain,
    joint_message,
    replay,
    synthesise,
)
from rover_autonomy.rover_model import load_rover_model, rpy_to_matrix

MARS = 3.711
YAW_SLIP = 0.05  # share of the commanded yaw rate lost to skid on turns (flat and rough drives)


def terrain_slip(theta: float) -> float:
    """Slip of the synthetic soil at climb angle theta [rad]: convex growth uphill, a light skid downhill."""
    return 0.65 * (1 - math.exp(-((theta / 0.32) ** 2))) if theta >= 0 else 0.25 * theta


def config(model, **overrides):
    values = {spec.name: spec.default for spec in PARAMETERS}
    values.update(gravity=MARS)
    return config_from(model, values, overrides.pop("slip_model", None))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_rover_model()
    seed = args.seed
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


if __name__ == "__main__":
    main()
