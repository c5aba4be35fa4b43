"""Parameters of node ``rover_sim``: one spec table for declaration, validation and docs."""

from rover_autonomy.parameters import ParamSpec

NODE_NAME = "rover_sim"
TITLE = "rover_sim: the embedded MuJoCo simulator publishing the sensor contract on sim time"

PARAMETERS = (
    ParamSpec(
        "world",
        "mars",
        "World to simulate: moon, mars, a generated world directory, or a test terrain flat[:planet] / "
        "slope:<deg>[:planet]",
        read_only=True,
    ),
    ParamSpec(
        "start_pose",
        [0.0],
        "Start pose [x, y, yaw] in map (m, m, rad) overriding the world's start; [0.0] keeps the world's",
        read_only=True,
    ),
    ParamSpec(
        "timestep",
        0.005,
        "Physics step; must divide the IMU period",
        range=(0.0005, 0.01),
        unit="s",
        read_only=True,
    ),
    ParamSpec("seed", 0, "Seed of the sensor noise generator", range=(0, 2**31 - 1), read_only=True),
    ParamSpec(
        "real_time_factor",
        1.0,
        "Sim seconds per wall second; 0 runs as fast as possible",
        range=(0.0, 1000.0),
    ),
    ParamSpec("cameras", True, "Render and publish the stereo pair", read_only=True),
    ParamSpec(
        "camera_rate",
        2.0,
        "Stereo frame rate (a whole number of IMU periods)",
        range=(0.1, 30.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec("image_encoding", "rgb8", "Encoding of the published images", choices=("rgb8", "mono8")),
    ParamSpec("shadows", False, "Render shadows (slower on software GL)", read_only=True, advanced=True),
    ParamSpec(
        "clock_rate",
        50.0,
        "Rate of /clock (also published at each camera frame): every node on sim time takes each one",
        range=(1.0, 1000.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec(
        "joint_state_rate",
        100.0,
        "Rate of joint_states",
        range=(1.0, 1000.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec(
        "ground_truth_rate",
        50.0,
        "Rate of ground_truth/odom and sim/slip",
        range=(1.0, 1000.0),
        unit="Hz",
        read_only=True,
    ),
    ParamSpec("contacts_rate", 10.0, "Rate of sim/contacts", range=(0.1, 1000.0), unit="Hz", read_only=True),
    ParamSpec("lockstep", False, "Hold sim time after each camera frame until the lockstep topics answer it"),
    ParamSpec(
        "lockstep_topics",
        ["cmd_vel:geometry_msgs/msg/TwistStamped"],
        "Topics that answer a frame, as topic:package/msg/Type; stamped types answer with a stamp >= the "
        "frame's, unstamped ones with any message after it",
        read_only=True,
    ),
    ParamSpec(
        "lockstep_timeout",
        5.0,
        "Wall time to wait for the lockstep topics before continuing",
        range=(0.01, 600.0),
        unit="s",
    ),
    ParamSpec(
        "max_tick_wall",
        0.01,
        "Longest wall time of one stepping tick, so commands are served",
        range=(0.001, 1.0),
        unit="s",
        advanced=True,
    ),
)
