"""Image encodings accepted by the stereo pipeline and their conversion to 8-bit grey for matching.

OpenCV's matchers take 8-bit images. Colour is matched as luminance (on Middlebury, SGBM on colour is
no better than on grey and ~50 % slower). 16-bit pairs are scaled by one factor taken from the pair's
joint maximum, so both images keep the same grey levels and 10/12-bit sensors keep their contrast.
"""

from __future__ import annotations

import cv2
import numpy as np

from rover_autonomy.perception.camera import StereoInputError

# encoding -> (channels, dtype)
ENCODINGS: dict[str, tuple[int, type]] = {
    "mono8": (1, np.uint8),
    "mono16": (1, np.uint16),
    "rgb8": (3, np.uint8),
    "bgr8": (3, np.uint8),
}


def check_image(image: np.ndarray, encoding: str, side: str) -> None:
    """Raise StereoInputError unless ``image`` is a non-empty array of ``encoding``."""
    if encoding not in ENCODINGS:
        raise StereoInputError(
            f"{side} image: unsupported encoding {encoding!r} (supported: {', '.join(ENCODINGS)})"
        )
    if image.size == 0:
        raise StereoInputError(f"{side} image is empty ({'x'.join(map(str, image.shape))})")
    channels, dtype = ENCODINGS[encoding]
    shape_ok = image.ndim == 2 if channels == 1 else (image.ndim == 3 and image.shape[2] == channels)
    if not shape_ok or image.dtype != dtype:
        raise StereoInputError(
            f"{side} image: array {image.shape} {image.dtype} does not match encoding {encoding}"
        )


def to_grey_pair(
    left: np.ndarray, right: np.ndarray, left_encoding: str, right_encoding: str
) -> tuple[np.ndarray, np.ndarray]:
    """Both images as contiguous uint8 grey, after checking that they form a pair."""
    check_image(left, left_encoding, "left")
    check_image(right, right_encoding, "right")
    if left_encoding != right_encoding:
        raise StereoInputError(f"encodings differ: left {left_encoding}, right {right_encoding}")
    if left.shape[:2] != right.shape[:2]:
        raise StereoInputError(
            f"image sizes differ: left {left.shape[1]}x{left.shape[0]}, right {right.shape[1]}x{right.shape[0]}"
        )
    if left_encoding == "mono8":
        return np.ascontiguousarray(left), np.ascontiguousarray(right)
    if left_encoding == "mono16":
        peak = max(int(left.max()), int(right.max()), 1)
        scale = 255.0 / peak
        return (
            cv2.convertScaleAbs(left, alpha=scale),
            cv2.convertScaleAbs(right, alpha=scale),
        )
    code = cv2.COLOR_RGB2GRAY if left_encoding == "rgb8" else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(left, code), cv2.cvtColor(right, code)


def to_grey(image: np.ndarray, encoding: str, side: str = "left") -> np.ndarray:
    """One image as contiguous uint8 grey, for frame-to-frame tracking.

    16-bit images are scaled by the smallest power-of-two range holding their peak (a 12-bit sensor:
    4095), not by the frame's own peak: tracking compares consecutive frames, which must keep their
    grey levels when the brightest pixel changes.
    """
    check_image(image, encoding, side)
    if encoding == "mono8":
        return np.ascontiguousarray(image)
    if encoding == "mono16":
        bits = max(int(image.max()).bit_length(), 8)
        return cv2.convertScaleAbs(image, alpha=255.0 / ((1 << bits) - 1))
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if encoding == "rgb8" else cv2.COLOR_BGR2GRAY)
