"""Rectification of raw images from CameraInfo (D, R, P), for cameras without an image_proc stage.

The maps of ``cv2.initUndistortRectifyMap`` (``cv2.fisheye`` for the ``equidistant`` model) depend only
on the calibration, so they are built once per calibration and reused (fixed-point maps for a fast
``cv2.remap``).
"""

from __future__ import annotations

import cv2
import numpy as np

from rover_autonomy.perception.camera import CameraCalibration, StereoInputError

_PINHOLE_MODELS = {"plumb_bob", "rational_polynomial", ""}


def _maps(cal: CameraCalibration) -> tuple[np.ndarray, np.ndarray]:
    size = (cal.width, cal.height)
    new_k = cal.P[:3, :3]
    if cal.distortion_model == "equidistant":
        if len(cal.D) < 4:
            raise StereoInputError(f"equidistant model needs 4 distortion coefficients, got {len(cal.D)}")
        return cv2.fisheye.initUndistortRectifyMap(cal.K, cal.D[:4], cal.R, new_k, size, cv2.CV_16SC2)
    if cal.distortion_model not in _PINHOLE_MODELS:
        raise StereoInputError(f"unsupported distortion model {cal.distortion_model!r}")
    return cv2.initUndistortRectifyMap(cal.K, cal.D, cal.R, new_k, size, cv2.CV_16SC2)


def _key(cal: CameraCalibration) -> tuple:
    return (
        cal.width,
        cal.height,
        cal.distortion_model,
        cal.K.tobytes(),
        cal.D.tobytes(),
        cal.R.tobytes(),
        cal.P.tobytes(),
    )


class Rectifier:
    """Remaps raw images into the rectified frame of their CameraInfo; maps cached per calibration."""

    def __init__(self):
        self._cache: dict[str, tuple[tuple, tuple[np.ndarray, np.ndarray]]] = {}

    def rectify(self, image: np.ndarray, cal: CameraCalibration, side: str) -> np.ndarray:
        """``image`` (raw, of ``cal``'s size) resampled bilinearly into the rectified image."""
        if image.shape[:2] != (cal.height, cal.width):
            raise StereoInputError(
                f"{side} image is {image.shape[1]}x{image.shape[0]} but its camera_info is {cal.width}x{cal.height}"
            )
        key = _key(cal)
        cached = self._cache.get(side)
        if cached is None or cached[0] != key:
            cached = (key, _maps(cal))
            self._cache[side] = cached
        map1, map2 = cached[1]
        return cv2.remap(image, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
