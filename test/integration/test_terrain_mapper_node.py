"""terrain_mapper over real DDS: maps from clouds and odometry, and every kind of bad input."""

import math
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.parameter import Parameter
from sensor_msgs.msg import PointCloud2

from rover_autonomy.geometry import yaw_to_quaternion
from rover_autonomy.mapping.node import TerrainMapperNode
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    OdometryData,
    arrays_to_pointcloud,
    data_to_odometry,
    grid_to_array,
    pointcloud_to_arrays,
    stamp_to_ns,
)
from rover_autonomy.rover_model import load_rover_model

MODEL = load_rover_model()
LEFT = MODEL.stereo.left_frame
SECOND = 1_000_000_000


def ground_cloud(x=0.0, y=0.0, rock=None, count=30000, seed=0):
    """Flat ground (z = 0) ahead of a rover at (x, y) heading +x, optionally with the top of a block
    ``rock`` = (x, y, height, side) [m], as the left camera sees it (optical frame)."""
    rng = np.random.default_rng(seed)
    ground = np.column_stack(
        [rng.uniform(1.5, 6.0, count) + x, rng.uniform(-2.0, 2.0, count) + y, np.zeros(count)]
    )
    if rock is not None:
        rx, ry, height, side = rock
        ground = ground[(np.abs(ground[:, 0] - rx) > side / 2) | (np.abs(ground[:, 1] - ry) > side / 2)]
        top = np.column_stack(
            [
                rng.uniform(rx - side / 2, rx + side / 2, 4000),
                rng.uniform(ry - side / 2, ry + side / 2, 4000),
                np.full(4000, height),
            ]
        )
        ground = np.concatenate([ground, top])
    camera = MODEL.stereo.camera_to_base("left")
    base = ground - (x, y, 0.0)
    return ((base - camera[:3, 3]) @ camera[:3, :3]).astype(np.float32)


def odometry(stamp_ns, x=0.0, y=0.0, yaw=0.0, frame="odom"):
    return data_to_odometry(
        OdometryData(
            stamp_ns=stamp_ns,
            frame_id=frame,
            child_frame_id="base_link",
            position=np.array([x, y, 0.0]),
            quaternion=yaw_to_quaternion(yaw),
            linear=np.zeros(3),
            angular=np.zeros(3),
            pose_covariance=np.eye(6) * 1e-3,
            twist_covariance=np.eye(6) * 1e-3,
        )
    )


def cloud_msg(points, stamp_ns, frame=LEFT):
    return arrays_to_pointcloud({"x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}, stamp_ns, frame)


class Rig:
    """The mapper node plus a driver publishing odometry and clouds and a listener of its outputs."""

    def __init__(self, ros, **params):
        overrides = [Parameter(k, value=v) for k, v in {"length_x": 12.0, "length_y": 12.0, **params}.items()]
        self.ros = ros
        self.node = ros.node(TerrainMapperNode(context=ros.context, parameter_overrides=overrides))
        driver = ros.node("mapping_driver")
        self.odom = driver.create_publisher(Odometry, "odom", qos.for_topic("odom"))
        self.clouds = driver.create_publisher(PointCloud2, "stereo/points", qos.for_topic("stereo/points"))
        self.costmaps, self.elevations, self.statuses = [], [], []
        listener = ros.node("mapping_listener")
        listener.create_subscription(
            OccupancyGrid, "terrain/costmap", self.costmaps.append, qos.for_topic("terrain/costmap")
        )
        listener.create_subscription(
            PointCloud2, "terrain/elevation", self.elevations.append, qos.for_topic("terrain/elevation")
        )
        listener.create_subscription(
            DiagnosticArray,
            "diagnostics",
            lambda m: self.statuses.extend(m.status),
            qos.profile("diagnostics"),
        )
        assert ros.spin_until(
            lambda: self.odom.get_subscription_count() and self.clouds.get_subscription_count(), timeout=10
        )

    def send_odometry(self, start_s, end_s, x=0.0, y=0.0, rate=10.0, **kwargs):
        for i in range(round((end_s - start_s) * rate) + 1):
            self.odom.publish(odometry(round((start_s + i / rate) * SECOND), x, y, **kwargs))
        self.ros.spin_for(0.2)

    def send_cloud(self, msg):
        self.clouds.publish(msg)
        self.ros.spin_for(0.1)

    def costmap_at(self, stamp_ns, timeout=10.0):
        def found():
            return next((m for m in self.costmaps if stamp_to_ns(m.header.stamp) == stamp_ns), None)

        return self.ros.spin_until(found, timeout=timeout)

    def status_with(self, text, timeout=4.0):
        def found():
            return next((s for s in self.statuses if text in s.message), None)

        return self.ros.spin_until(found, timeout=timeout)

    def elevation_at(self, stamp_ns, timeout=5.0):
        def found():
            return next((m for m in self.elevations if stamp_to_ns(m.header.stamp) == stamp_ns), None)

        msg = self.ros.spin_until(found, timeout=timeout)
        assert msg is not None, f"no elevation map at {stamp_ns} ns"
        return pointcloud_to_arrays(msg, ("x", "y", "z", "variance"))

    def good_map(self, stamp_s, x=0.0, seed=0):
        """A flat cloud at ``stamp_s`` (odometry must cover it); returns the costmap published for it."""
        stamp = round(stamp_s * SECOND)
        self.send_cloud(cloud_msg(ground_cloud(x, seed=seed), stamp))
        msg = self.costmap_at(stamp)
        assert msg is not None, f"no costmap for the cloud at {stamp_s} s"
        return msg


def assert_flat(rig, costmap, x=0.0):
    costs, geometry = grid_to_array(costmap)
    assert costmap.header.frame_id == "odom" and geometry.resolution == pytest.approx(0.1)
    xs = geometry.origin_x + (np.arange(costs.shape[1]) + 0.5) * geometry.resolution
    ys = geometry.origin_y + (np.arange(costs.shape[0]) + 0.5) * geometry.resolution
    ahead = (xs[None, :] > x + 2.6) & (xs[None, :] < x + 5.0) & (np.abs(ys[:, None]) < 1.0)
    assert np.all(costs[ahead] >= 0) and np.all(costs[ahead] <= 5), "flat ground ahead must be rated free"
    elevation = rig.elevation_at(stamp_to_ns(costmap.header.stamp))
    assert np.all(np.isfinite(elevation["z"])) and np.abs(elevation["z"]).max() < 0.05
    assert np.all(elevation["variance"] > 0)


def test_flat_ground_and_a_block(ros):
    rig = Rig(ros)
    rig.send_odometry(1.0, 2.0)
    rig.send_cloud(cloud_msg(ground_cloud(rock=(4.0, 0.0, 0.5, 0.6)), round(1.5 * SECOND)))
    costmap = rig.costmap_at(round(1.5 * SECOND))
    assert costmap is not None
    costs, geometry = grid_to_array(costmap)
    col = int((4.0 - geometry.origin_x) / geometry.resolution)
    row = int((0.0 - geometry.origin_y) / geometry.resolution)
    assert costs[row, col] == 100  # the block is taller than the belly
    assert costs[row, col - 14] < 100 and costs[row, col - 14] >= 0  # 1.4 m before it: clear
    assert (costs == -1).sum() > costs.size / 2  # most of the window was never seen
    assert rig.status_with("mapping") is not None


def test_cloud_from_the_future_waits_for_odometry(ros):
    rig = Rig(ros)
    rig.send_odometry(1.0, 2.0)
    rig.send_cloud(cloud_msg(ground_cloud(), 3 * SECOND))
    rig.ros.spin_for(0.5)
    assert not rig.costmaps  # buffered: odometry does not cover 3 s yet
    rig.send_odometry(2.1, 3.2)
    assert_flat(rig, rig.costmap_at(3 * SECOND))


def _prepared(ros, first_s=1.2, **params):
    rig = Rig(ros, **params)
    rig.send_odometry(1.0, 2.0)
    assert_flat(rig, rig.good_map(first_s))
    return rig


def test_nan_and_inf_points_are_skipped(ros):
    rig = _prepared(ros)
    points = ground_cloud(seed=4)
    points[::3] = np.nan
    points[1::7, 0] = np.inf
    points[2::11, 2] = -np.inf
    rig.send_cloud(cloud_msg(points, round(1.6 * SECOND)))
    assert_flat(rig, rig.costmap_at(round(1.6 * SECOND)))


def test_empty_cloud(ros):
    rig = _prepared(ros)
    rig.send_cloud(cloud_msg(np.zeros((0, 3), np.float32), round(1.4 * SECOND)))
    status = rig.status_with("empty cloud")
    assert status is not None and status.level == DiagnosticStatus.WARN
    assert_flat(rig, rig.good_map(1.6, seed=5))


def test_cloud_older_than_the_pose_buffer(ros):
    rig = _prepared(ros, first_s=1.7, pose_buffer=0.5)
    rig.send_cloud(cloud_msg(ground_cloud(seed=6), round(1.75 * SECOND)))
    rig.send_cloud(cloud_msg(ground_cloud(seed=6), round(1.2 * SECOND)))  # older than 2.0 s − 0.5 s
    assert rig.status_with("older than the pose buffer") is not None
    assert_flat(rig, rig.good_map(1.9, seed=7))


def test_unknown_frame(ros):
    rig = _prepared(ros)
    rig.send_cloud(cloud_msg(ground_cloud(seed=8), round(1.4 * SECOND), frame="velodyne"))
    assert rig.status_with("unknown frame 'velodyne'") is not None
    assert len(rig.costmaps) == 1
    assert_flat(rig, rig.good_map(1.6, seed=9))


def test_malformed_cloud_and_odometry(ros):
    rig = _prepared(ros)
    bad = cloud_msg(ground_cloud(seed=10), round(1.4 * SECOND))
    bad.data = bad.data[:-5]
    rig.send_cloud(bad)
    assert rig.status_with("stereo/points: point cloud data length") is not None
    broken = odometry(round(2.05 * SECOND))
    broken.pose.pose.position.x = math.nan
    rig.odom.publish(broken)
    assert rig.status_with("odom: pose contains NaN") is not None
    rig.odom.publish(odometry(round(2.1 * SECOND), frame="map"))
    assert rig.status_with("frame 'map' is not 'odom'") is not None
    assert_flat(rig, rig.good_map(1.6, seed=11))


def test_far_larger_cloud_is_subsampled_in_bounded_time(ros):
    rig = _prepared(ros, max_points=20000)
    huge = ground_cloud(count=600000, seed=12)  # 30x the expected size
    before = rig.node.mapper.counters["points_subsampled"]
    start = time.monotonic()
    rig.send_cloud(cloud_msg(huge, round(1.6 * SECOND)))
    costmap = rig.costmap_at(round(1.6 * SECOND))
    assert time.monotonic() - start < 5.0
    assert rig.status_with("subsampled with stride 30") is not None
    assert_flat(rig, costmap)
    assert rig.node.mapper.counters["points_subsampled"] - before == 600000 - 20000


def test_pose_jump_clears_the_map(ros):
    rig = _prepared(ros)
    rig.send_odometry(2.1, 2.5, x=25.0)  # 25 m in 0.1 s
    status = rig.status_with("odometry jumped")
    assert status is not None and status.level == DiagnosticStatus.ERROR
    assert not rig.node.mapper.grid.known.any()
    cleared = rig.costmap_at(round(2.1 * SECOND))  # stamped with the odometry that jumped
    assert cleared is not None and np.all(grid_to_array(cleared)[0] == -1)
    costmap = rig.good_map(2.3, x=25.0, seed=13)
    assert_flat(rig, costmap, x=25.0)
    elevation = rig.elevation_at(round(2.3 * SECOND))
    assert elevation["x"].min() > 25.0  # nothing from before the jump


def test_config_file_is_rendered_from_the_spec():
    from rover_autonomy.bringup.graph import node_parameters
    from rover_autonomy.parameters import render_yaml
    from rover_autonomy.resources import config_path

    title, specs = node_parameters("terrain_mapper")
    assert config_path("terrain_mapper.yaml").read_text() == render_yaml("terrain_mapper", specs, title)
