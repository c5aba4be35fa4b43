"""launch_ros LaunchDescriptions built from the graph description (for real ROS 2 machines).

``launch/<profile>.launch.py`` files call :func:`generate`. launch and launch_ros are imported here,
not at module import of the rest of the package, because they exist only on a ROS 2 installation.
"""

from __future__ import annotations

from rover_autonomy.bringup import graph


def generate(profile: str, extra_actions=()):
    """A LaunchDescription starting ``profile``'s nodes with their parameter files and remappings."""
    from ament_index_python.packages import get_package_share_directory
    from launch_ros.actions import Node

    from launch import LaunchDescription

    config_dir = f"{get_package_share_directory(graph.PACKAGE)}/config"
    actions = [Node(**step) for step in graph.launch_plan(profile, config_dir)]
    return LaunchDescription([*extra_actions, *actions])
