"""URDF of the rover, generated from the rover model (``config/rover.yaml``).

The tree (REP-120 style, base_link at the root):

    base_link ── chassis (fixed; the chassis mass, so base_link itself carries no inertia for KDL)
      ├─ <rocker> (revolute about y at the rocker pivot) ── <rocker>_link
      │    ├─ <bogie> (revolute about y at the bogie pivot) ── <bogie>_link ── wheels on the bogie
      │    └─ wheels on the rocker
      ├─ stereo_{left,right}_link (fixed; camera body, x forward) ── stereo_*_optical_frame (z forward)
      └─ imu_link (fixed)

A wheel is ``steer_<wheel>`` (revolute about z through the wheel centre, steerable wheels only) then
``drive_<wheel>`` (continuous about y): the joint names and orders are the model's ``steer_joints``,
``drive_joints`` and ``suspension_joints``. A positive rocker/bogie angle turns points ahead of the
pivot downwards (right-hand rule about +y), as in the model.

The rocker differential is written as URDF ``<mimic>``: the second rocker follows the first with
multiplier −1 (MER/MSL differential bar: the body pitches by the mean rocker angle). robot_state_publisher
and RViz honour it; in Gazebo it is enforced as docs/gazebo.md explains (gz_ros2_control drives the
mimicking rocker onto −1 × the other; physics engines with mimic constraints make it bilateral).

Inertias are solid-body formulas with the model's masses: the chassis a box, rockers and bogies
beams from their pivot to each attachment (mass split by length), wheels solid cylinders; a steering
knuckle carries ``mass.hub_fraction`` of its wheel. Steering torque and pivot damping come from the
model's ``actuators``, as in the embedded simulator, so both simulators carry the same rover.
``gazebo`` output adds the ros2_control block (drive: velocity command, steering: position command,
rockers: state only), the camera and IMU sensors and the system plugins (docs/gazebo.md).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.rover_model import RoverModel

# Rate of the ground-truth odometry published by Gazebo [Hz], as the embedded simulator's default.
GROUND_TRUTH_RATE = 50.0
# ros2_control: the plugin that makes Gazebo's joints a ros2_control system.
GZ_HARDWARE_PLUGIN = "gz_ros2_control/GazeboSimSystem"
# Structural load factor on the passive suspension joints' effort limit [-]: their limit is the whole
# rover's Earth weight at the longest lever of the suspension, times this factor.
SUSPENSION_LOAD_FACTOR = 2.0
STANDARD_GRAVITY = 9.80665  # [m/s^2] for the structural bound above (a rover is built on Earth)
# Velocity limit written on the passive suspension joints [rad/s]: one turn a second, far above any
# rate terrain can drive (test_description checks it against max_speed / shortest lever).
SUSPENSION_MAX_RATE = 2 * math.pi

# Gazebo transport topics of the sensors (bridged to the contract's topics by config/gz_bridge.yaml).
# A camera's CameraInfo is published by Gazebo beside its image topic: .../camera_info.
GZ_TOPICS = {
    "left_image": "/rover/stereo/left/image_rect",
    "left_info": "/rover/stereo/left/camera_info",
    "right_image": "/rover/stereo/right/image_rect",
    "right_info": "/rover/stereo/right/camera_info",
    "imu": "/rover/imu/data",
    "joint_states": "/rover/joint_states",
    "ground_truth": "/rover/ground_truth/odom",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Camera body (x forward, y left, z up) -> optical frame (z forward, x right, y down).
OPTICAL_RPY = (-math.pi / 2, 0.0, -math.pi / 2)


class UrdfError(ValueError):
    """The rover model cannot be expressed as a URDF; the message says what to change."""


@dataclass(frozen=True)
class Inertial:
    mass: float  # [kg]
    com: np.ndarray  # (3,) centre of mass in the link frame [m]
    inertia: np.ndarray  # (3, 3) about the centre of mass, link axes [kg m^2]


def box_inertia(mass: float, size: tuple[float, float, float]) -> np.ndarray:
    """Solid box of edge lengths (x, y, z) [m] about its centre [kg m^2]."""
    x, y, z = size
    return np.diag([y * y + z * z, x * x + z * z, x * x + y * y]) * mass / 12.0


def cylinder_inertia(mass: float, radius: float, length: float, axis: int) -> np.ndarray:
    """Solid cylinder about its centre, symmetry axis ``axis`` (0 x, 1 y, 2 z) [kg m^2]."""
    transverse = mass * (3 * radius * radius + length * length) / 12.0
    diag = [transverse] * 3
    diag[axis] = mass * radius * radius / 2.0
    return np.diag(diag)


def rods_inertial(origin: np.ndarray, ends: list[np.ndarray], mass: float, section: float) -> Inertial:
    """Beams of square ``section`` [m] from ``origin`` to each of ``ends``, sharing ``mass`` by length.

    Each beam is a solid box (length, section, section) about its centre, moved to the common centre
    of mass by the parallel-axis theorem.
    """
    segments = [np.asarray(e, float) - origin for e in ends]
    lengths = np.array([np.linalg.norm(s) for s in segments])
    if not len(segments) or lengths.sum() <= 0:
        raise UrdfError("a suspension link carries nothing: every rocker and bogie needs a wheel or a bogie")
    masses = mass * lengths / lengths.sum()
    centres = [origin + s / 2 for s in segments]
    com = sum(m * c for m, c in zip(masses, centres, strict=True)) / mass
    inertia = np.zeros((3, 3))
    for m, s, c, length in zip(masses, segments, centres, lengths, strict=True):
        if length > 0:
            u = np.outer(s, s) / (length * length)
            b2 = section * section
            inertia += m / 12.0 * ((length * length + b2) * (np.eye(3) - u) + 2 * b2 * u)
        d = c - com
        inertia += m * (d @ d * np.eye(3) - np.outer(d, d))
    return Inertial(float(mass), com, inertia)


def _fmt(value: float) -> str:
    """Shortest text that reads back as the same double (frames compose exactly)."""
    text = repr(float(value))
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def _vec(values) -> str:
    return " ".join(_fmt(float(v)) for v in values)


class _Builder:
    def __init__(self, model: RoverModel):
        self.model = model
        self.robot = ET.Element("robot", name=model.name)
        self.links: list[str] = []
        self.joints: list[str] = []

    # -- elements ---------------------------------------------------------------------------------
    def link(self, name: str, inertial: Inertial | None = None) -> ET.Element:
        link = ET.SubElement(self.robot, "link", name=name)
        self.links.append(name)
        if inertial is not None:
            el = ET.SubElement(link, "inertial")
            ET.SubElement(el, "origin", xyz=_vec(inertial.com), rpy="0 0 0")
            ET.SubElement(el, "mass", value=_fmt(inertial.mass))
            i = inertial.inertia
            ET.SubElement(
                el,
                "inertia",
                ixx=_fmt(i[0, 0]),
                ixy=_fmt(i[0, 1]),
                ixz=_fmt(i[0, 2]),
                iyy=_fmt(i[1, 1]),
                iyz=_fmt(i[1, 2]),
                izz=_fmt(i[2, 2]),
            )
        return link

    def joint(
        self,
        name: str,
        kind: str,
        parent: str,
        child: str,
        xyz=(0.0, 0.0, 0.0),
        rpy=(0.0, 0.0, 0.0),
        axis=None,
        limit: dict[str, float] | None = None,
    ) -> ET.Element:
        joint = ET.SubElement(self.robot, "joint", name=name, type=kind)
        self.joints.append(name)
        ET.SubElement(joint, "parent", link=parent)
        ET.SubElement(joint, "child", link=child)
        ET.SubElement(joint, "origin", xyz=_vec(xyz), rpy=_vec(rpy))
        if axis is not None:
            ET.SubElement(joint, "axis", xyz=_vec(axis))
        if limit is not None:
            ET.SubElement(joint, "limit", **{k: _fmt(v) for k, v in limit.items()})
        return joint

    @staticmethod
    def shape(link: ET.Element, geometry: tuple, xyz=(0, 0, 0), rpy=(0, 0, 0), collide=True) -> None:
        """A visual (and a collision) of ``("box", size) | ("cylinder", radius, length)``."""
        for tag in ("visual", "collision") if collide else ("visual",):
            el = ET.SubElement(link, tag)
            ET.SubElement(el, "origin", xyz=_vec(xyz), rpy=_vec(rpy))
            geom = ET.SubElement(el, "geometry")
            if geometry[0] == "box":
                ET.SubElement(geom, "box", size=_vec(geometry[1]))
            else:
                ET.SubElement(geom, "cylinder", radius=_fmt(geometry[1]), length=_fmt(geometry[2]))


def link_names(model: RoverModel) -> dict[str, str]:
    """URDF link name of every part: chassis, suspension links, steering knuckles and wheels."""
    names = {"chassis": "chassis"}
    for pivot in (*model.rockers, *model.bogies):
        names[pivot.name] = f"{pivot.name}_link"
    for wheel in model.wheels:
        names[f"{wheel.name}.wheel"] = f"{wheel.name}_wheel_link"
        if wheel.steerable:
            names[f"{wheel.name}.steering"] = f"{wheel.name}_steering_link"
    return names


def check_expressible(model: RoverModel, camera_rate: float) -> None:
    """Raise :class:`UrdfError` (one line naming what to change) when URDF cannot express ``model``."""
    if model.differential and len(model.rockers) != 2:
        raise UrdfError(
            f"suspension.differential needs exactly two rockers (left, right), got {len(model.rockers)}: "
            "set differential: false or list two rockers in config/rover.yaml"
        )
    if not (math.isfinite(camera_rate) and camera_rate > 0):
        raise UrdfError(f"camera rate must be a positive number of Hz, got {camera_rate}")
    frames = [
        "base_link",
        model.imu.frame,
        model.stereo.left_frame,
        model.stereo.right_frame,
        "stereo_left_link",
        "stereo_right_link",
    ]
    links = [*frames, *link_names(model).values()]
    joints = [*model.drive_joints, *model.steer_joints, *model.suspension_joints]
    for name in links + joints:
        if not _NAME.match(name):
            raise UrdfError(
                f"name {name!r} from config/rover.yaml is not a valid ROS/URDF name: "
                "use letters, digits and underscores, not starting with a digit"
            )
    everything = links + joints
    duplicates = sorted({n for n in everything if everything.count(n) > 1})
    if duplicates:
        raise UrdfError(
            f"names collide in the URDF: {', '.join(duplicates)}; rename the wheels, suspension links "
            "or frames in config/rover.yaml so that link and joint names are unique"
        )


def build_urdf(
    model: RoverModel,
    *,
    gazebo: bool = True,
    camera_rate: float | None = None,
    controllers_file: str | None = None,
) -> str:
    """The rover's URDF as text.

    ``gazebo`` adds the ros2_control block for gz_ros2_control, the sensors and the Gazebo system
    plugins; ``controllers_file`` is the absolute path of ``ros2_controllers.yaml`` handed to the
    controller manager inside Gazebo (required with ``gazebo``). Without ``gazebo`` the URDF is the
    kinematic and visual description for robot_state_publisher on the real rover.
    """
    tuning = model.actuators
    camera_rate = model.stereo.rate if camera_rate is None else camera_rate
    check_expressible(model, camera_rate)
    if gazebo and not controllers_file:
        raise UrdfError("a Gazebo URDF needs the path of config/ros2_controllers.yaml (controllers_file)")
    b = _Builder(model)
    names = link_names(model)
    body = model.body
    radius, width = model.wheel_radius, model.wheel_width

    # Root without inertia (KDL cannot hold a root inertia); the chassis carries the mass.
    b.link("base_link")
    box = (body.length, body.width, body.height)
    box_centre = np.array([body.centre_x, 0.0, body.bottom_z + body.height / 2])
    chassis = b.link(
        "chassis", Inertial(model.masses["chassis"], box_centre, box_inertia(model.masses["chassis"], box))
    )
    b.shape(chassis, ("box", box), xyz=box_centre)
    # The mast carrying the stereo pair (visual only; its mass is part of the chassis).
    top = body.bottom_z + body.height
    mast_height = model.stereo.position[2] - top
    if mast_height > 0:
        mast_xyz = (model.stereo.position[0], model.stereo.position[1], top + mast_height / 2)
        b.shape(chassis, ("cylinder", model.stereo.baseline / 10, mast_height), xyz=mast_xyz, collide=False)
    b.joint("chassis_joint", "fixed", "base_link", "chassis")

    # Suspension: rockers on the chassis, bogies on their rocker.
    structural_effort = SUSPENSION_LOAD_FACTOR * model.total_mass * STANDARD_GRAVITY * _longest_lever(model)
    beam = width / 3  # cross-section of the rocker and bogie beams [m]
    rockers = {p.name: p for p in model.rockers}
    for index, rocker in enumerate(model.rockers):
        pivot = np.array(rocker.pivot)
        ends = [np.array([w.x, w.y, radius]) for w in model.wheels if w.mount == rocker.name]
        ends += [np.array(bg.pivot) for bg in model.bogies if bg.rocker == rocker.name]
        inertial = rods_inertial(np.zeros(3), [e - pivot for e in ends], model.masses["rocker"], beam)
        link = b.link(names[rocker.name], inertial)
        _beams(b, link, np.zeros(3), [e - pivot for e in ends], beam)
        joint = b.joint(
            rocker.name,
            "revolute",
            "chassis",
            names[rocker.name],
            xyz=pivot,
            axis=(0, 1, 0),
            limit=_limit(rocker.min_angle, rocker.max_angle, structural_effort, SUSPENSION_MAX_RATE),
        )
        ET.SubElement(joint, "dynamics", damping=_fmt(tuning.pivot_damping), friction="0")
        if model.differential and index == 1:
            ET.SubElement(joint, "mimic", joint=model.rockers[0].name, multiplier="-1", offset="0")
    for bogie in model.bogies:
        pivot = np.array(bogie.pivot)
        parent_pivot = np.array(rockers[bogie.rocker].pivot)
        ends = [np.array([w.x, w.y, radius]) - pivot for w in model.wheels if w.mount == bogie.name]
        link = b.link(names[bogie.name], rods_inertial(np.zeros(3), ends, model.masses["bogie"], beam))
        _beams(b, link, np.zeros(3), ends, beam)
        joint = b.joint(
            bogie.name,
            "revolute",
            names[bogie.rocker],
            names[bogie.name],
            xyz=pivot - parent_pivot,
            axis=(0, 1, 0),
            limit=_limit(bogie.min_angle, bogie.max_angle, structural_effort, SUSPENSION_MAX_RATE),
        )
        ET.SubElement(joint, "dynamics", damping=_fmt(tuning.pivot_damping), friction="0")

    # Wheels: steering knuckle (steerable wheels) then the wheel.
    pivots = {p.name: np.array(p.pivot) for p in (*model.rockers, *model.bogies)}
    wheel_mass = model.masses["wheel"]
    for wheel in model.wheels:
        centre = np.array([wheel.x, wheel.y, radius])
        parent, offset = names[wheel.mount], centre - pivots[wheel.mount]
        mass = wheel_mass
        if wheel.steerable:
            knuckle_mass = wheel_mass * model.masses["hub_fraction"]
            mass = wheel_mass - knuckle_mass
            knuckle = names[f"{wheel.name}.steering"]
            b.link(
                knuckle,
                Inertial(knuckle_mass, np.zeros(3), cylinder_inertia(knuckle_mass, width / 2, radius, 2)),
            )
            b.joint(
                wheel.steer_joint,
                "revolute",
                parent,
                knuckle,
                xyz=offset,
                axis=(0, 0, 1),
                limit=_limit(
                    model.steering.min_angle,
                    model.steering.max_angle,
                    tuning.steer_max_torque,
                    model.steering.max_rate,
                ),
            )
            parent, offset = knuckle, np.zeros(3)
        wheel_link = b.link(
            names[f"{wheel.name}.wheel"],
            Inertial(mass, np.zeros(3), cylinder_inertia(mass, radius, width, 1)),
        )
        b.shape(wheel_link, ("cylinder", radius, width), rpy=(math.pi / 2, 0, 0))
        b.joint(
            wheel.drive_joint,
            "continuous",
            parent,
            names[f"{wheel.name}.wheel"],
            xyz=offset,
            axis=(0, 1, 0),
            limit={"effort": model.wheel_max_torque, "velocity": model.wheel_max_rate},
        )

    # Stereo pair: camera bodies (x forward) and their optical frames.
    stereo = model.stereo
    attitude = rpy_to_matrix(*stereo.rpy)
    camera_size = (stereo.baseline / 6, stereo.baseline / 3, stereo.baseline / 6)
    for side, frame in (("left", stereo.left_frame), ("right", stereo.right_frame)):
        sign = 1.0 if side == "left" else -1.0
        position = np.array(stereo.position) + attitude @ np.array([0.0, sign * stereo.baseline / 2, 0.0])
        body_link = b.link(f"stereo_{side}_link")
        b.shape(body_link, ("box", camera_size), collide=False)
        b.joint(f"stereo_{side}_joint", "fixed", "base_link", f"stereo_{side}_link", position, stereo.rpy)
        b.link(frame)
        b.joint(f"stereo_{side}_optical_joint", "fixed", f"stereo_{side}_link", frame, rpy=OPTICAL_RPY)
    b.link(model.imu.frame)
    b.joint("imu_joint", "fixed", "base_link", model.imu.frame, model.imu.position, model.imu.rpy)

    if gazebo:
        _ros2_control(b.robot, model)
        _gazebo_sensors(b.robot, model, camera_rate)
        _gazebo_plugins(b.robot, controllers_file)

    ET.indent(b.robot, space="  ")
    header = (
        '<?xml version="1.0"?>\n'
        f"<!-- Generated from config/rover.yaml ({model.name}) by `rover-autonomy urdf`; do not edit. -->\n"
    )
    return header + ET.tostring(b.robot, encoding="unicode") + "\n"


def _limit(lower: float, upper: float, effort: float, velocity: float) -> dict[str, float]:
    return {"lower": lower, "upper": upper, "effort": effort, "velocity": velocity}


def _longest_lever(model: RoverModel) -> float:
    """Longest horizontal distance from a suspension pivot to a wheel centre [m]."""
    pivots = [np.array(p.pivot) for p in (*model.rockers, *model.bogies)]
    centres = model.nominal_wheel_centres()
    return max(float(np.hypot(*(c - p)[[0, 2]])) for p in pivots for c in centres)


def _beams(b: _Builder, link: ET.Element, origin: np.ndarray, ends: list[np.ndarray], beam: float) -> None:
    for end in ends:
        d = np.asarray(end) - origin
        length = float(np.linalg.norm(d))
        if length <= 0:
            continue
        yaw = math.atan2(d[1], d[0])
        pitch = math.atan2(-d[2], math.hypot(d[0], d[1]))
        b.shape(link, ("box", (length, beam, beam)), xyz=origin + d / 2, rpy=(0.0, pitch, yaw))


def _ros2_control(robot: ET.Element, model: RoverModel) -> None:
    """gz_ros2_control system: drive velocity, steering position, rockers state only (differential)."""
    control = ET.SubElement(robot, "ros2_control", name="GazeboSimSystem", type="system")
    hardware = ET.SubElement(control, "hardware")
    ET.SubElement(hardware, "plugin").text = GZ_HARDWARE_PLUGIN

    def joint(name: str, command: str | None, bounds: tuple[float, float] | None = None) -> None:
        el = ET.SubElement(control, "joint", name=name)
        if command:
            cmd = ET.SubElement(el, "command_interface", name=command)
            if bounds:
                ET.SubElement(cmd, "param", name="min").text = _fmt(bounds[0])
                ET.SubElement(cmd, "param", name="max").text = _fmt(bounds[1])
        ET.SubElement(el, "state_interface", name="position")
        ET.SubElement(el, "state_interface", name="velocity")

    for name in model.drive_joints:
        joint(name, "velocity", (-model.wheel_max_rate, model.wheel_max_rate))
    for name in model.steer_joints:
        joint(name, "position", (model.steering.min_angle, model.steering.max_angle))
    if model.differential:
        # Both rockers, state only: ros2_control reads the <mimic> of the second one and
        # gz_ros2_control servoes it onto multiplier x the first (docs/gazebo.md).
        for rocker in model.rockers:
            joint(rocker.name, None)


def _gazebo_sensors(robot: ET.Element, model: RoverModel, camera_rate: float) -> None:
    stereo = model.stereo
    for side, frame in (("left", stereo.left_frame), ("right", stereo.right_frame)):
        ref = ET.SubElement(robot, "gazebo", reference=f"stereo_{side}_link")
        sensor = ET.SubElement(ref, "sensor", name=f"stereo_{side}", type="camera")
        ET.SubElement(sensor, "always_on").text = "true"
        ET.SubElement(sensor, "update_rate").text = _fmt(camera_rate)
        ET.SubElement(sensor, "topic").text = GZ_TOPICS[f"{side}_image"]
        # gz-sensors stamps images and CameraInfo with this frame instead of the scoped sensor name.
        ET.SubElement(sensor, "gz_frame_id").text = frame
        camera = ET.SubElement(sensor, "camera", name=f"stereo_{side}")
        ET.SubElement(camera, "horizontal_fov").text = _fmt(stereo.hfov)
        image = ET.SubElement(camera, "image")
        ET.SubElement(image, "width").text = str(stereo.width)
        ET.SubElement(image, "height").text = str(stereo.height)
        ET.SubElement(image, "format").text = "R8G8B8"
        clip = ET.SubElement(camera, "clip")
        ET.SubElement(clip, "near").text = _fmt(stereo.near_clip)
        ET.SubElement(clip, "far").text = _fmt(stereo.far_clip)

    imu = model.imu
    ref = ET.SubElement(robot, "gazebo", reference=imu.frame)
    sensor = ET.SubElement(ref, "sensor", name="imu", type="imu")
    ET.SubElement(sensor, "always_on").text = "true"
    ET.SubElement(sensor, "update_rate").text = _fmt(imu.rate)
    ET.SubElement(sensor, "topic").text = GZ_TOPICS["imu"]
    ET.SubElement(sensor, "gz_frame_id").text = imu.frame
    body = ET.SubElement(sensor, "imu")
    # The contract's IMU carries no orientation.
    ET.SubElement(body, "enable_orientation").text = "false"
    # Continuous-time noise density -> per-sample standard deviation at the sample rate.
    for tag, density, bias in (
        ("angular_velocity", imu.gyro_noise_density, imu.gyro_bias_sigma),
        ("linear_acceleration", imu.accel_noise_density, imu.accel_bias_sigma),
    ):
        group = ET.SubElement(body, tag)
        for axis in ("x", "y", "z"):
            noise = ET.SubElement(ET.SubElement(group, axis), "noise", type="gaussian")
            ET.SubElement(noise, "mean").text = "0"
            ET.SubElement(noise, "stddev").text = _fmt(density * math.sqrt(imu.rate))
            ET.SubElement(noise, "bias_mean").text = "0"
            ET.SubElement(noise, "bias_stddev").text = _fmt(bias)


def _gazebo_plugins(robot: ET.Element, controllers_file: str) -> None:
    ref = ET.SubElement(robot, "gazebo")
    control = ET.SubElement(
        ref, "plugin", filename="gz_ros2_control-system", name="gz_ros2_control::GazeboSimROS2ControlPlugin"
    )
    ET.SubElement(control, "parameters").text = controllers_file
    states = ET.SubElement(
        ref,
        "plugin",
        filename="gz-sim-joint-state-publisher-system",
        name="gz::sim::systems::JointStatePublisher",
    )
    ET.SubElement(states, "topic").text = GZ_TOPICS["joint_states"]
    odom = ET.SubElement(
        ref, "plugin", filename="gz-sim-odometry-publisher-system", name="gz::sim::systems::OdometryPublisher"
    )
    ET.SubElement(odom, "odom_frame").text = "map"
    ET.SubElement(odom, "robot_base_frame").text = "base_link"
    ET.SubElement(odom, "odom_topic").text = GZ_TOPICS["ground_truth"]
    ET.SubElement(odom, "odom_publish_frequency").text = _fmt(GROUND_TRUTH_RATE)
    ET.SubElement(odom, "dimensions").text = "3"
