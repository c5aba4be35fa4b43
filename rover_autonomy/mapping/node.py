"""terrain_mapper: stereo clouds and odometry to an elevation map and a rover-centre costmap.

A thin shell over :class:`rover_autonomy.mapping.mapper.TerrainMapper`: it converts messages, feeds the
core, logs the core's events (throttled, with a diagnostics status) and publishes the maps stamped with
the newest fused cloud, at most once per ``publish_period`` of stamp time. Work is driven by input
messages only (no timers), so a replay gives the same maps. The camera mounting comes from the rover
model, never from TF.
"""

from __future__ import annotations

import time

import numpy as np
from nav_msgs.msg import OccupancyGrid, Odometry
from sensor_msgs.msg import PointCloud2

from rover_autonomy.mapping.mapper import TerrainMapper
from rover_autonomy.mapping.parameters import NODE_NAME, PARAMETERS
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    array_to_grid,
    arrays_to_pointcloud,
    odometry_to_data,
    pointcloud_to_arrays,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import ERROR, OK, WARN, RoverNode, run_node
from rover_autonomy.rover_model import load_rover_model

PARAMETERS = PARAMETERS  # read by ``rover-autonomy params`` to write config/terrain_mapper.yaml


class TerrainMapperNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        self.mapper = TerrainMapper(load_rover_model(), vars(self.params))
        self.last_published_ns: int | None = None
        self.timings = {"fuse_ms": 0.0, "costmap_ms": 0.0}
        self.costmap_pub = self.create_publisher(
            OccupancyGrid, "terrain/costmap", qos.for_topic("terrain/costmap")
        )
        self.elevation_pub = self.create_publisher(
            PointCloud2, "terrain/elevation", qos.for_topic("terrain/elevation")
        )
        self.create_subscription(
            PointCloud2, "stereo/points", self.on_cloud, qos.for_topic("stereo/points"),
            qos_overriding_options=qos.overridable(),
        )  # fmt: skip
        self.create_subscription(
            Odometry,
            "odom",
            self.on_odometry,
            qos.for_topic("odom"),
            qos_overriding_options=qos.overridable(),
        )
        self.set_status(OK, "waiting for clouds and odometry", **self.mapper.counters)

    def on_parameters_changed(self, changed: dict) -> None:
        self.mapper.configure(changed)

    # -- inputs --------------------------------------------------------------------------------
    def on_cloud(self, msg: PointCloud2) -> None:
        try:
            fields = pointcloud_to_arrays(msg, ("x", "y", "z"))
        except ConversionError as err:
            self.mapper.counters["clouds_dropped"] += 1
            self.warn_throttled("bad_cloud", f"stereo/points: {err}")
            return
        points = np.column_stack([fields["x"], fields["y"], fields["z"]])
        self.mapper.add_cloud(stamp_to_ns(msg.header.stamp), msg.header.frame_id, points)
        self._run()

    def on_odometry(self, msg: Odometry) -> None:
        try:
            odom = odometry_to_data(msg)
        except ConversionError as err:
            self.mapper.counters["odometry_ignored"] += 1
            self.warn_throttled("bad_odom", f"odom: {err}")
            return
        if odom.frame_id != self.params.frame_id:
            self.mapper.counters["odometry_ignored"] += 1
            self.warn_throttled(
                "odom_frame", f"odom: frame {odom.frame_id!r} is not {self.params.frame_id!r}: ignored"
            )
            return
        self.mapper.add_odometry(odom.stamp_ns, odom.position, odom.quaternion)
        self._run()

    # -- processing ----------------------------------------------------------------------------
    def _run(self) -> None:
        start = time.perf_counter()
        fused = self.mapper.process()
        if fused:
            self.timings["fuse_ms"] = (time.perf_counter() - start) * 1e3 / len(fused)
        events = self.mapper.take_events()
        for event in events:
            level = ERROR if event.error else WARN
            self.warn_throttled(event.key, event.message, level=level)
            self.set_status(level, event.message, **self._values())
        if any(event.key == "pose_jump" for event in events):
            # The published maps no longer register with the poses: replace them by the cleared map.
            self._publish(self.mapper.poses.newest_ns)
        if not fused:
            return
        if not events:
            self.set_status(OK, "mapping", **self._values())
        stamp = fused[-1]
        if (
            self.last_published_ns is not None
            and (stamp - self.last_published_ns) < self.params.publish_period * 1e9
        ):
            return
        self._publish(stamp)

    def _publish(self, stamp_ns: int) -> None:
        start = time.perf_counter()
        costs = self.mapper.update_traversability()
        grid = self.mapper.grid
        self.costmap_pub.publish(array_to_grid(costs, grid.geometry(self.params.frame_id), stamp_ns))
        known = grid.known
        x, y = grid.cell_centres()
        rows, cols = np.nonzero(known)
        cloud = {
            "x": x[cols],
            "y": y[rows],
            "z": grid["elevation"][known],
            "variance": grid["variance"][known],
        }
        self.elevation_pub.publish(arrays_to_pointcloud(cloud, stamp_ns, self.params.frame_id))
        self.last_published_ns = stamp_ns
        self.timings["costmap_ms"] = (time.perf_counter() - start) * 1e3

    def _values(self) -> dict:
        return {
            **self.mapper.counters,
            "pending_clouds": self.mapper.pending,
            "fuse_ms": f"{self.timings['fuse_ms']:.1f}",
            "costmap_ms": f"{self.timings['costmap_ms']:.1f}",
        }


def main(args: list[str] | None = None) -> int:
    return run_node(TerrainMapperNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
