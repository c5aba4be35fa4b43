"""Shared by the odometry tests: the synthetic terrain's slip law, a calibration hill, drives as events/bags."""

import math

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.harness.drives import Segment, WavyTerrain, joint_message, synthesise
from rover_autonomy.odometry.calibration import TRUTH
from rover_autonomy.odometry.inputs import IMU, JOINTS

MARS = 3.711


def slope_law(theta):
    """The synthetic terrain's slip: saturating growth uphill, skid downhill (unknown to the odometry)."""
    return 0.6 * (1 - math.exp(-((theta / 0.3) ** 2))) if theta >= 0 else 0.3 * theta


def calibration_drive(model, up=45.0, down=40.0, wavelength=40.0, seed=6):
    """Up a hill whose slope grows from 0 to 20 degrees, and back down, at 0.3 m/s."""
    amplitude = math.tan(math.radians(20)) * wavelength / (2 * math.pi)
    hill = WavyTerrain(((amplitude, wavelength, 0.0, -math.pi / 2),))  # bottom at x = 0
    segments = [Segment(up, 0.3, 0.0), Segment(down, -0.3, 0.0)]
    return synthesise(model, segments, hill, gravity=MARS, slip_law=slope_law, seed=seed)


def true_forward_speed(drive):
    velocity = np.gradient(drive.position, drive.stamps, axis=0)
    return np.array([velocity[k] @ rpy_to_matrix(*drive.rpy[k])[:, 0] for k in range(len(drive.stamps))])


def drive_events(model, drive):
    """(topic, stamp, payload) events of a synthetic drive, with its true forward speed as ground truth."""
    speed = true_forward_speed(drive)
    stamps = [round(float(t) * 1e9) * 1e-9 for t in drive.stamps]
    events = []
    for k, stamp in enumerate(stamps):
        events.append((IMU, stamp, (drive.gyro[k], drive.accel[k])))
        events.append((TRUTH, stamp, float(speed[k])))
    for j, k in enumerate(drive.joint_index):
        events.append((JOINTS, stamps[k], joint_message(model, drive, j)))
    return events


def write_bag(path, model, drive, topics=("joint_states", "imu/data", "ground_truth/odom")):
    """A rosbag2 (MCAP) of the drive: joint_states, imu/data and ground_truth/odom (those in ``topics``)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    T = store.types
    speed = true_forward_speed(drive)

    def header(k, frame):
        ns = round(float(drive.stamps[k]) * 1e9)
        return T["std_msgs/msg/Header"](
            stamp=T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
            frame_id=frame,
        )

    def vector(v):
        return T["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    joint_at = dict(zip(drive.joint_index.tolist(), range(len(drive.joint_index)), strict=True))
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        kinds = {
            "joint_states": "sensor_msgs/msg/JointState",
            "imu/data": "sensor_msgs/msg/Imu",
            "ground_truth/odom": "nav_msgs/msg/Odometry",
        }
        connections = {t: writer.add_connection(t, kinds[t], typestore=store) for t in topics}
        for k in range(len(drive.stamps)):
            log_time = round(float(drive.stamps[k]) * 1e9)
            if "imu/data" in connections:
                covariance = np.zeros(9)
                msg = T["sensor_msgs/msg/Imu"](
                    header=header(k, "imu_link"),
                    orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                    orientation_covariance=np.array([-1.0, *[0.0] * 8]),
                    angular_velocity=vector(drive.gyro[k]),
                    angular_velocity_covariance=covariance,
                    linear_acceleration=vector(drive.accel[k]),
                    linear_acceleration_covariance=covariance,
                )
                writer.write(connections["imu/data"], log_time, store.serialize_cdr(msg, kinds["imu/data"]))
            if "ground_truth/odom" in connections:
                pose = T["geometry_msgs/msg/PoseWithCovariance"](
                    pose=T["geometry_msgs/msg/Pose"](
                        position=T["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                        orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                    ),
                    covariance=np.zeros(36),
                )
                twist = T["geometry_msgs/msg/TwistWithCovariance"](
                    twist=T["geometry_msgs/msg/Twist"](
                        linear=vector((speed[k], 0, 0)), angular=vector((0, 0, 0))
                    ),
                    covariance=np.zeros(36),
                )
                msg = T["nav_msgs/msg/Odometry"](
                    header=header(k, "map"), child_frame_id="base_link", pose=pose, twist=twist
                )
                writer.write(
                    connections["ground_truth/odom"],
                    log_time,
                    store.serialize_cdr(msg, kinds["ground_truth/odom"]),
                )
            if k in joint_at and "joint_states" in connections:
                names, positions, velocities = joint_message(model, drive, joint_at[k])
                msg = T["sensor_msgs/msg/JointState"](
                    header=header(k, ""),
                    name=names,
                    position=np.array(positions),
                    velocity=np.array(velocities),
                    effort=np.zeros(0),
                )
                writer.write(
                    connections["joint_states"], log_time, store.serialize_cdr(msg, kinds["joint_states"])
                )


def synthesise_flat(model, seconds=25.0):
    """A straight drive on flat ground (nothing to calibrate a slope model on)."""
    return synthesise(model, [Segment(seconds, 0.3, 0.0)], gravity=MARS, seed=2)
