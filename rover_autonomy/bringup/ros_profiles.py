"""Launch-time setup of the profiles that take arguments (sim, gazebo, hardware), without launch_ros.

A :class:`ProfileSetup` holds what a profile's arguments decide on top of the graph: the world and the
start pose of ``map -> odom`` (sim), the URDF served as ``robot_description``, the spawn pose and the
stereo baseline Gazebo's CameraInfo lacks (gazebo), the drivers' topics and the rectification
(hardware). ``launch_description.generate``, ``rover-autonomy launch`` and the mission supervisor all
build their plans from it, so the three bring up the same processes; it is tested without a ROS
installation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rover_autonomy.bringup import graph
from rover_autonomy.bringup.overrides import merge_overrides
from rover_autonomy.description.sdf_world import META_FILE, SDF_FILE
from rover_autonomy.description.urdf import build_urdf
from rover_autonomy.resources import config_path, worlds_dir
from rover_autonomy.rover_model import load_rover_model

# The rover is spawned this far above the terrain under its start so it settles onto its wheels [m].
SPAWN_DROP = 0.05
GAZEBO_DIR = "gazebo"  # a world directory's Gazebo export (rover_autonomy.description.sdf_world)
GAZEBO_INSTALL = "apt install ros-{distro}-ros-gz ros-{distro}-gz-ros2-control ros-{distro}-ros2-controllers"
# Packages the gazebo profile needs beyond its nodes' own: Gazebo's launch, the ros2_control plugin
# loaded inside Gazebo and the controllers it runs.
GAZEBO_PACKAGES = ("ros_gz_sim", "ros_gz_bridge", "gz_ros2_control", "forward_command_controller")
RECTIFY_MODES = ("none", "image_proc", "stereo_node")
# Gazebo physics engines (launch argument physics) -> the gz-physics plugin `gz sim` loads.
PHYSICS_ENGINES = {
    "dartsim": "gz-physics-dartsim-plugin",
    "bullet-featherstone": "gz-physics-bullet-featherstone-plugin",
}
# hardware.yaml keys naming a driver topic -> the contract topic our nodes subscribe to.
DRIVER_TOPICS = {
    "left_image": "stereo/left/image_rect",
    "left_info": "stereo/left/camera_info",
    "right_image": "stereo/right/image_rect",
    "right_info": "stereo/right/camera_info",
    "imu": "imu/data",
    "joint_states": "joint_states",
}


class ProfileError(ValueError):
    """The profile cannot start; the message is one line saying what to do."""


@dataclass
class ProfileSetup:
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)
    arguments: dict[str, list[str]] = field(default_factory=dict)
    # Remappings added to every node of ours, and per node of another package.
    our_remappings: list[tuple[str, str]] = field(default_factory=list)
    remappings: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    skip: set[str] = field(default_factory=set)  # nodes of the profile not started
    gz_args: str = ""  # gazebo: arguments of `gz sim`
    resource_path: str = ""  # gazebo: directory of the world's files (GZ_SIM_RESOURCE_PATH)

    def plan(self, profile: str, config_dir: str) -> list[dict]:
        """The profile's launch plan with this setup applied."""
        steps = graph.launch_plan(profile, config_dir, self.overrides, self.arguments)
        steps = [s for s in steps if s["name"] not in self.skip]
        for step in steps:
            extra = self.our_remappings if step["package"] == graph.PACKAGE else []
            step["remappings"] = [*step["remappings"], *extra, *self.remappings.get(step["name"], [])]
        return steps


def install_hint(hint: str) -> str:
    return hint.replace("$ROS_DISTRO", os.environ.get("ROS_DISTRO", "jazzy"))


def missing_packages(plan: list[dict], installed: Callable[[str], bool]) -> list[str]:
    """One line per missing package of another package's node: what to install."""
    hints = {(n.package, n.install_hint) for n in graph.NODES if not n.ours}
    lines = []
    for package in sorted({s["package"] for s in plan if s["package"] != graph.PACKAGE}):
        if not installed(package):
            hint = next((h for p, h in hints if p == package and h), f"install ROS package {package}")
            lines.append(f"ROS package {package} is not installed: {install_hint(hint)}")
    return lines


def gazebo_missing(installed: Callable[[str], bool]) -> str | None:
    """One line naming the missing Gazebo packages and what to install, or None."""
    missing = [p for p in GAZEBO_PACKAGES if not installed(p)]
    if not missing:
        return None
    distro = os.environ.get("ROS_DISTRO", "jazzy")
    return f"Gazebo packages missing ({', '.join(missing)}): {GAZEBO_INSTALL.format(distro=distro)}"


def node_parameter_names(executable: str) -> set[str]:
    """Names of one of our nodes' parameters (from its parameter spec)."""
    return {spec.name for spec in graph.node_parameters(executable)[1]}


def _start_overrides(profile: str, start: tuple[float, float, float]) -> dict[str, dict[str, object]]:
    """``map_to_odom`` for every node of ours that takes it (docs/interfaces.md)."""
    overrides = {}
    for node in graph.nodes_for(profile):
        if node.ours and "map_to_odom" in node_parameter_names(node.executable):
            overrides[node.name] = {"map_to_odom": [float(v) for v in start]}
    return overrides


def _in_profile(profile: str, name: str) -> bool:
    return any(n.name == name for n in graph.nodes_for(profile))


# -- sim -------------------------------------------------------------------------------------------


def sim_setup(world) -> ProfileSetup:
    """The embedded simulator on ``world`` (moon, mars, a world directory or a loaded World), map -> odom
    at its start."""
    from rover_autonomy.worlds.world import World, WorldError, load_world  # on use: ~0.8 s of imports

    if isinstance(world, World):
        loaded = world
    else:
        path = worlds_dir() / world if world in ("moon", "mars") else Path(world)
        try:
            loaded = load_world(path)
        except WorldError as err:
            raise ProfileError(f"world {world!r}: {err}") from err
    setup = ProfileSetup(overrides={"rover_sim": {"world": str(loaded.path)}})
    # Odometry's slip-versus-slope model is calibrated per soil (rover-autonomy calibrate-slip --sim).
    slip_model = f"slip_model_{loaded.planet}.yaml"
    if config_path(slip_model).is_file():
        setup.overrides["wheel_odometry"] = {"slip_model_file": slip_model}
    start = loaded.start
    merge_overrides(setup.overrides, _start_overrides("sim", (start.x, start.y, start.yaw)))
    return setup


# -- gazebo ----------------------------------------------------------------------------------------


def resolve_gazebo_world(world: str) -> Path:
    """The directory of a world's Gazebo export: ``world`` itself when it holds ``world.sdf``, else its
    ``gazebo/`` folder (a shipped world's name or a world directory)."""
    candidates = [Path(world)]
    if os.sep not in world and not Path(world).exists():
        candidates.append(worlds_dir() / world)
    for base in candidates:
        for folder in (base, base / GAZEBO_DIR):
            if (folder / SDF_FILE).is_file() and (folder / META_FILE).is_file():
                return folder
    raise ProfileError(
        f"world {world!r} has no Gazebo export (world.sdf + gazebo.yaml): run "
        f"`python -m rover_autonomy.description.sdf_world {world} <world dir>/{GAZEBO_DIR}` and pass world:=<world dir>"
    )


def gazebo_setup(
    world: str, config_dir: str, camera_rate: float, gui: bool = True, physics: str = "dartsim"
) -> ProfileSetup:
    """Overrides, arguments and `gz sim` arguments of the gazebo profile for ``world``.

    ``physics`` picks the engine: ``dartsim`` (Gazebo's default; the rocker differential is enforced by
    gz_ros2_control) or ``bullet-featherstone`` (a bilateral mimic constraint; docs/gazebo.md).
    """
    if physics not in PHYSICS_ENGINES:
        raise ProfileError(f"physics: {physics!r} is not one of {', '.join(PHYSICS_ENGINES)}")
    folder = resolve_gazebo_world(world)
    meta = yaml.safe_load((folder / META_FILE).read_text())
    start = meta["start"]
    x, y, z, yaw = (float(start[k]) for k in ("x", "y", "z", "yaw"))
    model = load_rover_model()
    urdf = build_urdf(
        model, gazebo=True, camera_rate=camera_rate, controllers_file=f"{config_dir}/ros2_controllers.yaml"
    )
    setup = ProfileSetup(resource_path=str(folder))
    setup.overrides["robot_state_publisher"] = {"robot_description": urdf}
    merge_overrides(setup.overrides, _start_overrides("gazebo", (x, y, yaw)))
    # Gazebo's CameraInfo carries no baseline (right P[3] = 0): the stereo node takes it from the model.
    if _in_profile("gazebo", "stereo_processor") and "baseline" in node_parameter_names("stereo_processor"):
        merge_overrides(setup.overrides, {"stereo_processor": {"baseline": model.stereo.baseline}})
    setup.arguments["map_to_odom"] = ["--x", repr(x), "--y", repr(y), "--yaw", repr(yaw)]
    setup.arguments["spawn_rover"] = [
        "-x",
        repr(x),
        "-y",
        repr(y),
        "-z",
        repr(z + SPAWN_DROP),
        "-Y",
        repr(yaw),
    ]
    # -r: run at start; -s --headless-rendering: server only, cameras still render (no display needed).
    flags = "-r -v 3" if gui else "-r -s --headless-rendering -v 3"
    setup.gz_args = f"{flags} --physics-engine {PHYSICS_ENGINES[physics]} {folder / SDF_FILE}"
    return setup


# -- hardware --------------------------------------------------------------------------------------


def load_hardware_config(path: str | Path) -> dict[str, object]:
    """``config/hardware.yaml``: flat keys, each also a launch argument of hardware.launch.py."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: cannot read the hardware configuration ({err})") from err
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of settings")
    return data


def hardware_setup(values: dict[str, object]) -> ProfileSetup:
    """Overrides, arguments and remappings of the hardware profile from ``config/hardware.yaml`` values
    (launch arguments replace them one by one)."""
    unknown = set(values) - {*DRIVER_TOPICS, "rectify", "start_x", "start_y", "start_yaw"}
    if unknown:
        raise ProfileError(f"hardware configuration: unknown keys {', '.join(sorted(unknown))}")
    rectify = str(values.get("rectify", "none"))
    if rectify not in RECTIFY_MODES:
        raise ProfileError(f"rectify: {rectify!r} is not one of {', '.join(RECTIFY_MODES)}")
    try:
        start = tuple(float(values.get(k, 0.0)) for k in ("start_x", "start_y", "start_yaw"))
    except (TypeError, ValueError) as err:
        raise ProfileError(f"start_x/start_y/start_yaw must be numbers ({err})") from err
    if not all(math.isfinite(v) for v in start):
        raise ProfileError("start_x/start_y/start_yaw must be finite")
    topics = {key: str(values.get(key, default)) for key, default in DRIVER_TOPICS.items()}
    for key, topic in topics.items():
        if not topic or " " in topic:
            raise ProfileError(f"{key}: {topic!r} is not a topic name")

    setup = ProfileSetup()
    setup.overrides["robot_state_publisher"] = {
        "robot_description": build_urdf(load_rover_model(), gazebo=False)
    }
    merge_overrides(setup.overrides, _start_overrides("hardware", start))
    x, y, yaw = start
    setup.arguments["map_to_odom"] = ["--x", repr(x), "--y", repr(y), "--yaw", repr(yaw)]
    # Camera info always comes from the drivers; IMU and joint states too.
    remap = [(DRIVER_TOPICS[k], topics[k]) for k in ("left_info", "right_info", "imu", "joint_states")]
    if rectify == "image_proc":
        # image_proc's rectify_node turns the drivers' raw images into the contract's image_rect.
        for side in ("left", "right"):
            if topics[f"{side}_image"] == DRIVER_TOPICS[f"{side}_image"]:
                raise ProfileError(
                    f"rectify: image_proc needs {side}_image to name the driver's raw image topic, "
                    f"not {DRIVER_TOPICS[f'{side}_image']} (the rectifier's output)"
                )
            setup.remappings[f"rectify_{side}"] = [
                ("image", topics[f"{side}_image"]),
                ("camera_info", topics[f"{side}_info"]),
            ]
    else:
        setup.skip |= {"rectify_left", "rectify_right"}
        remap += [(DRIVER_TOPICS[k], topics[k]) for k in ("left_image", "right_image")]
        if rectify == "stereo_node":
            if not _in_profile("hardware", "stereo_processor"):
                raise ProfileError(
                    "rectify: stereo_node needs the stereo_processor node in the hardware profile"
                )
            merge_overrides(setup.overrides, {"stereo_processor": {"rectify": True}})
    setup.our_remappings = [(src, dst) for src, dst in remap if src != dst]
    if topics["joint_states"] != DRIVER_TOPICS["joint_states"]:
        # robot_state_publisher turns the joint states into TF of the suspension and wheels.
        setup.remappings["robot_state_publisher"] = [("joint_states", topics["joint_states"])]
    return setup
