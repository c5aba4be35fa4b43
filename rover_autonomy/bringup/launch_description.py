"""launch_ros LaunchDescriptions built from the graph description (for real ROS 2 machines).

``launch/<profile>.launch.py`` files call :func:`generate`. launch and launch_ros are imported here,
not at module import of the rest of the package, because they exist only on a ROS 2 installation.

The replay profile is the graph's nodes as they are. The sim, gazebo and hardware profiles take launch
arguments (``world``; ``world``, ``camera_rate``, ``gui``, ``physics``; the keys of config/hardware.yaml)
and are set up at launch time by :mod:`rover_autonomy.bringup.ros_profiles` (the world and its start
pose, the URDF as ``robot_description``, the drivers' topics), exactly as ``rover-autonomy launch`` sets
them up; gazebo also starts Gazebo through ros_gz_sim's ``gz_sim.launch.py``. A missing package stops the launch with one line naming what to
install (``ros2 launch`` prints an exception raised here as one line).
"""

from __future__ import annotations

# launch, launch_ros and ament_index are imported inside the functions: they exist only on a ROS 2
# installation, and the rest of this module is tested without them.
from rover_autonomy.bringup import graph, ros_profiles
from rover_autonomy.rover_model import load_rover_model


def _installed(package: str) -> bool:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        get_package_share_directory(package)
    except PackageNotFoundError:
        return False
    return True


def _nodes(plan: list[dict]) -> list:
    """launch_ros Nodes of a plan; string parameters stay strings (a URDF must not be parsed as YAML)."""
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    missing = ros_profiles.missing_packages(plan, _installed)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise RuntimeError(missing[0] + more)
    actions = []
    for step in plan:
        parameters = [
            {k: ParameterValue(v, value_type=str) if isinstance(v, str) else v for k, v in p.items()}
            if isinstance(p, dict)
            else p
            for p in step["parameters"]
        ]
        actions.append(Node(**{**step, "parameters": parameters}))
    return actions


def _config_dir() -> str:
    from ament_index_python.packages import get_package_share_directory

    return f"{get_package_share_directory(graph.PACKAGE)}/config"


def generate(profile: str, extra_actions=()):
    """A LaunchDescription starting ``profile``'s nodes with their parameter files and remappings."""
    from launch import LaunchDescription

    if profile == "gazebo":
        return LaunchDescription([*_gazebo(), *extra_actions])
    if profile == "hardware":
        return LaunchDescription([*_hardware(), *extra_actions])
    if profile == "sim":
        return LaunchDescription([*_sim(), *extra_actions])
    return LaunchDescription([*extra_actions, *_nodes(graph.launch_plan(profile, _config_dir()))])


def _gazebo() -> list:
    from launch.actions import (
        AppendEnvironmentVariable,
        DeclareLaunchArgument,
        IncludeLaunchDescription,
        OpaqueFunction,
    )
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import LaunchConfiguration

    def setup(context):
        missing = ros_profiles.gazebo_missing(_installed)
        if missing:
            raise RuntimeError(missing)
        from ament_index_python.packages import get_package_share_directory

        world = LaunchConfiguration("world").perform(context)
        try:
            rate = float(LaunchConfiguration("camera_rate").perform(context))
        except ValueError as err:
            raise RuntimeError(f"camera_rate: expected a frame rate in Hz ({err})") from err
        gui = LaunchConfiguration("gui").perform(context).lower() in ("true", "1", "yes")
        physics = LaunchConfiguration("physics").perform(context)
        config_dir = _config_dir()
        try:
            prepared = ros_profiles.gazebo_setup(world, config_dir, rate, gui, physics)
        except ValueError as err:  # ProfileError, UrdfError, RoverModelError: one line each
            raise RuntimeError(str(err)) from err
        gz_sim = IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                f"{get_package_share_directory('ros_gz_sim')}/launch/gz_sim.launch.py"
            ),
            launch_arguments={"gz_args": prepared.gz_args, "on_exit_shutdown": "true"}.items(),
        )
        return [
            AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH", prepared.resource_path),
            gz_sim,
            *_nodes(prepared.plan("gazebo", config_dir)),
        ]

    return [
        DeclareLaunchArgument(
            "world",
            default_value="mars",
            description="moon, mars, or a directory holding world.sdf + gazebo.yaml",
        ),
        DeclareLaunchArgument(
            "camera_rate",
            default_value=str(load_rover_model().stereo.rate),
            description="stereo frame rate [Hz]",
        ),
        DeclareLaunchArgument(
            "gui", default_value="true", description="false: server only, headless rendering"
        ),
        DeclareLaunchArgument(
            "physics",
            default_value="dartsim",
            description="dartsim or bullet-featherstone (bilateral rocker differential; docs/gazebo.md)",
        ),
        OpaqueFunction(function=setup),
    ]


def _sim() -> list:
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration

    def setup(context):
        try:
            prepared = ros_profiles.sim_setup(LaunchConfiguration("world").perform(context))
        except ValueError as err:
            raise RuntimeError(str(err)) from err
        return _nodes(prepared.plan("sim", _config_dir()))

    world = DeclareLaunchArgument(
        "world", default_value="mars", description="moon, mars or a world directory"
    )
    return [world, OpaqueFunction(function=setup)]


def _hardware() -> list:
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration

    defaults_file = f"{_config_dir()}/hardware.yaml"
    try:
        defaults = ros_profiles.load_hardware_config(defaults_file)
    except ValueError as err:
        raise RuntimeError(str(err)) from err

    def setup(context):
        values = {key: LaunchConfiguration(key).perform(context) for key in defaults}
        try:
            prepared = ros_profiles.hardware_setup(values)
        except ValueError as err:
            raise RuntimeError(str(err)) from err
        return _nodes(prepared.plan("hardware", _config_dir()))

    arguments = [
        DeclareLaunchArgument(key, default_value=str(value), description=f"see config/hardware.yaml ({key})")
        for key, value in defaults.items()
    ]
    return [*arguments, OpaqueFunction(function=setup)]
