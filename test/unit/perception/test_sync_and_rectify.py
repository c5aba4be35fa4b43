"""Stereo pair synchronisation by stamp, and rectification of raw images from CameraInfo."""

import cv2
import numpy as np
import pytest

from rover_autonomy.perception.camera import CameraCalibration, StereoInputError
from rover_autonomy.perception.rectify import Rectifier
from rover_autonomy.perception.sync import PairSynchronizer

MS = 1_000_000


def test_exact_sync_pairs_equal_stamps_only():
    sync = PairSynchronizer(slop=0)
    assert sync.add("left", 100 * MS, "L1") == (None, [])
    pair, dropped = sync.add("right", 100 * MS, "R1")
    assert (pair.left, pair.right, pair.left_stamp) == ("L1", "R1", 100 * MS) and dropped == []
    assert sync.add("left", 200 * MS, "L2")[0] is None
    pair, dropped = sync.add("right", 201 * MS, "R2")
    assert pair is None
    assert [(d.side, d.stamp) for d in dropped] == [("left", 200 * MS)]
    assert "slop of 0 s" in dropped[0].reason


def test_approximate_sync_pairs_nearest_within_slop_and_drops_the_rest():
    sync = PairSynchronizer(slop=5 * MS)
    sync.add("left", 100 * MS, "L1")
    pair, _ = sync.add("right", 103 * MS, "R1")
    assert (pair.left, pair.right, pair.right_stamp) == ("L1", "R1", 103 * MS)
    sync.add("right", 200 * MS, "R2")
    sync.add("right", 300 * MS, "R3")
    pair, dropped = sync.add("left", 299 * MS, "L3")
    assert (pair.left, pair.right) == ("L3", "R3")
    assert [(d.side, d.stamp, d.reason) for d in dropped] == [
        ("right", 200 * MS, "superseded by a newer pair")
    ]
    _, dropped = sync.add("left", 400 * MS, "L4")  # beyond the slop of anything queued
    pair, dropped = sync.add("right", 420 * MS, "R4")
    assert pair is None and [(d.side, d.stamp) for d in dropped] == [("left", 400 * MS)]


def test_queue_is_bounded_and_tolerates_out_of_order_arrival():
    sync = PairSynchronizer(slop=0, queue_size=2)
    sync.add("left", 3 * MS, "L3")
    sync.add("left", 1 * MS, "L1")
    _, dropped = sync.add("left", 2 * MS, "L2")
    assert [d.stamp for d in dropped] == [1 * MS] and "queue full" in dropped[0].reason
    pair, _ = sync.add("right", 2 * MS, "R2")
    assert (pair.left, pair.right) == ("L2", "R2")
    pair, _ = sync.add("right", 3 * MS, "R3")
    assert (pair.left, pair.right) == ("L3", "R3")
    with pytest.raises(ValueError):
        PairSynchronizer(slop=-1)


def _calibration(distortion, rotation=None):
    k = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    p = np.hstack([[[280.0, 0, 158], [0, 280.0, 121], [0, 0, 1]], np.zeros((3, 1))])
    rotation = np.eye(3) if rotation is None else rotation
    return CameraCalibration.from_arrays(320, 240, k, distortion, rotation, p)


def test_rectification_moves_a_raw_pixel_where_undistort_points_says():
    rotation = cv2.Rodrigues(np.array([0.0, 0.02, 0.01]))[0]
    cal = _calibration(np.array([-0.25, 0.08, 0.001, -0.0005, 0.0]), rotation)
    raw_point = np.array([296.0, 30.0])
    v, u = np.mgrid[0:240, 0:320]
    raw = (255 * np.exp(-((u - raw_point[0]) ** 2 + (v - raw_point[1]) ** 2) / (2 * 2.0**2))).astype(np.uint8)
    rectifier = Rectifier()
    rectified = rectifier.rectify(raw, cal, "left").astype(np.float64)
    expected = cv2.undistortPoints(raw_point.reshape(1, 1, 2), cal.K, cal.D, R=cal.R, P=cal.P[:3, :3]).ravel()
    rv, ru = np.mgrid[0:240, 0:320]
    centroid = np.array([(ru * rectified).sum(), (rv * rectified).sum()]) / rectified.sum()
    assert np.linalg.norm(centroid - expected) < 0.3
    assert np.linalg.norm(expected - raw_point) > 5.0  # the test means something: the point moved


def test_rectification_maps_are_cached_per_calibration():
    rectifier = Rectifier()
    image = np.full((240, 320), 128, np.uint8)
    plain = _calibration(np.zeros(5))
    rectifier.rectify(image, plain, "left")
    maps = rectifier._cache["left"][1]
    rectifier.rectify(image, plain, "left")
    assert rectifier._cache["left"][1] is maps
    rectifier.rectify(image, _calibration(np.array([-0.1, 0, 0, 0, 0])), "left")
    assert rectifier._cache["left"][1] is not maps
    with pytest.raises(StereoInputError, match="320x240"):
        rectifier.rectify(np.zeros((10, 10), np.uint8), plain, "left")
