"""The node graph: which executables run in each profile, with which parameters and remappings.

This is the one description behind ``launch/*.launch.py`` (launch_ros, on a real ROS 2 machine),
the embedded launcher of ``rover-autonomy launch PROFILE`` and the package's console scripts.
It is deliberately stdlib-only: ``setup.py`` reads it before any dependency is installed.

Profiles:
  sim       the embedded MuJoCo simulator plus the whole stack, on sim time
  gazebo    Gazebo (ros_gz) provides the sensors and actuators; the stack is unchanged
  hardware  drivers provide the sensors; no simulator, wall time
  replay    sensor topics come from a bag; perception, mapping, odometry and planning only
"""

from __future__ import annotations

from dataclasses import dataclass, field

PACKAGE = "rover_autonomy"
PROFILES = ("sim", "gazebo", "hardware", "replay")
SIM_TIME_PROFILES = frozenset({"sim", "gazebo", "replay"})

# Our executables: name -> "module:function". Each capability adds its node here.
EXECUTABLES: dict[str, str] = {
    "stereo_processor": "rover_autonomy.perception.stereo_node:main",
    "path_planner": "rover_autonomy.planning.planner_node:main",
    "path_follower": "rover_autonomy.planning.follower_node:main",
    "rover_sim": "rover_autonomy.sim.node:main",
}
CLI = ("rover-autonomy", "rover_autonomy.bringup.cli:main")


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

    @property
    def ours(self) -> bool:
        return self.package == PACKAGE

    @property
    def target(self) -> str:
        """``module:function`` that runs this node (our nodes only)."""
        return EXECUTABLES[self.executable]


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
        name="stereo_processor",
        executable="stereo_processor",
        parameter_files=("stereo_processor.yaml",),
        # The mast cameras of config/rover.yaml see flat ground from 1.45 m depth (95 px of disparity);
        # 128 disparities keep rocks and slopes down to 1.1 m (test_stereo_parameters checks this).
        parameters={"disparity_range": 128},
    ),
    NodeEntry(name="path_planner", executable="path_planner", parameter_files=("path_planner.yaml",)),
    NodeEntry(
        name="path_follower",
        executable="path_follower",
        profiles=frozenset({"sim", "gazebo", "hardware"}),  # a replay never drives
        parameter_files=("path_follower.yaml",),
    ),
)


def console_scripts() -> list[str]:
    """setup.py entry points: every node executable and the CLI."""
    scripts = [f"{name} = {target}" for name, target in EXECUTABLES.items()]
    return [*scripts, f"{CLI[0]} = {CLI[1]}"]


def nodes_for(profile: str, overrides: dict[str, dict[str, object]] | None = None) -> list[NodeEntry]:
    """The nodes of ``profile``, with ``use_sim_time`` set and per-node parameter overrides applied.

    ``overrides`` maps a node name to extra parameters (e.g. the world for ``rover_sim``); they win
    over the parameter files, as later ``--ros-args -p`` values do.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    overrides = overrides or {}
    unknown = set(overrides) - {n.name for n in NODES if profile in n.profiles}
    if unknown:
        raise ValueError(
            f"parameter overrides for nodes not in profile {profile!r}: {', '.join(sorted(unknown))}"
        )
    result = []
    for node in NODES:
        if profile not in node.profiles:
            continue
        params = {
            "use_sim_time": profile in SIM_TIME_PROFILES,
            **node.parameters,
            **overrides.get(node.name, {}),
        }
        result.append(
            NodeEntry(
                name=node.name,
                executable=node.executable,
                package=node.package,
                profiles=node.profiles,
                parameter_files=node.parameter_files,
                parameters=params,
                remappings=node.remappings,
                install_hint=node.install_hint,
            )
        )
    return result


def launch_plan(
    profile: str, config_dir: str, overrides: dict[str, dict[str, object]] | None = None
) -> list[dict]:
    """Per node, the arguments of ``launch_ros.actions.Node``: one plan for launch files and the CLI.

    Parameter files are resolved against ``config_dir``; inline parameters come after them so they win.
    """
    plan = []
    for node in nodes_for(profile, overrides):
        files = [f"{config_dir}/{name}" for name in node.parameter_files]
        plan.append(
            {
                "package": node.package,
                "executable": node.executable,
                "name": node.name,
                "parameters": [*files, dict(node.parameters)],
                "remappings": list(node.remappings),
                "output": "screen",
            }
        )
    return plan
