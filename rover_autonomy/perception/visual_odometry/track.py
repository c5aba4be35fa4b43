"""From visual odometry steps to what ``visual_odometry/odom`` carries: pose, twist and covariances.

The pose is the core's chained pose. Its covariance grows by each valid step's covariance, turned from
the previous base_link into the visual odometry frame (first order: heading uncertainty is not carried
into position). The twist is the step's motion over the frame interval, in base_link, with the step's
covariance over dt². A step that measured no motion (the first frame, a tracking failure) is flagged
with ``covariance[0, 0] = -1`` on both, as sensor_msgs marks "not available": consumers differencing
consecutive poses skip that increment. Pure numpy and scipy: no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from rover_autonomy.perception.visual_odometry.estimator import VisualStep

NOT_AVAILABLE = -1.0  # covariance[0, 0] of an unmeasured pose increment or twist


@dataclass(frozen=True)
class VisualOdometryEstimate:
    stamp: float  # [s]
    valid: bool  # the motion from the previous estimate to this one was measured
    position: np.ndarray  # (3,) [m] base_link in the visual odometry frame
    quaternion: np.ndarray  # (4,) x, y, z, w
    pose_covariance: np.ndarray  # (6, 6); [0, 0] = -1 when not valid
    linear: np.ndarray  # (3,) [m/s] in base_link; zeros when not valid
    angular: np.ndarray  # (3,) [rad/s] in base_link; zeros when not valid
    twist_covariance: np.ndarray  # (6, 6); [0, 0] = -1 when not valid


class VisualOdometryTrack:
    """Accumulates the pose covariance over the steps of one chain; ``reset`` when the chain restarts."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.covariance = np.zeros((6, 6))
        self._previous_stamp: float | None = None

    def update(self, step: VisualStep) -> VisualOdometryEstimate:
        previous_stamp, self._previous_stamp = self._previous_stamp, step.stamp
        pose_covariance = self.covariance.copy()
        linear, angular = np.zeros(3), np.zeros(3)
        twist_covariance = np.zeros((6, 6))
        dt = step.stamp - previous_stamp if previous_stamp is not None else 0.0
        if step.valid and dt > 0.0:
            # The step is expressed in base_link at the previous frame; rotate it into the odom frame.
            previous_rotation = step.pose[:3, :3] @ step.delta[:3, :3].T
            rotate = np.kron(np.eye(2), previous_rotation)
            self.covariance = self.covariance + rotate @ step.covariance @ rotate.T
            pose_covariance = self.covariance.copy()
            linear = step.delta[:3, 3] / dt
            angular = Rotation.from_matrix(step.delta[:3, :3]).as_rotvec() / dt
            twist_covariance = step.covariance / dt**2
        else:
            pose_covariance[0, 0] = NOT_AVAILABLE
            twist_covariance[0, 0] = NOT_AVAILABLE
        return VisualOdometryEstimate(
            stamp=step.stamp,
            valid=bool(step.valid and dt > 0.0),
            position=step.pose[:3, 3].copy(),
            quaternion=Rotation.from_matrix(step.pose[:3, :3]).as_quat(),
            pose_covariance=pose_covariance,
            linear=linear,
            angular=angular,
            twist_covariance=twist_covariance,
        )
