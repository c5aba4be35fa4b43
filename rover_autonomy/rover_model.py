"""The rover model: schema, validating loader and suspension geometry of ``config/rover.yaml``.

Every component reads the rover from here. The loader reports the first invalid field by its path
(``wheels.layout[2].x: expected a number, got 'abc'``) so a broken file is fixed in one look.

Suspension geometry: rockers turn about the y axis at a pivot on the chassis, bogies about the y
axis at a pivot on their rocker. A wheel's centre at given rocker/bogie angles is its nominal centre
carried through the bogie rotation (if it rides on a bogie) and then the rocker rotation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.resources import config_path


class RoverModelError(ValueError):
    """``rover.yaml`` is missing, unreadable or has an invalid field."""


@dataclass(frozen=True)
class Wheel:
    name: str
    x: float  # [m] nominal centre in base_link
    y: float  # [m]
    steerable: bool
    mount: str  # suspension link carrying the wheel

    @property
    def drive_joint(self) -> str:
        return f"drive_{self.name}"

    @property
    def steer_joint(self) -> str:
        return f"steer_{self.name}"


@dataclass(frozen=True)
class Pivot:
    name: str
    pivot: tuple[float, float, float]  # [m] in base_link at nominal suspension
    min_angle: float  # [rad]
    max_angle: float  # [rad]
    rocker: str | None = None  # for bogies: the rocker they hang from


@dataclass(frozen=True)
class Body:
    length: float
    width: float
    height: float
    bottom_z: float
    centre_x: float

    @property
    def footprint(self) -> np.ndarray:
        """(4, 2) corners of the chassis outline in base_link [m], counter-clockwise."""
        hl, hw = self.length / 2, self.width / 2
        cx = self.centre_x
        return np.array([[cx + hl, hw], [cx - hl, hw], [cx - hl, -hw], [cx + hl, -hw]])


@dataclass(frozen=True)
class Limits:
    max_tilt: float  # [rad]
    min_belly_clearance: float  # [m]
    max_step: float  # [m]
    max_speed: float  # [m/s]
    max_yaw_rate: float  # [rad/s]


@dataclass(frozen=True)
class Steering:
    min_angle: float
    max_angle: float
    max_rate: float
    tolerance: float


@dataclass(frozen=True)
class Actuators:
    steer_kp: float  # [N m/rad]
    steer_kv: float  # [N m s/rad]
    steer_max_torque: float  # [N m]
    drive_kv: float  # [N m s/rad]
    drive_armature: float  # [kg m^2]
    pivot_damping: float  # [N m s/rad]


@dataclass(frozen=True)
class StereoMount:
    position: tuple[float, float, float]
    rpy: tuple[float, float, float]
    baseline: float
    width: int
    height: int
    hfov: float  # [rad]
    rate: float  # [Hz]
    near_clip: float
    far_clip: float
    left_frame: str
    right_frame: str

    @property
    def focal_px(self) -> float:
        """Focal length of the rectified pinhole images [px] (square pixels)."""
        return (self.width / 2) / math.tan(self.hfov / 2)

    @property
    def vfov(self) -> float:
        return 2 * math.atan((self.height / 2) / self.focal_px)

    def intrinsics(self) -> np.ndarray:
        """3x3 camera matrix K of the rectified images, principal point at the image centre."""
        f = self.focal_px
        return np.array([[f, 0, (self.width - 1) / 2], [0, f, (self.height - 1) / 2], [0, 0, 1.0]])

    def camera_to_base(self, side: str) -> np.ndarray:
        """4x4 transform from a camera's optical frame (z forward, x right, y down) to base_link."""
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        body = rpy_to_matrix(*self.rpy)
        offset = (1 if side == "left" else -1) * self.baseline / 2
        optical_to_body = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
        transform = np.eye(4)
        transform[:3, :3] = body @ optical_to_body
        transform[:3, 3] = np.asarray(self.position) + body @ np.array([0.0, offset, 0.0])
        return transform


@dataclass(frozen=True)
class ImuMount:
    position: tuple[float, float, float]
    rpy: tuple[float, float, float]
    frame: str
    rate: float
    gyro_noise_density: float
    gyro_bias_sigma: float
    accel_noise_density: float
    accel_bias_sigma: float
    gyro_range: float
    accel_range: float


@dataclass(frozen=True)
class RoverModel:
    name: str
    masses: dict[str, float]
    body: Body
    limits: Limits
    wheel_radius: float
    wheel_width: float
    wheel_max_rate: float
    wheel_max_accel: float
    wheel_max_torque: float
    wheels: tuple[Wheel, ...]
    steering: Steering
    actuators: Actuators
    differential: bool
    rockers: tuple[Pivot, ...]
    bogies: tuple[Pivot, ...]
    stereo: StereoMount
    imu: ImuMount

    # -- joint names and command array order -------------------------------------------------
    @property
    def wheel_names(self) -> list[str]:
        return [w.name for w in self.wheels]

    @property
    def drive_joints(self) -> list[str]:
        """Order of ``drive_controller/commands`` [rad/s]."""
        return [w.drive_joint for w in self.wheels]

    @property
    def steerable_wheels(self) -> list[Wheel]:
        return [w for w in self.wheels if w.steerable]

    @property
    def steer_joints(self) -> list[str]:
        """Order of ``steer_controller/commands`` [rad]."""
        return [w.steer_joint for w in self.steerable_wheels]

    @property
    def suspension_joints(self) -> list[str]:
        return [p.name for p in self.rockers] + [p.name for p in self.bogies]

    @property
    def total_mass(self) -> float:
        m = self.masses
        n = len(self.wheels)
        return m["chassis"] + len(self.rockers) * m["rocker"] + len(self.bogies) * m["bogie"] + n * m["wheel"]

    # -- geometry ----------------------------------------------------------------------------
    def nominal_wheel_centres(self) -> np.ndarray:
        """(N, 3) wheel centres in base_link at zero suspension angles [m]."""
        return np.array([[w.x, w.y, self.wheel_radius] for w in self.wheels])

    def wheel_centres(self, suspension: dict[str, float] | None = None) -> np.ndarray:
        """(N, 3) wheel centres in base_link with the given rocker/bogie angles [rad].

        Missing joints are taken at zero. With a differential, a right rocker angle that is not
        given follows the left one mirrored.
        """
        angles = dict(suspension or {})
        if self.differential and len(self.rockers) == 2:
            left, right = self.rockers
            if left.name in angles and right.name not in angles:
                angles[right.name] = -angles[left.name]
        rockers = {p.name: p for p in self.rockers}
        bogies = {p.name: p for p in self.bogies}
        centres = self.nominal_wheel_centres()
        for i, wheel in enumerate(self.wheels):
            point = centres[i]
            rocker_name = wheel.mount
            if wheel.mount in bogies:
                bogie = bogies[wheel.mount]
                point = _rotate_about_y(point, bogie.pivot, angles.get(bogie.name, 0.0))
                rocker_name = bogie.rocker
            rocker = rockers[rocker_name]
            centres[i] = _rotate_about_y(point, rocker.pivot, angles.get(rocker.name, 0.0))
        return centres

    def contact_points(self, suspension: dict[str, float] | None = None) -> np.ndarray:
        """(N, 3) wheel contact points in base_link: the bottom of each wheel [m]."""
        return self.wheel_centres(suspension) - np.array([0.0, 0.0, self.wheel_radius])

    @property
    def min_turn_radius(self) -> float:
        """Smallest arc radius [m] about a centre on the y axis that the steering limits allow."""
        limit = min(abs(self.steering.min_angle), abs(self.steering.max_angle))
        steer_xs = [abs(w.x) for w in self.steerable_wheels]
        if not steer_xs or limit <= 0:
            return math.inf
        widest = max(abs(w.y) for w in self.steerable_wheels)
        return max(steer_xs) / math.tan(limit) + widest


def _rotate_about_y(point: np.ndarray, pivot: tuple[float, float, float], angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    dx, dz = point[0] - pivot[0], point[2] - pivot[2]
    return np.array([pivot[0] + c * dx + s * dz, point[1], pivot[2] - s * dx + c * dz])


# -- loading and validation ----------------------------------------------------------------------


def load_rover_model(path: str | Path | None = None) -> RoverModel:
    """Load and validate a rover model; ``path`` defaults to the package's ``config/rover.yaml``."""
    path = Path(path) if path is not None else config_path("rover.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise RoverModelError(f"{path}: cannot read rover model ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise RoverModelError(f"{path}: not valid YAML ({err})") from err
    try:
        return parse_rover_model(data)
    except RoverModelError as err:
        raise RoverModelError(f"{path}: {err}") from err


def parse_rover_model(data: Any) -> RoverModel:
    """Build a :class:`RoverModel` from already-parsed YAML, validating every field."""
    root = _Fields(data, "")
    mass = root.section("mass")
    masses = {k: mass.number(k, lo=0.0, lo_open=True) for k in ("chassis", "rocker", "bogie", "wheel")}
    masses["hub_fraction"] = mass.number("hub_fraction", lo=0.0, hi=0.9)
    b = root.section("body")
    body = Body(
        length=b.number("length", lo=0.0, lo_open=True),
        width=b.number("width", lo=0.0, lo_open=True),
        height=b.number("height", lo=0.0, lo_open=True),
        bottom_z=b.number("bottom_z", lo=0.0, lo_open=True),
        centre_x=b.number("centre_x"),
    )
    lim = root.section("limits")
    limits = Limits(
        max_tilt=math.radians(lim.number("max_tilt_deg", lo=0.0, hi=60.0, lo_open=True)),
        min_belly_clearance=lim.number("min_belly_clearance", lo=0.0),
        max_step=lim.number("max_step", lo=0.0, lo_open=True),
        max_speed=lim.number("max_speed", lo=0.0, lo_open=True),
        max_yaw_rate=lim.number("max_yaw_rate", lo=0.0, lo_open=True),
    )
    wh = root.section("wheels")
    layout = wh.items("layout")
    if not layout:
        raise RoverModelError("wheels.layout: needs at least one wheel")
    susp = root.section("suspension")
    rockers = tuple(_pivot(item) for item in susp.items("rockers"))
    bogies = tuple(_pivot(item, parent_key="rocker") for item in susp.items("bogies"))
    links = {p.name for p in rockers + bogies}
    for bogie in bogies:
        if bogie.rocker not in {r.name for r in rockers}:
            raise RoverModelError(
                f"suspension.bogies: {bogie.name}.rocker names unknown rocker {bogie.rocker!r}"
            )
    wheels = []
    for item in layout:
        wheel = Wheel(
            name=item.text("name"),
            x=item.number("x"),
            y=item.number("y"),
            steerable=item.flag("steerable"),
            mount=item.text("mount"),
        )
        if wheel.mount not in links:
            raise RoverModelError(f"{item.path}.mount: unknown suspension link {wheel.mount!r}")
        wheels.append(wheel)
    _unique([w.name for w in wheels], "wheels.layout names")
    _unique([p.name for p in rockers + bogies], "suspension link names")
    st = root.section("steering")
    steering = Steering(
        min_angle=st.number("min_angle", lo=-math.pi, hi=0.0),
        max_angle=st.number("max_angle", lo=0.0, hi=math.pi),
        max_rate=st.number("max_rate", lo=0.0, lo_open=True),
        tolerance=st.number("tolerance", lo=0.0, lo_open=True),
    )
    ac = root.section("actuators")
    actuators = Actuators(
        **{
            name: ac.number(name, lo=0.0, lo_open=name != "pivot_damping")
            for name in (
                "steer_kp",
                "steer_kv",
                "steer_max_torque",
                "drive_kv",
                "drive_armature",
                "pivot_damping",
            )
        }
    )
    sc = root.section("stereo")
    stereo = StereoMount(
        position=sc.vector("position"),
        rpy=sc.vector("rpy"),
        baseline=sc.number("baseline", lo=0.0, lo_open=True),
        width=sc.integer("width", lo=16),
        height=sc.integer("height", lo=16),
        hfov=math.radians(sc.number("hfov_deg", lo=1.0, hi=170.0)),
        rate=sc.number("rate", lo=0.0, lo_open=True),
        near_clip=sc.number("near_clip", lo=0.0, lo_open=True),
        far_clip=sc.number("far_clip", lo=0.0, lo_open=True),
        left_frame=sc.text("left_frame"),
        right_frame=sc.text("right_frame"),
    )
    if stereo.far_clip <= stereo.near_clip:
        raise RoverModelError("stereo.far_clip: must exceed stereo.near_clip")
    im = root.section("imu")
    imu = ImuMount(
        position=im.vector("position"),
        rpy=im.vector("rpy"),
        frame=im.text("frame"),
        rate=im.number("rate", lo=0.0, lo_open=True),
        gyro_noise_density=im.number("gyro_noise_density", lo=0.0),
        gyro_bias_sigma=im.number("gyro_bias_sigma", lo=0.0),
        accel_noise_density=im.number("accel_noise_density", lo=0.0),
        accel_bias_sigma=im.number("accel_bias_sigma", lo=0.0),
        gyro_range=im.number("gyro_range", lo=0.0, lo_open=True),
        accel_range=im.number("accel_range", lo=0.0, lo_open=True),
    )
    return RoverModel(
        name=root.text("name"),
        masses=masses,
        body=body,
        limits=limits,
        wheel_radius=wh.number("radius", lo=0.0, lo_open=True),
        wheel_width=wh.number("width", lo=0.0, lo_open=True),
        wheel_max_rate=wh.number("max_rate", lo=0.0, lo_open=True),
        wheel_max_accel=wh.number("max_accel", lo=0.0, lo_open=True),
        wheel_max_torque=wh.number("max_torque", lo=0.0, lo_open=True),
        wheels=tuple(wheels),
        steering=steering,
        actuators=actuators,
        differential=susp.flag("differential"),
        rockers=rockers,
        bogies=bogies,
        stereo=stereo,
        imu=imu,
    )


def _pivot(item: _Fields, parent_key: str | None = None) -> Pivot:
    pivot = Pivot(
        name=item.text("name"),
        pivot=item.vector("pivot"),
        min_angle=item.number("min_angle", lo=-math.pi, hi=0.0),
        max_angle=item.number("max_angle", lo=0.0, hi=math.pi),
        rocker=item.text(parent_key) if parent_key else None,
    )
    return pivot


def _unique(names: list[str], what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise RoverModelError(f"{what}: duplicate {name!r}")
        seen.add(name)


class _Fields:
    """Typed access to one mapping of the YAML tree, with errors that name the field's path."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            where = path or "top level"
            raise RoverModelError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data = data
        self.path = path

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise RoverModelError(f"{self._key(key)}: missing")
        return self.data[key]

    def section(self, key: str) -> _Fields:
        return _Fields(self._get(key), self._key(key))

    def items(self, key: str) -> list[_Fields]:
        value = self._get(key)
        if not isinstance(value, list):
            raise RoverModelError(f"{self._key(key)}: expected a list, got {type(value).__name__}")
        return [_Fields(v, f"{self._key(key)}[{i}]") for i, v in enumerate(value)]

    def number(
        self, key: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False
    ) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RoverModelError(f"{self._key(key)}: expected a finite number, got {value!r}")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise RoverModelError(f"{self._key(key)}: {value} is below the allowed range (> {lo})")
        if hi is not None and value > hi:
            raise RoverModelError(f"{self._key(key)}: {value} is above the allowed range (<= {hi})")
        return float(value)

    def integer(self, key: str, lo: int | None = None) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RoverModelError(f"{self._key(key)}: expected an integer, got {value!r}")
        if lo is not None and value < lo:
            raise RoverModelError(f"{self._key(key)}: {value} is below the minimum {lo}")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise RoverModelError(f"{self._key(key)}: expected true or false, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise RoverModelError(f"{self._key(key)}: expected a non-empty string, got {value!r}")
        return value

    def vector(self, key: str, size: int = 3) -> tuple[float, ...]:
        value = self._get(key)
        ok = isinstance(value, list) and len(value) == size
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not ok or not all(math.isfinite(v) for v in value):
            raise RoverModelError(
                f"{self._key(key)}: expected a list of {size} finite numbers, got {value!r}"
            )
        return tuple(float(v) for v in value)
