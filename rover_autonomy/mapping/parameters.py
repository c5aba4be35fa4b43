"""Parameters of ``terrain_mapper``: one spec table driving the node, its descriptors and
``config/terrain_mapper.yaml`` (regenerate with ``rover-autonomy params terrain_mapper --write``).
Pure, so the core (:class:`rover_autonomy.mapping.mapper.TerrainMapper`) takes its defaults from here."""

from __future__ import annotations

from rover_autonomy.parameters import ParamSpec

NODE_NAME = "terrain_mapper"
TITLE = "terrain_mapper: stereo clouds and odometry to an elevation map and a rover-centre costmap"

PARAMETERS: tuple[ParamSpec, ...] = (
    # map geometry
    ParamSpec("length_x", 40.0, "Map window side along x", range=(2.0, 400.0), unit="m", read_only=True),
    ParamSpec("length_y", 40.0, "Map window side along y", range=(2.0, 400.0), unit="m", read_only=True),
    ParamSpec("resolution", 0.1, "Cell side", range=(0.02, 1.0), unit="m", read_only=True),
    ParamSpec(
        "recentre_distance", 1.0, "The window recentres on the rover when it is this far off centre",
        range=(0.0, 100.0), unit="m",
    ),
    ParamSpec("frame_id", "odom", "Frame of the odometry input and of both maps", read_only=True),
    # noise model and fusion
    ParamSpec("disparity_sigma", 0.3, "Stereo disparity noise", range=(0.01, 5.0), unit="px"),
    ParamSpec(
        "noise_terrain_slope", 0.2, "Terrain slope turning a point's horizontal error into height error",
        range=(0.0, 2.0), advanced=True,
    ),
    ParamSpec("noise_floor", 0.005, "Height noise of a point at any range", range=(0.0, 0.5), unit="m", advanced=True),
    ParamSpec(
        "min_variance", 1e-4, "Smallest variance of one cloud's measurement of a cell", range=(1e-8, 1.0),
        unit="m^2", advanced=True,
    ),
    ParamSpec(
        "mahalanobis_threshold", 4.0, "Disagreement beyond which a cell's prior is inflated to follow new data",
        range=(1.0, 100.0), advanced=True,
    ),
    ParamSpec(
        "cluster_sigmas", 5.0, "Half-width of a cell's upper consistent cluster of points, in point sigmas",
        range=(0.5, 10.0), advanced=True,
    ),
    ParamSpec("max_range", 30.0, "Points further from the camera are not fused", range=(0.5, 200.0), unit="m"),
    ParamSpec(
        "max_points", 400000, "Larger clouds are subsampled with a fixed stride down to this size",
        range=(1000, 10000000),
    ),
    # traversability
    ParamSpec(
        "max_sigma", 0.03, "Cells with a larger height standard deviation do not support the rover",
        range=(0.001, 1.0), unit="m",
    ),
    ParamSpec(
        "max_horizontal_sigma", 0.1, "Cells measured only with a larger horizontal error do not support the rover",
        range=(0.001, 10.0), unit="m",
    ),
    ParamSpec("slope_window", 1.3, "Side of the plane-fit window of slope and roughness", range=(0.2, 5.0), unit="m"),
    ParamSpec("step_window", 0.3, "Side of the window of the step height", range=(0.1, 2.0), unit="m"),
    ParamSpec("wheel_patch", 0.3, "Side of the square a wheel rests on", range=(0.05, 2.0), unit="m"),
    ParamSpec("max_roughness", 0.1, "Roughness scoring traversability 0", range=(0.005, 1.0), unit="m"),
    ParamSpec("headings", 16, "Headings evaluated by the clearance check over a full turn", range=(1, 72)),
    ParamSpec(
        "min_known_body", 0.5, "Smallest known fraction of the belly for a heading to be evaluated",
        range=(0.0, 1.0), advanced=True,
    ),
    ParamSpec(
        "refine_tolerance", 20.0,
        "Cells between rated neighbours agreeing within this cost are interpolated, not rated (0: rate all)",
        range=(0.0, 99.0), advanced=True,
    ),
    # timing
    ParamSpec(
        "publish_period", 0.2, "Least stamp time between two published maps", range=(0.0, 60.0), unit="s"
    ),
    ParamSpec("pose_buffer", 10.0, "Odometry history kept for clouds stamped in the past", range=(0.5, 600.0), unit="s"),
    ParamSpec(
        "max_pose_gap", 0.5, "Odometry samples further apart are not interpolated", range=(0.01, 10.0), unit="s"
    ),
    ParamSpec(
        "max_pose_wait", 5.0, "Clouds stamped further ahead of the newest odometry are dropped",
        range=(0.0, 600.0), unit="s",
    ),
    ParamSpec("max_pending", 10, "Clouds waiting for odometry; the oldest is dropped beyond", range=(1, 1000)),
    ParamSpec(
        "jump_distance", 0.5, "Odometry moving further than this plus jump_speed x dt is a pose jump",
        range=(0.01, 100.0), unit="m",
    ),
    ParamSpec("jump_speed", 2.0, "Speed allowance of the pose-jump test", range=(0.0, 100.0), unit="m/s"),
    ParamSpec(
        "jump_angle", 0.5, "Odometry turning further than this plus jump_yaw_rate x dt is a pose jump",
        range=(0.01, 6.3), unit="rad",
    ),
    ParamSpec("jump_yaw_rate", 2.0, "Turn-rate allowance of the pose-jump test", range=(0.0, 100.0), unit="rad/s"),
)  # fmt: skip
