"""Parameters of node ``path_planner``: one spec table for declaration, validation and docs."""

from rover_autonomy.parameters import ParamSpec

NODE_NAME = "path_planner"
TITLE = "path_planner: goals to optimal plans on terrain/costmap, kept current by replanning"

PARAMETERS = (
    ParamSpec(
        "cost_weight",
        0.02,
        "Extra cost per unit of cell cost: edge cost = length × (1 + weight × cost)",
        range=(0.0, 1.0),
    ),
    ParamSpec("unknown_cost", 50.0, "Cell cost assumed for unknown cells", range=(0.0, 99.0)),
    ParamSpec("allow_unknown", True, "Plan through unknown cells (at unknown_cost); false forbids them"),
    ParamSpec("lethal_cost", 100, "Cells at or above this cost are forbidden", range=(1, 100)),
    ParamSpec(
        "map_to_odom",
        [0.0, 0.0, 0.0],
        "Pose of odom in map: [x, y, yaw] (the rover's start pose)",
        unit="m, m, rad",
    ),
    ParamSpec(
        "replan_period",
        5.0,
        "Full replan period while a goal is active (0: never)",
        range=(0.0, 600.0),
        unit="s",
    ),
    ParamSpec(
        "max_path_deviation",
        0.5,
        "Replan when the rover is further than this from the plan",
        range=(0.05, 10.0),
        unit="m",
    ),
    ParamSpec(
        "min_replan_interval",
        1.0,
        "Shortest interval between replans caused by the rover leaving the plan (odometry time)",
        range=(0.0, 60.0),
        unit="s",
    ),
    ParamSpec(
        "costmap_timeout",
        5.0,
        "Refuse to plan on a costmap older than this (against the odometry stamp)",
        range=(0.1, 3600.0),
        unit="s",
    ),
    ParamSpec("odom_timeout", 1.0, "Odometry older than this is lost", range=(0.05, 60.0), unit="s"),
    ParamSpec(
        "max_goal_distance",
        200.0,
        "Goals further than this from the rover are refused; nearer goals beyond the costmap window are"
        " planned to through unknown terrain",
        range=(1.0, 10000.0),
        unit="m",
    ),
    ParamSpec(
        "keep_out_radius",
        0.5,
        "Radius of the lethal disc around each navigation/keep_out place (the last 32 are kept)",
        range=(0.05, 5.0),
        unit="m",
    ),
    ParamSpec(
        "start_escape_radius",
        0.5,
        "If the rover stands on a lethal cell, start from the nearest free cell within this distance",
        range=(0.0, 5.0),
        unit="m",
    ),
    ParamSpec(
        "heuristic_block",
        4,
        "Block size of the A* heuristic potentials (0: octile bound only)",
        range=(0, 64),
        unit="cells",
        advanced=True,
    ),
    ParamSpec(
        "repair_margin",
        40,
        "Cells around a damaged stretch of the plan searched by a local repair",
        range=(2, 1000),
        unit="cells",
        advanced=True,
    ),
)
