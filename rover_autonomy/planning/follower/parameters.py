"""Parameters of node ``path_follower``: one spec table for declaration, validation and docs."""

from rover_autonomy.parameters import ParamSpec

NODE_NAME = "path_follower"
TITLE = "path_follower: drives the plan with arc-based hazard avoidance; owns navigation/state"

PARAMETERS = (
    ParamSpec(
        "cmd_vel_stamped",
        True,
        "Publish geometry_msgs/TwistStamped on cmd_vel; false: plain Twist",
        read_only=True,
    ),
    ParamSpec(
        "control_period",
        0.1,
        "Shortest interval between decisions, in odometry time",
        range=(0.0, 5.0),
        unit="s",
    ),
    ParamSpec(
        "costmap_timeout",
        5.0,
        "Stop when the costmap is older than this against the odometry stamp",
        range=(0.1, 3600.0),
        unit="s",
    ),
    ParamSpec(
        "odom_timeout", 0.5, "Stop when no odometry arrived for this long", range=(0.05, 60.0), unit="s"
    ),
    ParamSpec(
        "max_speed",
        0.0,
        "Forward speed limit, at most the rover model's limits.max_speed (0: that limit)",
        range=(0.0, 5.0),
        unit="m/s",
    ),
    ParamSpec(
        "max_yaw_rate",
        0.0,
        "Yaw rate limit, at most the rover model's limits.max_yaw_rate (0: that limit)",
        range=(0.0, 5.0),
        unit="rad/s",
    ),
    ParamSpec(
        "goal_tolerance",
        0.3,
        "Goal reached within this distance of the plan's end",
        range=(0.05, 10.0),
        unit="m",
    ),
    ParamSpec("horizon", 2.0, "Arc length evaluated", range=(0.3, 10.0), unit="m"),
    ParamSpec("lookahead", 1.5, "Carrot distance along the plan", range=(0.2, 10.0), unit="m"),
    ParamSpec(
        "arcs", 21, "Number of curvatures in the fan (straight ahead included when odd)", range=(1, 201)
    ),
    ParamSpec(
        "min_safe_length",
        0.8,
        "An arc must stay below max_cost at least this far",
        range=(0.05, 10.0),
        unit="m",
    ),
    ParamSpec(
        "max_cost",
        100,
        "Cost at or above which a cell ends an arc's safe length (100: lethal cells only, as the planner)",
        range=(1, 100),
    ),
    ParamSpec("unknown_cost", 50.0, "Cost of unknown cells along an arc", range=(0.0, 99.0)),
    ParamSpec(
        "allow_unknown", True, "Drive through unknown cells (at unknown_cost); false makes them unsafe"
    ),
    ParamSpec(
        "cost_slowdown", 0.7, "Speed × (1 − cost_slowdown × worst nearby cost / 100)", range=(0.0, 1.0)
    ),
    ParamSpec(
        "turn_slowdown", 0.5, "Speed × (1 − turn_slowdown × |curvature| / max curvature)", range=(0.0, 1.0)
    ),
    ParamSpec("min_speed", 0.05, "Slowest forward speed while driving", range=(0.0, 5.0), unit="m/s"),
    ParamSpec(
        "escape_length",
        0.5,
        "When the map puts the rover on a cell at or above max_cost, arcs may cross such cells this far to leave",
        range=(0.0, 3.0),
        unit="m",
    ),
    ParamSpec(
        "point_turn_angle",
        1.0,
        "Turn in place when the carrot is further off the heading than this",
        range=(0.1, 3.2),
        unit="rad",
    ),
    ParamSpec(
        "stuck_window",
        6.0,
        "Odometry time over which commanded and measured motion are compared to detect a stuck rover "
        "(0: never recover)",
        range=(0.0, 120.0),
        unit="s",
    ),
    ParamSpec(
        "stuck_progress",
        0.2,
        "Stuck when the rover moved less than this share of the distance commanded over stuck_window",
        range=(0.01, 0.99),
    ),
    ParamSpec(
        "backup_distance",
        0.8,
        "Distance backed up when stuck (more than the planner's keep_out_radius)",
        range=(0.0, 5.0),
        unit="m",
    ),
    ParamSpec("backup_speed", 0.1, "Speed backing up", range=(0.01, 1.0), unit="m/s"),
    ParamSpec(
        "progress_weight",
        1.0,
        "Arc score weight of progress towards the carrot",
        range=(0.0, 10.0),
        advanced=True,
    ),
    ParamSpec("cost_weight", 1.5, "Arc score weight of terrain cost", range=(0.0, 10.0), advanced=True),
    ParamSpec(
        "path_weight", 0.4, "Arc score weight of distance from the plan", range=(0.0, 10.0), advanced=True
    ),
    ParamSpec(
        "clearance_weight", 0.8, "Arc score weight of the arc's safe length", range=(0.0, 10.0), advanced=True
    ),
)
