"""The node graph: which executables run in each profile, with which parameters and remappings.

This is the one description behind ``launch/*.launch.py`` (launch_ros, on a real ROS 2 machine),
the embedded launcher of ``rover-autonomy launch PROFILE`` and the package's console scripts.
It is deliberately stdlib-only: ``setup.py`` reads it before any dependency is installed. It is
also the registry of each executable's parameter module, which ``ros_profiles``, the launcher and
``rover-autonomy params`` read.

Profiles:
  sim       the embedded MuJoCo simulator plus the whole stack, on sim time
  gazebo    Gazebo (ros_gz) provides the sensors and actuators; the stack is unchanged
  hardware  drivers provide the sensors; no simulator, wall time
  replay    sensor topics come from a bag; perception, mapping, odometry and planning only
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

PACKAGE = "rover_autonomy"
PROFILES = ("sim", "gazebo", "hardware", "replay")
SIM_TIME_PROFILES = frozenset({"sim", "gazebo", "replay"})


@dataclass(frozen=True)
class Executable:
    """One of our node executables: what runs it and which module holds its parameter table."""

    target: str  # "module:function"
    parameters: str  # module defining NODE_NAME, TITLE and PARAMETERS (rclpy-free, cheap to import)


def _template(folder: str) -> Executable:
    """A node laid out by the capability template: ``<folder>/node.py`` and ``<folder>/parameters.py``."""
    return Executable(f"{PACKAGE}.{folder}.node:main", f"{PACKAGE}.{folder}.parameters")


# Our executables, by name. Each capability adds its node here.
EXECUTABLES: dict[str, Executable] = {
    "base_controller": _template("control"),
    "wheel_odometry": _template("odometry"),
    "stereo_processor": _template("perception.stereo"),
    "visual_odometry": _template("perception.visual_odometry"),
    "terrain_mapper": _template("mapping"),
    "path_planner": _template("planning.planner"),
    "path_follower": _template("planning.follower"),
    "rover_sim": _template("sim"),
}
CLI = ("rover-autonomy", "rover_autonomy.cli:main")


@dataclass(frozen=True)
class NodeEntry:
    """One node of the graph, as launch_ros.actions.Node would take it."""

    name: str
    executable: str
    package: str = PACKAGE
    profiles: frozenset[str] = frozenset(PROFILES)
    parameter_files: tuple[str, ...] = ()  # file names under the package's config/
    parameters: dict[str, object] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    # What to install when this node's package is missing (nodes of other packages only).
    install_hint: str = ""
    # Command-line arguments before --ros-args (nodes of other packages that take them).
    arguments: tuple[str, ...] = ()
    # Parameters whose value is a file under the package's config/, passed as its absolute path.
    config_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        return self.package == PACKAGE

    @property
    def target(self) -> str:
        """``module:function`` that runs this node (our nodes only)."""
        return EXECUTABLES[self.executable].target


NODES: tuple[NodeEntry, ...] = (
    NodeEntry(
        name="rover_sim",
        executable="rover_sim",
        profiles=frozenset({"sim"}),
        parameter_files=("rover_sim.yaml",),
    ),
    NodeEntry(
        name="robot_state_publisher",
        executable="robot_state_publisher",
        package="robot_state_publisher",
        profiles=frozenset({"gazebo", "hardware"}),
        install_hint="apt install ros-$ROS_DISTRO-robot-state-publisher",
    ),
    NodeEntry(
        name="base_controller",
        executable="base_controller",
        profiles=frozenset({"sim", "gazebo", "hardware"}),
        parameter_files=("base_controller.yaml",),
    ),
    NodeEntry(
        name="wheel_odometry",
        executable="wheel_odometry",
        parameter_files=("wheel_odometry.yaml",),
    ),
    NodeEntry(
        name="stereo_processor",
        executable="stereo_processor",
        parameter_files=("stereo_processor.yaml",),
        # The mast cameras of config/rover.yaml see flat ground from 1.45 m depth (95 px of disparity);
        # 128 disparities keep rocks and slopes down to 1.1 m (test_stereo_parameters checks this).
        parameters={"disparity_range": 128},
    ),
    NodeEntry(
        name="visual_odometry",
        executable="visual_odometry",
        parameter_files=("visual_odometry.yaml",),
    ),
    NodeEntry(name="terrain_mapper", executable="terrain_mapper", parameter_files=("terrain_mapper.yaml",)),
    NodeEntry(name="path_planner", executable="path_planner", parameter_files=("path_planner.yaml",)),
    NodeEntry(
        name="path_follower",
        executable="path_follower",
        profiles=frozenset({"sim", "gazebo", "hardware"}),  # a replay never drives
        parameter_files=("path_follower.yaml",),
    ),
    # -- real-ROS profiles: nodes of other packages (docs/gazebo.md, docs/hardware.md) ----------------
    NodeEntry(
        name="map_to_odom",
        executable="static_transform_publisher",
        package="tf2_ros",
        profiles=frozenset({"gazebo", "hardware"}),
        # The launch file appends the start pose: --x X --y Y --yaw YAW (map -> odom is static).
        arguments=("--frame-id", "map", "--child-frame-id", "odom"),
        install_hint="apt install ros-$ROS_DISTRO-tf2-ros",
    ),
    NodeEntry(
        name="gz_bridge",
        executable="parameter_bridge",
        package="ros_gz_bridge",
        profiles=frozenset({"gazebo"}),
        config_parameters={"config_file": "gz_bridge.yaml"},
        install_hint="apt install ros-$ROS_DISTRO-ros-gz",
    ),
    NodeEntry(
        name="spawn_rover",
        executable="create",
        package="ros_gz_sim",
        profiles=frozenset({"gazebo"}),
        # The launch file appends the spawn pose: -x X -y Y -z Z -Y YAW.
        arguments=("-topic", "robot_description", "-name", "rover"),
        install_hint="apt install ros-$ROS_DISTRO-ros-gz",
    ),
    NodeEntry(
        name="controller_spawner",
        executable="spawner",
        package="controller_manager",
        profiles=frozenset({"gazebo"}),
        # The controller manager runs inside Gazebo (gz_ros2_control) once the rover is spawned.
        arguments=(
            "drive_controller",
            "steer_controller",
            "--controller-manager",
            "/controller_manager",
            "--controller-manager-timeout",
            "120",
        ),
        install_hint="apt install ros-$ROS_DISTRO-gz-ros2-control ros-$ROS_DISTRO-ros2-controllers",
    ),
    # Run only with rectify:=image_proc (launch/hardware.launch.py); remapped onto the drivers' topics.
    *(
        NodeEntry(
            name=f"rectify_{side}",
            executable="rectify_node",
            package="image_proc",
            profiles=frozenset({"hardware"}),
            remappings=(("image_rect", f"stereo/{side}/image_rect"),),
            install_hint="apt install ros-$ROS_DISTRO-image-proc",
        )
        for side in ("left", "right")
    ),
)


def console_scripts() -> list[str]:
    """setup.py entry points: every node executable and the CLI."""
    scripts = [f"{name} = {executable.target}" for name, executable in EXECUTABLES.items()]
    return [*scripts, f"{CLI[0]} = {CLI[1]}"]


def node_parameters(executable: str) -> tuple[str, tuple]:
    """(title, parameter specs) of one of our node executables, from its parameter module."""
    module = importlib.import_module(EXECUTABLES[executable].parameters)
    return module.TITLE, module.PARAMETERS


def nodes_for(
    profile: str,
    overrides: dict[str, dict[str, object]] | None = None,
    arguments: dict[str, list[str]] | None = None,
) -> list[NodeEntry]:
    """The nodes of ``profile``, with ``use_sim_time`` set and per-node parameter overrides applied.

    ``overrides`` maps a node name to extra parameters (e.g. the world for ``rover_sim``); they win
    over the parameter files, as later ``--ros-args -p`` values do. ``arguments`` maps a node name to
    command-line arguments appended to its own (e.g. the start pose of ``map_to_odom``).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    overrides = overrides or {}
    arguments = arguments or {}
    in_profile = {n.name for n in NODES if profile in n.profiles}
    for what, given in (("parameter overrides", overrides), ("arguments", arguments)):
        unknown = set(given) - in_profile
        if unknown:
            raise ValueError(f"{what} for nodes not in profile {profile!r}: {', '.join(sorted(unknown))}")
    result = []
    for node in NODES:
        if profile not in node.profiles:
            continue
        params = {
            "use_sim_time": profile in SIM_TIME_PROFILES,
            **node.parameters,
            **overrides.get(node.name, {}),
        }
        extra = tuple(str(a) for a in arguments.get(node.name, ()))
        result.append(replace(node, parameters=params, arguments=node.arguments + extra))
    return result


def launch_plan(
    profile: str,
    config_dir: str,
    overrides: dict[str, dict[str, object]] | None = None,
    arguments: dict[str, list[str]] | None = None,
) -> list[dict]:
    """Per node, the arguments of ``launch_ros.actions.Node``: one plan for launch files and the CLI.

    Parameter files (and config-file parameters) are resolved against ``config_dir``; inline
    parameters come after the files so they win.
    """
    plan = []
    for node in nodes_for(profile, overrides, arguments):
        files = [f"{config_dir}/{name}" for name in node.parameter_files]
        config = {key: f"{config_dir}/{name}" for key, name in node.config_parameters.items()}
        plan.append(
            {
                "package": node.package,
                "executable": node.executable,
                "name": node.name,
                "parameters": [*files, {**config, **node.parameters}],
                "remappings": list(node.remappings),
                "arguments": list(node.arguments),
                "output": "screen",
            }
        )
    return plan
