"""stereo_processor over real DDS: outputs, synchronisation, run-time parameters and bad input."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from helpers.stereo import calibrations, plane_pair
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from rover_autonomy.perception.stereo.node import StereoProcessorNode
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    array_to_image,
    image_to_array,
    ns_to_stamp,
    pointcloud_to_arrays,
)

WIDTH, HEIGHT, DISPARITY = 160, 120, 16
FOCAL, BASELINE, DOFFS = 200.0, 0.3, 2.0
MS = 1_000_000


def camera_info(cal, stamp_ns=0, frame="stereo_left_optical_frame"):
    msg = CameraInfo(width=cal.width, height=cal.height, distortion_model="plumb_bob")
    msg.d = cal.D.tolist()
    msg.k, msg.r, msg.p = cal.K.ravel(), cal.R.ravel(), cal.P.ravel()
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp_ns), frame
    return msg


class StereoRig:
    """A test node publishing stereo pairs to stereo_processor and collecting what it publishes."""

    def __init__(self, ros, **parameters):
        self.ros = ros
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        self.node = ros.node(StereoProcessorNode(context=ros.context, parameter_overrides=overrides))
        self.io = ros.node("stereo_rig")
        self.pub = {}
        for side in ("left", "right"):
            for kind, type_ in (("image_rect", Image), ("camera_info", CameraInfo)):
                topic = f"stereo/{side}/{kind}"
                self.pub[topic] = self.io.create_publisher(type_, topic, qos.for_topic(topic))
        self.disparities, self.clouds, self.statuses = [], [], []
        self.io.create_subscription(
            DisparityImage, "stereo/disparity", self.disparities.append, qos.for_topic("stereo/disparity")
        )
        self.io.create_subscription(
            PointCloud2, "stereo/points", self.clouds.append, qos.for_topic("stereo/points")
        )
        self.io.create_subscription(
            DiagnosticArray,
            "diagnostics",
            lambda msg: self.statuses.extend(s for s in msg.status if s.name == "stereo_processor"),
            qos.profile("diagnostics"),
        )
        assert ros.spin_until(
            lambda: (
                all(p.get_subscription_count() >= 1 for p in self.pub.values())
                and self.node.count_subscribers("stereo/disparity") >= 1
                and self.node.count_subscribers("stereo/points") >= 1
            )
        )
        self.cal_left, self.cal_right = calibrations(WIDTH, HEIGHT, FOCAL, BASELINE, DOFFS)
        self.left, self.right = plane_pair(HEIGHT, WIDTH, DISPARITY)

    def send_infos(self, left=None, right=None):
        left = left or camera_info(self.cal_left)
        right = right or camera_info(self.cal_right, frame="stereo_right_optical_frame")
        self.pub["stereo/left/camera_info"].publish(left)
        self.pub["stereo/right/camera_info"].publish(right)
        assert self.ros.spin_until(
            lambda: all(
                info is not None
                and np.array_equal(info.p, sent.p, equal_nan=True)
                and np.array_equal(info.k, sent.k, equal_nan=True)
                for info, sent in ((self.node._info["left"], left), (self.node._info["right"], right))
            ),
        )

    def send_pair(self, stamp_ns, left=None, right=None, right_stamp_ns=None):
        left = left or array_to_image(self.left, "mono8", stamp_ns, "stereo_left_optical_frame")
        right = right or array_to_image(self.right, "mono8", stamp_ns, "stereo_right_optical_frame")
        left.header.stamp = ns_to_stamp(stamp_ns)
        right.header.stamp = ns_to_stamp(stamp_ns if right_stamp_ns is None else right_stamp_ns)
        self.pub["stereo/left/image_rect"].publish(left)
        self.pub["stereo/right/image_rect"].publish(right)

    def wait_outputs(self, count, timeout=10.0):
        return self.ros.spin_until(
            lambda: len(self.disparities) >= count and len(self.clouds) >= count, timeout=timeout
        )

    def wait_status(self, level, text, timeout=5.0):
        return self.ros.spin_until(
            lambda: any(s.level == level and text in s.message for s in self.statuses), timeout=timeout
        )


def test_pair_in_disparity_and_points_out(ros):
    rig = StereoRig(ros)
    rig.send_infos()
    rig.send_pair(5 * 10**9 + 123)
    assert rig.wait_outputs(1)
    disparity, cloud = rig.disparities[0], rig.clouds[0]
    assert disparity.header.stamp.sec == 5 and disparity.header.stamp.nanosec == 123
    assert disparity.header.frame_id == cloud.header.frame_id == "stereo_left_optical_frame"
    assert disparity.image.encoding == "32FC1"
    assert disparity.f == pytest.approx(FOCAL) and disparity.t == pytest.approx(BASELINE)
    # disparities net of the principal-point offset, invalid below min_disparity
    assert disparity.min_disparity == pytest.approx(-DOFFS) and disparity.max_disparity == pytest.approx(
        63 - DOFFS
    )
    image = image_to_array(disparity.image)
    window = disparity.valid_window
    inside = image[window.y_offset : window.y_offset + window.height, 20 : window.x_offset + window.width]
    assert np.median(inside) == pytest.approx(DISPARITY - DOFFS, abs=0.1)
    assert np.mean(inside >= disparity.min_disparity) > 0.95

    points = pointcloud_to_arrays(cloud, ("x", "y", "z", "intensity"))
    depth = FOCAL * BASELINE / (DISPARITY - DOFFS)
    assert cloud.width > 0.7 * WIDTH * HEIGHT
    assert np.median(np.abs(points["z"] - depth)) < 0.01 * depth
    assert points["intensity"].max() <= 255 and points["intensity"].min() >= 0
    assert rig.wait_status(DiagnosticStatus.OK, "processing stereo pairs")


def test_approximate_sync_pairs_within_the_slop(ros):
    rig = StereoRig(ros, approximate_sync=True, approximate_sync_tolerance_seconds=0.005)
    rig.send_infos()
    rig.send_pair(10**9, right_stamp_ns=10**9 + 3 * MS)
    assert rig.wait_outputs(1)
    assert rig.disparities[0].header.stamp.nanosec == 0  # stamped with the left image


def test_parameters_change_at_run_time_and_bad_values_are_refused(ros):
    rig = StereoRig(ros)
    client = rig.io.create_client(SetParameters, "/stereo_processor/set_parameters")
    assert ros.spin_until(client.service_is_ready)

    def set_parameter(name, value):
        if isinstance(value, float):
            typed = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        else:
            typed = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        future = client.call_async(SetParameters.Request(parameters=[ParameterMsg(name=name, value=typed)]))
        assert ros.spin_until(future.done)
        return future.result().results[0]

    assert set_parameter("disparity_range", 32).successful
    assert not set_parameter("disparity_range", 40).successful  # step 16
    assert not set_parameter("correlation_window_size", 6).successful  # odd only
    refused = set_parameter("P1", 500.0)  # P2 defaults to 200
    assert not refused.successful and "P1 < P2" in refused.reason
    rig.send_infos()
    rig.send_pair(10**9)
    assert rig.wait_outputs(1)
    assert rig.disparities[0].max_disparity == pytest.approx(31 - DOFFS)


def _good_then(rig, bad):
    """Send a bad pair (via ``bad``), check it is dropped and named, then check recovery."""
    rig.send_infos()
    rig.send_pair(10**9)
    assert rig.wait_outputs(1)
    expected = bad(rig)
    assert rig.wait_status(DiagnosticStatus.WARN, expected), [s.message for s in rig.statuses]
    assert len(rig.disparities) == 1 and len(rig.clouds) == 1  # the bad pair produced nothing
    assert rig.node.pairs_dropped >= 1
    rig.statuses.clear()
    rig.send_infos()
    rig.send_pair(9 * 10**9)
    assert rig.wait_outputs(2)
    assert rig.wait_status(DiagnosticStatus.OK, "processing stereo pairs")


def _mismatched_sizes(rig):
    right = array_to_image(rig.right[:100], "mono8")
    rig.send_pair(2 * 10**9, right=right)
    return "image sizes differ"


def _mismatched_encodings(rig):
    right = array_to_image(np.repeat(rig.right[:, :, None], 3, axis=2), "rgb8")
    rig.send_pair(2 * 10**9, right=right)
    return "encodings differ: left mono8, right rgb8"


def _unsupported_encoding(rig):
    disparity = rig.left.astype(np.float32)
    rig.send_pair(2 * 10**9, array_to_image(disparity, "32FC1"), array_to_image(disparity, "32FC1"))
    return "unsupported encoding '32FC1'"


def _empty_images(rig):
    rig.send_pair(2 * 10**9, Image(encoding="mono8"), Image(encoding="mono8"))
    return "left image: empty image (0x0)"


def _zero_camera_info(rig):
    rig.send_infos(left=CameraInfo())
    rig.send_pair(2 * 10**9)
    return "left camera_info: projection matrix P has no focal length"


def _nan_camera_info(rig):
    info = camera_info(rig.cal_right)
    info.k[0] = math.nan
    rig.send_infos(right=info)
    rig.send_pair(2 * 10**9)
    return "right camera_info: K contains NaN"


def _zero_baseline(rig):
    info = camera_info(rig.cal_right)
    info.p[3] = 0.0
    rig.send_infos(right=info)
    rig.send_pair(2 * 10**9)
    return "zero or negative baseline"


def _beyond_slop(rig):
    rig.send_pair(2 * 10**9, right_stamp_ns=2 * 10**9 + 20 * MS)
    return "no partner within the slop of 0.005 s"


@pytest.mark.parametrize(
    "bad",
    [
        _mismatched_sizes,
        _mismatched_encodings,
        _unsupported_encoding,
        _empty_images,
        _zero_camera_info,
        _nan_camera_info,
        _zero_baseline,
        _beyond_slop,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_bad_input_is_dropped_named_and_recovered_from(ros, bad):
    rig = StereoRig(ros, approximate_sync=True, approximate_sync_tolerance_seconds=0.005)
    _good_then(rig, bad)


def test_pair_waits_for_missing_camera_info(ros):
    rig = StereoRig(ros)
    rig.send_pair(10**9)
    rig.send_pair(2 * 10**9)  # supersedes the first while both wait
    assert rig.wait_status(DiagnosticStatus.WARN, "no message received yet on stereo/left/camera_info")
    assert not rig.disparities and rig.node.pairs_dropped == 1
    rig.send_infos()  # the newest waiting pair is processed as soon as both are in
    assert rig.wait_outputs(1)
    assert rig.disparities[0].header.stamp.sec == 2
    assert rig.wait_status(DiagnosticStatus.OK, "processing stereo pairs")
