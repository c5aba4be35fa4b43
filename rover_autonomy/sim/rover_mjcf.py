"""The rocker-bogie rover as an MJCF model, built with ``mujoco.MjSpec`` from the rover model.

Kinematic tree (names as in ``config/rover.yaml``)::

    base_link (free joint; body frame = base_link, origin on the ground at nominal suspension)
    ├── rocker_left  (hinge y at its pivot)      ├── rocker_right
    │   ├── steer_front_left (hinge z) ── wheel_front_left (hinge y: drive_front_left)
    │   └── bogie_left (hinge y at its pivot)
    │       ├── wheel_middle_left (hinge y: drive_middle_left)
    │       └── steer_rear_left (hinge z) ── wheel_rear_left (hinge y: drive_rear_left)
    └── stereo cameras, IMU site

The rockers are passive and tied by the differential: a joint equality ``rocker_right = −rocker_left``
(MER/MSL differential bar). Steering joints carry position servos, drive joints velocity servos with
the model's torque limit; the node ramps their set-points at the model's steering rate and wheel
acceleration limits. Rover geoms collide with the world but not with each other (contype/conaffinity
bits), and wheels carry ``condim=1`` with a higher priority: MuJoCo resolves only the normal contact
force of a wheel, its tangential (traction) force comes from :mod:`.terramechanics`.

Servo gains, the steering torque limit, the reflected drive inertia and the pivot damping come from the
model's ``actuators`` section, shared with the Gazebo description.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.rover_model import RoverModel

# Collision bits: rover parts touch the world (bit 0) but never each other.
ROVER_CONTYPE = 2
ROVER_CONAFFINITY = 1
WHEEL_PRIORITY = 1  # the wheel's condim (1: normal force only) wins over the terrain's


def camera_name(side: str) -> str:
    return f"stereo_{side}"


IMU_SITE = "imu"


def _quat(rotation: np.ndarray) -> list[float]:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rotation, dtype=float).reshape(9))
    return quat.tolist()


def _box_inertia(mass: float, size: tuple[float, float, float]) -> list[float]:
    a, b, c = size
    return [mass * (b * b + c * c) / 12, mass * (a * a + c * c) / 12, mass * (a * a + b * b) / 12]


def _set_inertial(body, mass: float, inertia: list[float], pos=(0.0, 0.0, 0.0)) -> None:
    body.explicitinertial = True
    body.mass = mass
    body.inertia = inertia
    body.ipos = list(pos)


def _geom(body, name: str, kind, size, pos=(0, 0, 0), rgba=(0.6, 0.6, 0.6, 1), **extra):
    geom = body.add_geom()
    geom.name = name
    geom.type = kind
    geom.size = list(size) + [0.0] * (3 - len(size))
    geom.pos = list(pos)
    geom.rgba = list(rgba)
    geom.contype = ROVER_CONTYPE
    geom.conaffinity = ROVER_CONAFFINITY
    for key, value in extra.items():
        setattr(geom, key, value)
    return geom


def _capsule(body, name: str, start, end, radius: float, rgba=(0.75, 0.75, 0.78, 1)):
    geom = _geom(body, name, mujoco.mjtGeom.mjGEOM_CAPSULE, (radius,), rgba=rgba)
    geom.fromto = list(start) + list(end)
    return geom


def _hinge(body, name: str, axis, lo: float | None = None, hi: float | None = None, **extra):
    joint = body.add_joint()
    joint.name = name
    joint.type = mujoco.mjtJoint.mjJNT_HINGE
    joint.axis = list(axis)
    if lo is not None:
        joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        joint.range = [lo, hi]
    for key, value in extra.items():
        if key == "damping":  # a polynomial in MuJoCo 4: [linear, quadratic, cubic]
            value = [value, 0.0, 0.0]
        setattr(joint, key, value)
    return joint


def build_rover_spec(model: RoverModel) -> mujoco.MjSpec:
    """An MjSpec holding only the rover (root body ``base_link`` with a free joint)."""
    tuning = model.actuators
    spec = mujoco.MjSpec()
    spec.modelname = model.name
    spec.compiler.degree = False  # joint ranges in radians, as in the rover model
    r, w = model.wheel_radius, model.wheel_width
    masses = model.masses

    base = spec.worldbody.add_body()
    base.name = "base_link"
    base.add_freejoint().name = "root"
    base.sleep = mujoco.mjtSleepPolicy.mjSLEEP_NEVER  # a parked rover is still a sensor platform
    body = model.body
    box_centre = (body.centre_x, 0.0, body.bottom_z + body.height / 2)
    box_size = (body.length, body.width, body.height)
    _set_inertial(base, masses["chassis"], _box_inertia(masses["chassis"], box_size), box_centre)
    _geom(
        base, "chassis", mujoco.mjtGeom.mjGEOM_BOX, [s / 2 for s in box_size], box_centre, (0.85, 0.8, 0.7, 1)
    )
    stereo = model.stereo
    top = body.bottom_z + body.height
    mast_x = stereo.position[0]
    _capsule(base, "mast", (mast_x, 0, top), (mast_x, 0, stereo.position[2] - 0.06), 0.03)
    _geom(
        base,
        "camera_head",
        mujoco.mjtGeom.mjGEOM_BOX,
        (0.06, stereo.baseline / 2 + 0.05, 0.05),
        (mast_x - 0.02, 0, stereo.position[2]),
        (0.3, 0.3, 0.32, 1),
        quat=_quat(rpy_to_matrix(*stereo.rpy)),
    )
    for side in ("left", "right"):
        to_base = stereo.camera_to_base(side)
        camera = base.add_camera()
        camera.name = camera_name(side)
        camera.pos = to_base[:3, 3].tolist()
        # MuJoCo cameras look along -z with y up; optical frames look along +z with y down.
        camera.quat = _quat(to_base[:3, :3] @ np.diag([1.0, -1.0, -1.0]))
        camera.fovy = math.degrees(stereo.vfov)
    imu = base.add_site()
    imu.name = IMU_SITE
    imu.pos = list(model.imu.position)
    imu.quat = _quat(rpy_to_matrix(*model.imu.rpy))

    wheels_on = {}
    for wheel in model.wheels:
        wheels_on.setdefault(wheel.mount, []).append(wheel)
    bogies_on = {}
    for bogie in model.bogies:
        bogies_on.setdefault(bogie.rocker, []).append(bogie)

    def add_wheels(link_body, link_pivot, mount_name):
        for wheel in wheels_on.get(mount_name, []):
            centre = np.array([wheel.x, wheel.y, r]) - np.asarray(link_pivot)
            top_of_wheel = centre + np.array([0.0, 0.0, r + 0.06])
            _capsule(link_body, f"{mount_name}_to_{wheel.name}", (0, 0, 0), top_of_wheel, 0.025)
            parent = link_body
            wheel_mass = masses["wheel"]
            if wheel.steerable:
                hub_mass = masses["hub_fraction"] * wheel_mass
                wheel_mass -= hub_mass
                steer = link_body.add_body()
                steer.name = f"steer_{wheel.name}"
                steer.pos = centre.tolist()
                _set_inertial(steer, hub_mass, _box_inertia(hub_mass, (0.1, 0.1, 0.1)), (0, 0, r + 0.03))
                _hinge(
                    steer,
                    wheel.steer_joint,
                    (0, 0, 1),
                    model.steering.min_angle,
                    model.steering.max_angle,
                    damping=1.0,
                )
                _capsule(steer, f"fork_{wheel.name}", (0, 0, r + 0.06), (0, 0, r + 0.01), 0.03)
                parent, offset = steer, (0.0, 0.0, 0.0)
            else:
                offset = tuple(centre)
            spinner = parent.add_body()
            spinner.name = f"wheel_{wheel.name}"
            spinner.pos = list(offset)
            axle = wheel_mass * r * r / 2
            across = wheel_mass * (3 * r * r + w * w) / 12
            _set_inertial(spinner, wheel_mass, [across, axle, across])
            _hinge(spinner, wheel.drive_joint, (0, 1, 0), armature=tuning.drive_armature, damping=0.0)
            _geom(
                spinner,
                f"wheel_{wheel.name}",
                mujoco.mjtGeom.mjGEOM_CYLINDER,
                (r, w / 2),
                rgba=(0.35, 0.35, 0.37, 1),
                quat=[math.sqrt(0.5), -math.sqrt(0.5), 0.0, 0.0],  # cylinder axis z -> wheel axle y
                condim=1,
                priority=WHEEL_PRIORITY,
            )
            # A spoke mark so the wheel's rotation is visible in the camera images.
            spoke = _geom(
                spinner,
                f"spoke_{wheel.name}",
                mujoco.mjtGeom.mjGEOM_BOX,
                (0.8 * r, w / 2 + 0.002, 0.015),
                rgba=(0.9, 0.5, 0.1, 1),
            )
            spoke.contype = spoke.conaffinity = 0

    for rocker in model.rockers:
        rbody = base.add_body()
        rbody.name = rocker.name
        rbody.pos = list(rocker.pivot)
        _set_inertial(rbody, masses["rocker"], _box_inertia(masses["rocker"], (0.8, 0.06, 0.1)))
        _hinge(
            rbody, rocker.name, (0, 1, 0), rocker.min_angle, rocker.max_angle, damping=tuning.pivot_damping
        )
        add_wheels(rbody, rocker.pivot, rocker.name)
        for bogie in bogies_on.get(rocker.name, []):
            rel = np.asarray(bogie.pivot) - np.asarray(rocker.pivot)
            _capsule(rbody, f"{rocker.name}_to_{bogie.name}", (0, 0, 0), rel, 0.03)
            bbody = rbody.add_body()
            bbody.name = bogie.name
            bbody.pos = rel.tolist()
            _set_inertial(bbody, masses["bogie"], _box_inertia(masses["bogie"], (0.7, 0.06, 0.1)))
            _hinge(
                bbody, bogie.name, (0, 1, 0), bogie.min_angle, bogie.max_angle, damping=tuning.pivot_damping
            )
            add_wheels(bbody, bogie.pivot, bogie.name)

    if model.differential and len(model.rockers) == 2:
        left, right = model.rockers
        equality = spec.add_equality()
        equality.name = "differential"
        equality.type = mujoco.mjtEq.mjEQ_JOINT
        equality.objtype = mujoco.mjtObj.mjOBJ_JOINT
        equality.name1 = right.name
        equality.name2 = left.name
        equality.data[:5] = [0.0, -1.0, 0.0, 0.0, 0.0]  # right = 0 - 1 * left

    for wheel in model.wheels:
        drive = spec.add_actuator()
        drive.name = wheel.drive_joint
        drive.target = wheel.drive_joint
        drive.trntype = mujoco.mjtTrn.mjTRN_JOINT
        drive.set_to_velocity(kv=tuning.drive_kv)
        drive.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        drive.forcerange = [-model.wheel_max_torque, model.wheel_max_torque]
    for wheel in model.steerable_wheels:
        steer = spec.add_actuator()
        steer.name = wheel.steer_joint
        steer.target = wheel.steer_joint
        steer.trntype = mujoco.mjtTrn.mjTRN_JOINT
        steer.set_to_position(kp=tuning.steer_kp, kv=tuning.steer_kv)
        steer.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        steer.forcerange = [-tuning.steer_max_torque, tuning.steer_max_torque]

    for kind, name in (("gyro", "imu_gyro"), ("accelerometer", "imu_accel")):
        sensor = spec.add_sensor()
        sensor.name = name
        sensor.type = getattr(mujoco.mjtSensor, f"mjSENS_{kind.upper()}")
        sensor.objtype = mujoco.mjtObj.mjOBJ_SITE
        sensor.objname = IMU_SITE
    return spec
