"""The terrain mapping pipeline that ``terrain_mapper`` drives: clouds and odometry in, maps out.

Clouds wait in a queue (ordered by stamp) until odometry covers their stamp; they are then fused in
stamp order with the interpolated pose at their stamp and the camera mounting of the rover model, so the
map depends only on the inputs in stamp order, never on arrival timing (docs/interfaces.md,
Determinism). Every input problem becomes an :class:`Event` (a key for throttling, a message) and a
counter; nothing raises on bad data.

Bad input and what happens:
* non-finite points, points behind the camera or beyond ``max_range``: skipped (counted);
* an empty cloud, or one with no usable point: dropped with an event;
* a cloud larger than ``max_points``: subsampled with a fixed stride (bounded work, deterministic);
* a frame other than the camera optical frames, ``base_link`` or the odometry frame: dropped;
* a cloud older than the pose buffer, or between two poses too far apart: dropped;
* a cloud stamped more than ``max_pose_wait`` ahead of the newest odometry: dropped; otherwise it waits
  (at most ``max_pending`` clouds wait; the oldest is dropped beyond);
* a cloud not newer than the last fused one: dropped (fusing it would break stamp order);
* odometry that does not advance in time: ignored; a pose jump: the pose buffer restarts and the map is
  cleared, because data fused before the jump no longer registers with the poses after it.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from rover_autonomy.mapping.clearance import clearance_model
from rover_autonomy.mapping.fusion import FusionSettings, StereoNoiseModel, camera_points_to_map, fuse_cells
from rover_autonomy.mapping.grid import ElevationMap
from rover_autonomy.mapping.parameters import PARAMETERS
from rover_autonomy.mapping.poses import Added, JumpLimits, Lookup, PoseBuffer
from rover_autonomy.mapping.traversability import TraversabilityChain, TraversabilitySettings, to_costmap
from rover_autonomy.rover_model import RoverModel

DEFAULTS = {spec.name: spec.default for spec in PARAMETERS}


@dataclass(frozen=True)
class Event:
    key: str  # stable identifier, for throttling
    message: str
    error: bool = False


@dataclass(order=True)
class _Cloud:
    stamp_ns: int
    sequence: int  # arrival order breaks ties deterministically
    frame_id: str = field(compare=False)
    points: np.ndarray = field(compare=False)


class TerrainMapper:
    """Elevation map, pose buffer and cloud queue for one rover."""

    def __init__(self, model: RoverModel, values: dict | None = None):
        self.model = model
        self.values = {**DEFAULTS, **(values or {})}
        v = self.values
        self.grid = ElevationMap(v["length_x"], v["length_y"], v["resolution"])
        self.events: list[Event] = []
        self.counters = dict.fromkeys(
            (
                "clouds_received", "clouds_fused", "clouds_dropped", "points_fused", "points_invalid",
                "points_subsampled", "odometry_ignored", "pose_jumps", "map_resets",
            ),
            0,
        )  # fmt: skip
        self.last_fused_ns: int | None = None
        self._queue: list[_Cloud] = []
        self._sequence = 0
        self._frames = self._frame_transforms()
        self.configure(v)

    # -- configuration -------------------------------------------------------------------------
    def configure(self, values: dict) -> None:
        """Apply parameter values (the geometry ones only take effect at construction)."""
        self.values.update(values)
        v = self.values
        stereo = self.model.stereo
        self.noise = StereoNoiseModel(
            stereo.focal_px, stereo.baseline, v["disparity_sigma"], v["noise_terrain_slope"], v["noise_floor"]
        )
        self.fusion = FusionSettings(
            v["min_variance"], v["mahalanobis_threshold"], cluster_sigmas=v["cluster_sigmas"]
        )
        settings = TraversabilitySettings(
            max_sigma=v["max_sigma"],
            max_horizontal_sigma=v["max_horizontal_sigma"],
            slope_window=v["slope_window"],
            step_window=v["step_window"],
            wheel_patch=v["wheel_patch"],
            max_roughness=v["max_roughness"],
            headings=v["headings"],
            min_known_body=v["min_known_body"],
            refine_tolerance=v["refine_tolerance"],
        )
        resolution = self.grid.resolution
        self.chain = TraversabilityChain(clearance_model(self.model, 2 * resolution), resolution, settings)
        self.grid.mark_dirty(0, self.grid.shape[0], 0, self.grid.shape[1])  # new settings: rate everything
        jump = JumpLimits(v["jump_distance"], v["jump_speed"], v["jump_angle"], v["jump_yaw_rate"])
        old = getattr(self, "poses", None)
        self.poses = PoseBuffer(round(v["pose_buffer"] * 1e9), round(v["max_pose_gap"] * 1e9), jump)
        if old is not None:  # keep the history across a reconfiguration
            for stamp, position, quaternion in zip(
                old._stamps, old._positions, old._quaternions, strict=True
            ):
                self.poses.add(stamp, position, quaternion)

    def _frame_transforms(self) -> dict[str, np.ndarray | None]:
        """frame -> 4x4 into base_link (None: the frame is the odometry frame itself)."""
        stereo = self.model.stereo
        return {
            stereo.left_frame: stereo.camera_to_base("left"),
            stereo.right_frame: stereo.camera_to_base("right"),
            "base_link": np.eye(4),
            self.values["frame_id"]: None,
        }

    def _event(self, key: str, message: str, error: bool = False) -> None:
        self.events.append(Event(key, message, error))

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # -- inputs --------------------------------------------------------------------------------
    def add_odometry(self, stamp_ns: int, position, quaternion) -> None:
        result = self.poses.add(int(stamp_ns), position, quaternion)
        if result is Added.STALE:
            self.counters["odometry_ignored"] += 1
            self._event(
                "odom_stale", f"odometry at {stamp_ns * 1e-9:.3f} s does not advance in time: ignored"
            )
        elif result is Added.JUMP:
            self.counters["pose_jumps"] += 1
            self.counters["map_resets"] += 1
            self.grid.clear()
            self._event(
                "pose_jump",
                f"odometry jumped at {stamp_ns * 1e-9:.3f} s: map cleared, clouds before the jump dropped",
                error=True,
            )

    def add_cloud(self, stamp_ns: int, frame_id: str, points: np.ndarray) -> None:
        """Queue a cloud (N, 3) [m] given in ``frame_id``; :meth:`process` fuses it when it can."""
        self.counters["clouds_received"] += 1
        stamp_ns = int(stamp_ns)
        if frame_id not in self._frames:
            return self._drop("unknown_frame", f"cloud in unknown frame {frame_id!r} (expected one of "
                              f"{', '.join(sorted(self._frames))})")  # fmt: skip
        points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        if points.shape[0] == 0:
            return self._drop("empty", f"empty cloud at {stamp_ns * 1e-9:.3f} s")
        oldest = self.poses.oldest_ns
        if oldest is not None and stamp_ns < oldest:
            return self._drop("too_old", f"cloud at {stamp_ns * 1e-9:.3f} s is older than the pose buffer")
        if self.last_fused_ns is not None and stamp_ns <= self.last_fused_ns:
            return self._drop(
                "out_of_order", f"cloud at {stamp_ns * 1e-9:.3f} s is not newer than the last fused cloud"
            )
        newest = self.poses.newest_ns
        if newest is not None and stamp_ns - newest > self.values["max_pose_wait"] * 1e9:
            return self._drop(
                "future",
                f"cloud at {stamp_ns * 1e-9:.3f} s is {(stamp_ns - newest) * 1e-9:.1f} s ahead of odometry",
            )
        limit = self.values["max_points"]
        if points.shape[0] > limit:
            stride = math.ceil(points.shape[0] / limit)
            self.counters["points_subsampled"] += points.shape[0] - points[::stride].shape[0]
            self._event("subsampled", f"cloud of {points.shape[0]} points subsampled with stride {stride}")
            points = points[::stride]
        heapq.heappush(self._queue, _Cloud(stamp_ns, self._sequence, frame_id, points))
        self._sequence += 1
        while len(self._queue) > self.values["max_pending"]:
            dropped = heapq.heappop(self._queue)
            self._drop(
                "queue_full", f"cloud at {dropped.stamp_ns * 1e-9:.3f} s dropped: no odometry covers it"
            )
        return None

    def _drop(self, key: str, message: str) -> None:
        self.counters["clouds_dropped"] += 1
        self._event(key, message)

    # -- processing ----------------------------------------------------------------------------
    def process(self) -> list[int]:
        """Fuse every queued cloud whose stamp odometry covers, in stamp order; their stamps."""
        fused = []
        while self._queue:
            cloud = self._queue[0]
            status, pose = self.poses.lookup(cloud.stamp_ns)
            if status is Lookup.WAIT:
                break
            heapq.heappop(self._queue)
            if status is Lookup.TOO_OLD:
                self._drop("too_old", f"cloud at {cloud.stamp_ns * 1e-9:.3f} s is older than the pose buffer")
            elif status is Lookup.GAP:
                self._drop(
                    "pose_gap", f"no odometry close enough to the cloud at {cloud.stamp_ns * 1e-9:.3f} s"
                )
            elif self.last_fused_ns is not None and cloud.stamp_ns <= self.last_fused_ns:
                self._drop(
                    "out_of_order", f"cloud at {cloud.stamp_ns * 1e-9:.3f} s is not newer than the last fused"
                )
            elif self._fuse(cloud, pose):
                fused.append(cloud.stamp_ns)
        return fused

    def _fuse(self, cloud: _Cloud, base_pose: np.ndarray) -> bool:
        stereo = self.model.stereo
        camera_to_base = self._frames[stereo.left_frame]
        to_base = self._frames[cloud.frame_id]
        points = cloud.points
        if to_base is not camera_to_base:  # express the cloud in the left camera frame
            to_camera = np.linalg.inv(camera_to_base) @ (
                np.linalg.inv(base_pose) if to_base is None else to_base
            )
            points = points.astype(np.float64) @ to_camera[:3, :3].T + to_camera[:3, 3]
        centre = base_pose[:2, 3]
        if np.hypot(*(centre - self.grid.centre)) > self.values["recentre_distance"]:
            self.grid.move_to(centre)
        heights, variances, horizontal, cells = camera_points_to_map(
            points,
            base_pose @ camera_to_base,
            self.noise,
            stereo.near_clip,
            self.values["max_range"],
            self.grid,
        )
        self.counters["points_invalid"] += int(cloud.points.shape[0] - cells.shape[0])
        if cells.shape[0] == 0:
            self._drop("no_valid_points", f"cloud at {cloud.stamp_ns * 1e-9:.3f} s has no usable point")
            return False
        result = fuse_cells(self.grid, cells, heights, variances, horizontal, cloud.stamp_ns, self.fusion)
        self.counters["clouds_fused"] += 1
        self.counters["points_fused"] += result.points_used
        self.last_fused_ns = cloud.stamp_ns
        return True

    def update_traversability(self) -> np.ndarray:
        """Run the layer chain; the (rows, cols) int8 costmap (−1 unknown, 0 … 100)."""
        self.chain.run(self.grid)
        return to_costmap(self.grid["cost"])

    @property
    def pending(self) -> int:
        return len(self._queue)
