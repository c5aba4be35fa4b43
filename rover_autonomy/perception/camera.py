"""Stereo camera model from ROS CameraInfo fields (K, D, R, P), as plain arrays.

Follows the conventions of sensor_msgs/CameraInfo and image_geometry.StereoCameraModel: both rectified
cameras share the left's focal lengths and principal row; the right projection matrix carries the
baseline in its fourth column, ``P_right[0, 3] = Tx = -fx * B``. Drivers that leave Tx at zero
(Gazebo's cameras do) get the baseline from a parameter instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class StereoInputError(ValueError):
    """A stereo pair or its calibration cannot be processed; the message names the problem."""


@dataclass(frozen=True)
class CameraCalibration:
    """One camera's CameraInfo calibration, as arrays."""

    width: int  # [px]
    height: int  # [px]
    K: np.ndarray  # (3, 3) intrinsics of the raw image
    D: np.ndarray  # (n,) distortion coefficients
    R: np.ndarray  # (3, 3) rectification rotation
    P: np.ndarray  # (3, 4) projection of the rectified image
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_arrays(
        cls,
        width: int,
        height: int,
        K,
        D,
        R,
        P,
        distortion_model: str = "plumb_bob",
        side: str = "camera",
    ) -> CameraCalibration:
        """Validate and build; raises StereoInputError naming the side and the field."""
        k = np.asarray(K, dtype=np.float64).reshape(3, 3)
        d = np.asarray(D, dtype=np.float64).ravel()
        r = np.asarray(R, dtype=np.float64).reshape(3, 3)
        p = np.asarray(P, dtype=np.float64).reshape(3, 4)
        for name, arr in (("K", k), ("D", d), ("R", r), ("P", p)):
            if not np.all(np.isfinite(arr)):
                raise StereoInputError(f"{side} camera_info: {name} contains NaN or infinity")
        if p[0, 0] <= 0 or p[1, 1] <= 0 or p[2, 2] == 0:
            raise StereoInputError(
                f"{side} camera_info: projection matrix P has no focal length (all-zero camera_info?)"
            )
        if width <= 0 or height <= 0:
            raise StereoInputError(f"{side} camera_info: image size {width}x{height} is empty")
        return cls(int(width), int(height), k, d, r, p, distortion_model or "plumb_bob")


@dataclass(frozen=True)
class StereoGeometry:
    """What projection of a rectified pair needs: the left camera and the baseline."""

    width: int  # [px]
    height: int  # [px]
    fx: float  # [px]
    fy: float  # [px]
    cx: float  # [px] left principal point
    cy: float  # [px]
    cx_right: float  # [px] right principal point (differs from cx for verged/shifted rectification)
    baseline: float  # [m] distance between the optical centres, > 0

    @property
    def disparity_offset(self) -> float:
        """[px] disparity of a point at infinity: cx - cx_right."""
        return self.cx - self.cx_right

    def depth(self, disparity):
        """[m] depth along the optical axis for a disparity [px]."""
        with np.errstate(divide="ignore"):  # zero disparity: infinitely far
            return self.fx * self.baseline / (np.asarray(disparity) - self.disparity_offset)

    @classmethod
    def from_calibrations(
        cls, left: CameraCalibration, right: CameraCalibration, fallback_baseline: float = 0.0
    ) -> StereoGeometry:
        """Geometry of a rectified pair; baseline from ``-P_right[0,3] / fx`` or ``fallback_baseline``."""
        if (left.width, left.height) != (right.width, right.height):
            raise StereoInputError(
                f"camera_info sizes differ: left {left.width}x{left.height}, "
                f"right {right.width}x{right.height}"
            )
        fx = float(left.P[0, 0])
        tx = float(right.P[0, 3])
        baseline = -tx / fx if tx != 0.0 else float(fallback_baseline)
        if not np.isfinite(baseline) or baseline <= 0.0:
            raise StereoInputError(
                f"zero or negative baseline ({baseline:g} m): right P[0,3] is {tx:g} and "
                f"the baseline parameter is {fallback_baseline:g}"
            )
        return cls(
            width=left.width,
            height=left.height,
            fx=fx,
            fy=float(left.P[1, 1]),
            cx=float(left.P[0, 2]),
            cy=float(left.P[1, 2]),
            cx_right=float(right.P[0, 2]),
            baseline=baseline,
        )
