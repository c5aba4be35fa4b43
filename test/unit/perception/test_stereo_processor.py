"""The ROS-free stereo core: matcher on Middlebury and synthetic pairs, geometry, points, encodings."""

import cv2
import numpy as np
import pytest
from helpers.stereo import calibrations, plane_pair
from skimage import data

from rover_autonomy.perception.camera import CameraCalibration, StereoGeometry, StereoInputError
from rover_autonomy.perception.images import to_grey_pair
from rover_autonomy.perception.stereo.matcher import DisparityMatcher, MatcherParams, shifted_disparity
from rover_autonomy.perception.stereo.points import CloudParams, disparity_to_points, voxel_downsample
from rover_autonomy.perception.stereo.processor import StereoProcessor


def _scores(disparity, truth):
    valid = np.isfinite(truth)
    predicted = valid & np.isfinite(disparity)
    error = np.abs(disparity[predicted] - truth[predicted])
    return 100 * np.mean(error > 2.0), 100 * predicted.sum() / valid.sum()


@pytest.fixture(scope="module")
def motorcycle():
    left, right, truth = data.stereo_motorcycle()
    return cv2.cvtColor(left, cv2.COLOR_RGB2GRAY), cv2.cvtColor(right, cv2.COLOR_RGB2GRAY), truth


def test_middlebury_motorcycle_beats_bare_sgbm_on_error_and_density(motorcycle):
    left, right, truth = motorcycle
    reference = cv2.StereoSGBM_create(0, 64, 5, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY).compute(left, right)
    reference = np.where(reference >= 0, reference / 16.0, np.nan)
    ref_bad2, ref_density = _scores(reference, truth)
    bad2, density = _scores(DisparityMatcher().compute(left, right), truth)
    assert bad2 < ref_bad2 and density > ref_density
    assert bad2 <= 6.0 and density >= 87.0  # measured 5.0 % and 90.2 %


def test_left_right_check_removes_errors_and_left_border_matching_adds_density(motorcycle):
    left, right, truth = motorcycle
    bad2, density = _scores(DisparityMatcher().compute(left, right), truth)
    checked_bad2, checked_density = _scores(
        DisparityMatcher(MatcherParams(lr_check=True)).compute(left, right), truth
    )
    assert checked_bad2 < bad2 - 0.5 and checked_density < density
    unpadded = DisparityMatcher(MatcherParams(match_left_border=False)).compute(left, right)
    assert np.isnan(unpadded[:, :60]).all()
    assert _scores(unpadded, truth)[1] < density - 3.0


@pytest.mark.parametrize("algorithm", [0, 1])
@pytest.mark.parametrize("true_disparity", [8, 23, 40])
def test_plane_disparity_is_exact_in_the_valid_window(algorithm, true_disparity):
    left, right = plane_pair(120, 200, true_disparity, seed=true_disparity)
    matcher = DisparityMatcher(MatcherParams(stereo_algorithm=algorithm, correlation_window_size=7))
    disparity = matcher.compute(left, right)
    x, y, w, h = matcher.valid_window(200, 120)
    window = disparity[
        y : y + h, max(x, true_disparity) : x + w
    ]  # columns left of d see outside the right image
    assert np.mean(np.isfinite(window)) > 0.95
    assert np.nanmedian(np.abs(window - true_disparity)) < 0.1


def test_geometry_from_projection_matrices_and_fallback_baseline():
    left, right = calibrations(64, 48, focal=500.0, baseline=0.25, doffs=3.0)
    geometry = StereoGeometry.from_calibrations(left, right)
    assert geometry.baseline == pytest.approx(0.25) and geometry.disparity_offset == pytest.approx(3.0)
    assert geometry.depth(3.0 + 12.5) == pytest.approx(500 * 0.25 / 12.5)
    no_tx = calibrations(64, 48, tx=False)
    assert StereoGeometry.from_calibrations(*no_tx, fallback_baseline=0.12).baseline == 0.12
    with pytest.raises(StereoInputError, match="zero or negative baseline"):
        StereoGeometry.from_calibrations(*no_tx)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("P", np.zeros(12), "no focal length"),
        ("K", [np.nan] * 9, "K contains NaN"),
        ("D", [0.1, np.inf], "D contains"),
    ],
)
def test_unusable_calibration_is_named(field, value, message):
    fields = {
        "K": np.eye(3),
        "D": np.zeros(5),
        "R": np.eye(3),
        "P": [[400, 0, 32, 0], [0, 400, 24, 0], [0, 0, 1, 0]],
    }
    fields[field] = value
    with pytest.raises(StereoInputError, match=message):
        CameraCalibration.from_arrays(64, 48, side="left", **fields)


def test_points_of_a_plane_lie_at_its_depth_with_stride_range_and_voxels():
    width, height, d = 160, 120, 20
    left, right = plane_pair(height, width, d)
    cal_left, cal_right = calibrations(width, height, focal=400.0, baseline=0.3, doffs=2.0)
    # the scene disparity d is measured between principal points doffs apart: depth = f B / (d - doffs)
    result = StereoProcessor().process(left, right, "mono8", "mono8", cal_left, cal_right)
    depth = 400.0 * 0.3 / (d - 2.0)
    points = result.points
    assert len(points) > 0.8 * width * height * 0.8
    assert np.median(np.abs(points[:, 2] - depth)) < 0.01 * depth
    geometry = result.geometry
    u = points[:, 0] * geometry.fx / points[:, 2] + geometry.cx  # reprojects onto the pixel grid
    assert np.allclose(u, np.round(u), atol=1e-3)
    assert np.all((points[:, 3] >= 0) & (points[:, 3] <= 255))

    strided = disparity_to_points(result.disparity, left, geometry, CloudParams(point_stride=2))
    assert abs(len(strided) - len(points) / 4) < 0.05 * len(points)
    assert len(
        disparity_to_points(result.disparity, left, geometry, CloudParams(max_depth=depth - 0.5))
    ) < 0.05 * len(points)
    assert len(
        disparity_to_points(result.disparity, left, geometry, CloudParams(min_depth=depth + 0.5))
    ) < 0.05 * len(points)


def test_voxel_downsample_keeps_one_centroid_per_voxel():
    points = np.array(
        [[0.01, 0.01, 1.01, 10], [0.03, 0.02, 1.03, 30], [0.31, 0.0, 1.0, 5], [-0.01, 0.0, 1.0, 7]],
        np.float32,
    )
    out = voxel_downsample(points, 0.1)
    assert len(out) == 3
    pair = out[np.isclose(out[:, 3], 20.0)]
    assert np.allclose(pair, [[0.02, 0.015, 1.02, 20.0]], atol=1e-6)


@pytest.mark.parametrize("encoding", ["mono8", "mono16", "rgb8", "bgr8"])
def test_every_encoding_gives_the_same_disparity(encoding):
    left, right = plane_pair(96, 160, 16, seed=3)
    if encoding == "mono16":
        images = [image.astype(np.uint16) * 16 for image in (left, right)]  # a 12-bit sensor
    elif encoding in ("rgb8", "bgr8"):
        images = [np.repeat(image[:, :, None], 3, axis=2) for image in (left, right)]
    else:
        images = [left, right]
    grey = to_grey_pair(*images, encoding, encoding)
    assert np.abs(grey[0].astype(int) - left).max() <= 1
    cal_left, cal_right = calibrations(160, 96)
    result = StereoProcessor().process(*images, encoding, encoding, cal_left, cal_right)
    assert np.nanmedian(result.disparity[:, 20:]) == pytest.approx(16.0, abs=0.1)


@pytest.mark.parametrize(
    ("left", "right", "encodings", "message"),
    [
        (
            np.zeros((48, 64), np.uint8),
            np.zeros((48, 60), np.uint8),
            ("mono8", "mono8"),
            "image sizes differ",
        ),
        (
            np.zeros((48, 64), np.uint8),
            np.zeros((48, 64, 3), np.uint8),
            ("mono8", "rgb8"),
            "encodings differ",
        ),
        (
            np.zeros((48, 64), np.uint8),
            np.zeros((48, 64), np.uint8),
            ("yuv422", "yuv422"),
            "unsupported encoding",
        ),
        (np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8), ("mono8", "mono8"), "left image is empty"),
        (
            np.zeros((48, 64), np.uint16),
            np.zeros((48, 64), np.uint8),
            ("mono8", "mono8"),
            "does not match encoding",
        ),
    ],
)
def test_bad_pairs_are_named(left, right, encodings, message):
    with pytest.raises(StereoInputError, match=message):
        to_grey_pair(left, right, *encodings)


def test_images_must_match_camera_info_size():
    left, right = plane_pair(48, 64, 8)
    with pytest.raises(StereoInputError, match="camera_info says 80x48"):
        StereoProcessor().process(left, right, "mono8", "mono8", *calibrations(80, 48))


def test_parameters_are_validated_and_changed_at_run_time():
    processor = StereoProcessor()
    with pytest.raises(ValueError, match="multiple of 16"):
        processor.update(disparity_range=40)
    with pytest.raises(ValueError, match="P1 < P2"):
        processor.update(P1=300, P2=200)
    assert processor.params.matcher.disparity_range == 64  # unchanged after a refused update
    processor.update(disparity_range=32, max_depth=5.0)
    assert processor.params.matcher.disparity_range == 32 and processor.params.cloud.max_depth == 5.0


def test_shifted_disparity_marks_invalid_below_the_minimum():
    disparity = np.array([[10.0, np.nan]], np.float32)
    out = shifted_disparity(disparity, 2.0, -3.0)
    assert out.tolist() == [[8.0, -3.0]]
    shifted_disparity(disparity, 2.0, -3.0, out=disparity)
    assert disparity.tolist() == [[8.0, -3.0]]


def test_raw_images_are_rectified_from_camera_info_before_matching():
    width, height, d = 200, 150, 12
    rect_left, rect_right = plane_pair(height, width, d, seed=5)
    distortion = np.array([-0.2, 0.05, 0.0, 0.0, 0.0])
    rectified_cals = calibrations(width, height, focal=220.0)
    raw_cals = []
    raw_images = []
    for cal, image in zip(rectified_cals, (rect_left, rect_right), strict=True):
        raw_cal = CameraCalibration.from_arrays(width, height, cal.K, distortion, cal.R, cal.P)
        # raw image: sample the rectified image where each raw pixel lands after rectification
        v, u = np.mgrid[0:height, 0:width].astype(np.float32)
        raw_pixels = np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2)
        lands = cv2.undistortPoints(raw_pixels, cal.K, distortion, R=cal.R, P=cal.P[:3, :3]).reshape(
            height, width, 2
        )
        raw_images.append(cv2.remap(image, lands[..., 0], lands[..., 1], cv2.INTER_LINEAR))
        raw_cals.append(raw_cal)
    processor = StereoProcessor()
    unrectified = processor.process(*raw_images, "mono8", "mono8", *raw_cals).disparity
    processor.update(rectify=True)
    rectified = processor.process(*raw_images, "mono8", "mono8", *raw_cals).disparity
    centre = np.s_[30:120, 40:180]
    corner = np.s_[5:40, 150:195]
    assert np.nanmedian(np.abs(rectified[centre] - d)) < 0.25
    # distortion bends the image corners off the epipolar lines: raw matching fails there
    assert np.nanmedian(np.abs(rectified[corner] - d)) < 0.5
    assert np.mean(np.abs(rectified[corner] - d) < 1) > np.mean(np.abs(unrectified[corner] - d) < 1) + 0.2


def test_output_is_identical_whatever_the_thread_count(motorcycle):
    left, right, _ = motorcycle
    threads = cv2.getNumThreads()
    cal_left, cal_right = calibrations(left.shape[1], left.shape[0], focal=1000.0, baseline=0.19, doffs=31.0)
    results = []
    try:
        for count in (1, 2, 4):
            cv2.setNumThreads(count)
            processor = StereoProcessor()
            processor.update(lr_check=True)
            results.append(processor.process(left, right, "mono8", "mono8", cal_left, cal_right))
    finally:
        cv2.setNumThreads(threads)
    for other in results[1:]:
        assert np.array_equal(results[0].disparity, other.disparity, equal_nan=True)
        assert np.array_equal(results[0].points, other.points)


@pytest.mark.parametrize(("shape", "algorithm"), [((3, 3), 1), ((8, 8), 0), ((1, 1), 1)])
def test_images_smaller_than_the_window_are_refused_not_crashed_on(shape, algorithm):
    matcher = DisparityMatcher(MatcherParams(stereo_algorithm=algorithm, correlation_window_size=9))
    with pytest.raises(StereoInputError, match="smaller than the correlation window"):
        matcher.compute(np.zeros(shape, np.uint8), np.zeros(shape, np.uint8))
