"""Synthetic recorded missions for the replay tests: real contract messages serialised by rclpy.

A rover drives an arc (0.3 m/s, 0.1 rad/s); wheel rates with seeded noise on ``joint_states``, an IMU,
a 320×240 mono8 stereo pair with camera info, ground truth, one goal. Messages are logged in receive
order with realistic latencies (images 30 ms after exposure), as a recorder would have stored them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Imu, JointState

from rover_autonomy.contract import TOPICS
from rover_autonomy.geometry import Pose2D, rpy_to_matrix, yaw_to_quaternion
from rover_autonomy.replay.bag import TYPESTORE, BagWriter, ros_type
from rover_autonomy.ros_common.conversions import array_to_image, arrays_to_pose, ns_to_stamp

WHEEL_RADIUS, TRACK = 0.1, 1.0  # as test/helpers/nodes/replay_stack_node.py
SPEED, YAW_RATE = 0.3, 0.1  # [m/s], [rad/s]
START_NS = 1_000_000_000_000  # sim time of the first message [ns]


def truth(t: float) -> tuple[float, float, float]:
    """Ground-truth pose (x, y, yaw) at t [s] after the start, starting at (2, 3, 0.5) in map."""
    yaw0, r = 0.5, SPEED / YAW_RATE
    yaw = yaw0 + YAW_RATE * t
    return 2.0 + r * (math.sin(yaw) - math.sin(yaw0)), 3.0 - r * (math.cos(yaw) - math.cos(yaw0)), yaw


def mission_messages(duration=2.0, rate=50.0, camera_rate=5.0, seed=7, clock=True, goal=True):
    """[(topic, stamp_ns, log_ns, message)] of a synthetic mission."""
    rng = np.random.default_rng(seed)
    out = []
    steps = int(duration * rate)
    for i in range(steps):
        t = i / rate
        stamp = START_NS + round(t * 1e9)
        wl = (SPEED - YAW_RATE * TRACK / 2) / WHEEL_RADIUS + rng.normal(0, 0.02)
        wr = (SPEED + YAW_RATE * TRACK / 2) / WHEEL_RADIUS + rng.normal(0, 0.02)
        js = JointState(name=["left_wheel", "right_wheel"], velocity=[wl, wr], position=[wl * t, wr * t])
        js.header.stamp = ns_to_stamp(stamp)
        out.append(("joint_states", stamp, stamp + 1_000_000, js))
        imu = Imu()
        imu.header.stamp, imu.header.frame_id = ns_to_stamp(stamp + 5_000_000), "imu_link"
        imu.angular_velocity.z = YAW_RATE + rng.normal(0, 0.001)
        imu.linear_acceleration.z = 3.711
        imu.orientation_covariance[0] = -1.0
        out.append(("imu/data", stamp + 5_000_000, stamp + 6_000_000, imu))
        x, y, yaw = truth(t)
        gt = Odometry()
        gt.header.stamp, gt.header.frame_id, gt.child_frame_id = ns_to_stamp(stamp), "map", "base_link"
        gt.pose.pose = arrays_to_pose((x, y, 0.0), yaw_to_quaternion(yaw))
        out.append(("ground_truth/odom", stamp, stamp + 1_000_000, gt))
        if clock:
            out.append(("/clock", stamp, stamp, Clock(clock=ns_to_stamp(stamp))))
        if i % round(rate / camera_rate) == 0:
            yy, xx = np.mgrid[0:240, 0:320]
            base = (xx * 0.5 + yy * 0.3 + 40 * np.sin(xx / 17.0 + t)).astype(np.float64)
            for side, shift in (("left", 0), ("right", 6)):
                noise = rng.integers(0, 20, size=(240, 320))
                img = np.clip(np.roll(base, -shift, axis=1) + noise, 0, 255).astype(np.uint8)
                frame = f"stereo_{side}_optical_frame"
                info = CameraInfo(width=320, height=240, distortion_model="plumb_bob")
                info.header.stamp, info.header.frame_id = ns_to_stamp(stamp), frame
                info.k = [200.0, 0.0, 160.0, 0.0, 200.0, 120.0, 0.0, 0.0, 1.0]
                info.p = [
                    200.0,
                    0.0,
                    160.0,
                    -60.0 if side == "right" else 0.0,
                    0.0,
                    200.0,
                    120.0,
                    0,
                    0,
                    0,
                    1,
                    0,
                ]
                out.append((f"stereo/{side}/camera_info", stamp, stamp + 30_000_000, info))
                out.append(
                    (
                        f"stereo/{side}/image_rect",
                        stamp,
                        stamp + 30_000_000,
                        array_to_image(img, "mono8", stamp, frame),
                    )
                )
        if goal and i == round(0.5 * rate):
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = ns_to_stamp(stamp), "odom"
            pose.pose.position.x, pose.pose.position.y, pose.pose.orientation.w = 4.0, 1.0, 1.0
            out.append(("goal_pose", stamp, stamp + 2_000_000, pose))
    return out


def write_bag(path, messages, skip=(), storage=None):
    """Write ``messages`` in log order into a rosbag2 bag (MCAP by default, sqlite3 when asked)."""
    messages = sorted((m for m in messages if m[0] not in skip), key=lambda m: (m[2], m[0]))
    if storage == "sqlite3":
        from rosbags.rosbag2 import StoragePlugin, Writer

        with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
            connections = {}
            for topic, _, log, msg in messages:
                if topic not in connections:
                    connections[topic] = writer.add_connection(
                        "/" + topic.lstrip("/"), ros_type(TOPICS[topic].type), typestore=TYPESTORE
                    )
                writer.write(connections[topic], log, serialize_message(msg))
        return path
    with BagWriter(path) as writer:
        for topic, _, log, msg in messages:
            writer.add_topic(topic, TOPICS[topic].type, TOPICS[topic].qos)
            writer.write(topic, log, serialize_message(msg))
    return path


def stack_messages(duration=2.0, rate=50.0, costmap_rate=2.0):
    """What the stack published during the synthetic mission: ``odom`` (truth relative to the start,
    frame ``odom``) and a 12 m × 12 m ``terrain/costmap`` around the start with a lethal rock ahead."""
    from nav_msgs.msg import OccupancyGrid

    out = []
    start = Pose2D(*truth(0.0))
    for i in range(int(duration * rate)):
        t = i / rate
        stamp = START_NS + round(t * 1e9)
        x, y, yaw = truth(t)
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = ns_to_stamp(stamp), "odom", "base_link"
        odom.pose.pose = arrays_to_pose((*start.to_child(x, y), 0.0), yaw_to_quaternion(yaw - start.yaw))
        out.append(("odom", stamp, stamp + 2_000_000, odom))
        if i % round(rate / costmap_rate) == 0:
            costs = np.zeros((120, 120), np.int8)
            costs[50:70, 70:80] = 100  # a rock 1.5 m ahead, 2 m wide
            costs[:, :5] = -1
            grid = OccupancyGrid()
            grid.header.stamp, grid.header.frame_id = ns_to_stamp(stamp), "odom"
            grid.info.resolution, grid.info.width, grid.info.height = 0.1, 120, 120
            grid.info.origin.position.x, grid.info.origin.position.y = -6.0, -6.0
            grid.info.origin.orientation.w = 1.0
            grid.data = costs.reshape(-1).tobytes()
            out.append(("terrain/costmap", stamp, stamp + 40_000_000, grid))
    return out


GROUND_CELL = 0.025  # [m] per texel of the ground texture
GROUND_SIZE = 2048  # texels a side: 51 m, centred on the start
HAZE = (12.0, 20.0)  # [m] optical depths over which the ground fades to its mean (no far-field aliasing)


@lru_cache(maxsize=1)
def _ground_texture() -> np.ndarray:
    """A fixed, band-limited random texture of the flat ground around the start (float32, 0…255)."""
    rng = np.random.default_rng(11)
    fine = cv2.GaussianBlur(rng.normal(size=(GROUND_SIZE, GROUND_SIZE)).astype(np.float32), (0, 0), 1.5)
    coarse = cv2.GaussianBlur(rng.normal(size=(GROUND_SIZE, GROUND_SIZE)).astype(np.float32), (0, 0), 6.0)
    texture = fine / fine.std() + 0.7 * coarse / coarse.std()
    return (128.0 + 40.0 * texture).astype(np.float32)


def render_ground(model, side: str, t: float, focal: float, width=320, height=240, supersample=3):
    """What the rectified ``side`` camera of the rover at ``truth(t)`` sees of a textured flat ground
    (sky above the horizon): images a stereo matcher and visual odometry can measure the drive in.
    Each pixel averages ``supersample``² rays."""
    x, y, yaw = truth(t)
    base = np.eye(4)
    base[:2, :2] = rpy_to_matrix(0.0, 0.0, yaw)[:2, :2]
    base[:2, 3] = x, y  # base_link lies on the ground plane (config/rover.yaml)
    camera = base @ model.stereo.camera_to_base(side)
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    u = (np.arange(width)[:, None] + offsets).ravel()
    v = (np.arange(height)[:, None] + offsets).ravel()
    uu, vv = np.meshgrid(u, v)
    rays = np.stack([(uu - width / 2) / focal, (vv - height / 2) / focal, np.ones_like(uu)], axis=-1)
    direction = rays @ camera[:3, :3].T
    origin = camera[:3, 3]
    down = direction[..., 2] < -1e-6
    depth = np.where(down, -origin[2] / np.where(down, direction[..., 2], -1.0), np.inf)  # optical z
    hit = origin[:2] + np.where(down, depth, 0.0)[..., None] * direction[..., :2]
    texture = _ground_texture()
    columns = ((hit[..., 0] - 2.0) / GROUND_CELL + GROUND_SIZE / 2).astype(np.float32)
    rows = ((hit[..., 1] - 3.0) / GROUND_CELL + GROUND_SIZE / 2).astype(np.float32)
    ground = cv2.remap(texture, columns, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    haze = np.clip((depth - HAZE[0]) / (HAZE[1] - HAZE[0]), 0.0, 1.0)
    image = np.where(down, (1.0 - haze) * ground + haze * 128.0, 200.0).astype(np.float32)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def rover_messages(duration=1.0, rate=50.0, camera_rate=5.0, seed=3):
    """The synthetic mission in the rover model's terms: joint states of every drive, steer and
    suspension joint (wheel_commands of the arc), an IMU at the same stamps, a 320×240 pair of a
    textured flat ground seen from the model's mast cameras along the true arc (with camera info to
    match), ground truth and a goal — what wheel_odometry, stereo_processor, visual_odometry,
    terrain_mapper and path_planner consume."""
    from rover_autonomy.kinematics import wheel_commands
    from rover_autonomy.rover_model import load_rover_model

    model = load_rover_model()
    command = wheel_commands(model, SPEED, YAW_RATE)
    names = [*model.drive_joints, *model.steer_joints, *model.suspension_joints]
    focal = 160.0 / math.tan(model.stereo.hfov / 2)
    noise = np.random.default_rng(seed)
    out = []
    for topic, stamp, log, msg in mission_messages(duration, rate, camera_rate, seed, clock=False):
        if topic == "joint_states":
            t = (stamp - START_NS) * 1e-9
            msg = JointState(
                name=names,
                position=[*(command.drive * t), *command.steer, *([0.0] * len(model.suspension_joints))],
                velocity=[*command.drive, *([0.0] * (len(names) - len(model.drive_joints)))],
            )
            msg.header.stamp = ns_to_stamp(stamp)
        elif topic == "imu/data":
            stamp, log = stamp - 5_000_000, log - 5_000_000  # at the joint states' stamps
            msg.header.stamp = ns_to_stamp(stamp)
        elif topic.endswith("image_rect"):
            side = "right" if "right" in topic else "left"
            image = render_ground(model, side, (stamp - START_NS) * 1e-9, focal)
            image += noise.normal(0.0, 1.5, image.shape)  # sensor noise, independent per camera
            msg = array_to_image(
                np.clip(image, 0, 255).round().astype(np.uint8), "mono8", stamp, msg.header.frame_id
            )
        elif topic.endswith("camera_info"):
            tx = -focal * model.stereo.baseline if "right" in topic else 0.0
            msg.k = [focal, 0.0, 160.0, 0.0, focal, 120.0, 0.0, 0.0, 1.0]
            msg.p = [focal, 0.0, 160.0, tx, 0.0, focal, 120.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        out.append((topic, stamp, log, msg))
    return out
