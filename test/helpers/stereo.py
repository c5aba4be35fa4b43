"""Synthetic rectified stereo pairs with known geometry, for the stereo tests."""

from __future__ import annotations

import cv2
import numpy as np

from rover_autonomy.perception.camera import CameraCalibration


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Band-limited random texture (uint8): every window matches unambiguously."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).round().astype(np.uint8)


def plane_pair(height: int, width: int, disparity: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Left and right images of a textured fronto-parallel plane at an integer ``disparity`` [px]."""
    scene = texture(height, width + disparity, seed)
    left = scene[:, :width]  # scene column s appears at x = s in the left image ...
    right = scene[:, disparity:]  # ... and at x = s - d in the right one
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


def calibrations(
    width: int, height: int, focal: float = 400.0, baseline: float = 0.3, doffs: float = 0.0, tx: bool = True
) -> tuple[CameraCalibration, CameraCalibration]:
    """A rectified pair's calibrations; the right principal point is ``doffs`` left of the left's."""
    cx, cy = (width - 1) / 2, (height - 1) / 2

    def cal(cx_side: float, tx_value: float) -> CameraCalibration:
        k = [[focal, 0, cx_side], [0, focal, cy], [0, 0, 1]]
        p = [[focal, 0, cx_side, tx_value], [0, focal, cy, 0], [0, 0, 1, 0]]
        return CameraCalibration.from_arrays(width, height, k, np.zeros(5), np.eye(3), p)

    return cal(cx, 0.0), cal(cx - doffs, -focal * baseline if tx else 0.0)
