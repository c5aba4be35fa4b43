"""``stereo_processor``: a rectified (or raw) stereo pair to ``stereo/disparity`` and ``stereo/points``.

Thin ROS layer over :mod:`rover_autonomy.perception.stereo.processor`: pairs the two image streams by stamp
(:mod:`.sync`), takes the newest camera_info of each side, converts messages, and publishes a
stereo_msgs/DisparityImage (32FC1, disparities adjusted for the principal-point offset as the message
defines them, invalid pixels set below ``min_disparity``) and an x, y, z, intensity PointCloud2 in the
left optical frame, both stamped with the left image's stamp. A pair that completes before both
camera_infos have arrived waits for them (the newest such pair only). A pair it cannot use is dropped
with a throttled warning naming the problem and a diagnostics status; the next good pair clears it.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, RegionOfInterest
from stereo_msgs.msg import DisparityImage

from rover_autonomy.perception.camera import CameraCalibration, StereoInputError
from rover_autonomy.perception.stereo.matcher import DISPARITY_SCALE, shifted_disparity
from rover_autonomy.perception.stereo.parameters import NODE_NAME, PARAMETERS, check, stereo_params
from rover_autonomy.perception.stereo.points import FIELDS
from rover_autonomy.perception.stereo.processor import StereoProcessor, StereoResult
from rover_autonomy.perception.sync import SIDES, Pair, PairSynchronizer
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    array_to_image,
    image_to_array,
    points_to_pointcloud,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import OK, RoverNode, run_node

PARAMETERS = PARAMETERS  # read by ``rover-autonomy params`` to write config/stereo_processor.yaml
DEFAULT_FRAME = "stereo_left_optical_frame"
_SYNC_PARAMETERS = {"approximate_sync", "approximate_sync_tolerance_seconds", "queue_size"}


def camera_info_to_calibration(msg: CameraInfo, side: str) -> CameraCalibration:
    """The calibration arrays of a CameraInfo; raises StereoInputError naming what is unusable."""
    if msg.binning_x > 1 or msg.binning_y > 1 or msg.roi.width or msg.roi.height:
        raise StereoInputError(f"{side} camera_info: binning or a region of interest is not supported")
    return CameraCalibration.from_arrays(
        msg.width, msg.height, msg.k, msg.d, msg.r, msg.p, msg.distortion_model, side=side
    )


def _image_array(msg: Image, side: str) -> np.ndarray:
    try:
        return image_to_array(msg)
    except ConversionError as err:
        raise StereoInputError(f"{side} image: {err}") from err


class StereoProcessorNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        self._processor = StereoProcessor(stereo_params(vars(self.params)))
        self._sync = self._make_synchronizer()
        self._info: dict[str, CameraInfo | None] = dict.fromkeys(SIDES)
        self._waiting: Pair | None = None  # the newest pair that arrived before both camera_infos
        self.pairs_processed = 0
        self.pairs_dropped = 0
        self._disparity_pub = self.create_publisher(
            DisparityImage, "stereo/disparity", qos.for_topic("stereo/disparity")
        )
        self._points_pub = self.create_publisher(PointCloud2, "stereo/points", qos.for_topic("stereo/points"))
        for side in SIDES:
            image_topic, info_topic = f"stereo/{side}/image_rect", f"stereo/{side}/camera_info"
            self.create_subscription(
                Image,
                image_topic,
                lambda msg, side=side: self._on_image(side, msg),
                qos.for_topic(image_topic),
                qos_overriding_options=qos.overridable(),
            )
            self.create_subscription(
                CameraInfo,
                info_topic,
                lambda msg, side=side: self._on_camera_info(side, msg),
                qos.for_topic(info_topic),
                qos_overriding_options=qos.overridable(),
            )
        self.set_status(OK, "waiting for a stereo pair")

    # -- parameters ------------------------------------------------------------------------------
    def check_parameters(self, values: dict) -> str | None:
        return check(values)

    def on_parameters_changed(self, changed: dict) -> None:
        self._processor.configure(stereo_params(vars(self.params)))
        if _SYNC_PARAMETERS & changed.keys():
            self._sync = self._make_synchronizer()

    def _make_synchronizer(self) -> PairSynchronizer:
        slop = self.params.approximate_sync_tolerance_seconds if self.params.approximate_sync else 0.0
        return PairSynchronizer(slop=round(slop * 1e9), queue_size=self.params.queue_size)

    # -- data --------------------------------------------------------------------------------------
    def _on_image(self, side: str, msg: Image) -> None:
        pair, dropped = self._sync.add(side, stamp_to_ns(msg.header.stamp), msg)
        for drop in dropped:
            self.pairs_dropped += 1
            self.warn_throttled(
                "sync", f"dropped {drop.side} image stamped {drop.stamp / 1e9:.6f} s: {drop.reason}"
            )
        if pair is None:
            return
        missing = [f"stereo/{s}/camera_info" for s in SIDES if self._info[s] is None]
        if missing:
            # Kept until the camera_infos arrive: at start-up, or when the executor takes an image
            # before the camera_info published with it. Only the newest pair waits.
            superseded = ""
            if self._waiting is not None:
                self.pairs_dropped += 1
                superseded = (
                    f" (dropped the older waiting pair stamped {self._waiting.left_stamp / 1e9:.6f} s)"
                )
            self._waiting = pair
            self.warn_throttled(
                "input", f"pair waiting: no message received yet on {', '.join(missing)}{superseded}"
            )
            return
        self._process(pair)

    def _on_camera_info(self, side: str, msg: CameraInfo) -> None:
        self._info[side] = msg
        if self._waiting is not None and all(self._info[s] is not None for s in SIDES):
            pair, self._waiting = self._waiting, None
            self._process(pair)

    def _process(self, pair: Pair) -> None:
        try:
            disparity, points = self.process_pair(
                pair.left, pair.right, self._info["left"], self._info["right"]
            )
        except StereoInputError as err:
            self.pairs_dropped += 1
            self.warn_throttled("input", f"pair dropped: {err}")
            return
        if not self.context.ok():  # shut down (SIGTERM) while this pair was being processed
            return
        self._disparity_pub.publish(disparity)
        self._points_pub.publish(points)
        self.pairs_processed += 1
        self.set_status(
            OK,
            "processing stereo pairs",
            pairs_processed=self.pairs_processed,
            pairs_dropped=self.pairs_dropped,
            points=points.width,
        )

    def process_pair(
        self, left: Image, right: Image, left_info: CameraInfo, right_info: CameraInfo
    ) -> tuple[DisparityImage, PointCloud2]:
        """Messages of one pair in, the two output messages out; raises on unusable input."""
        result = self._processor.process(
            _image_array(left, "left"),
            _image_array(right, "right"),
            left.encoding,
            right.encoding,
            camera_info_to_calibration(left_info, "left"),
            camera_info_to_calibration(right_info, "right"),
        )
        stamp_ns = stamp_to_ns(left.header.stamp)
        frame = left.header.frame_id or DEFAULT_FRAME
        return self._disparity_message(result, stamp_ns, frame), self._points_message(result, stamp_ns, frame)

    def _disparity_message(self, result: StereoResult, stamp_ns: int, frame: str) -> DisparityImage:
        # DisparityImage disparities are net of the principal-point offset: Z = f T / d.
        offset = result.geometry.disparity_offset
        low = result.min_disparity - offset
        # "any disparity less than min_disparity is invalid"
        image = shifted_disparity(result.disparity, offset, low - 1.0, out=result.disparity)
        msg = DisparityImage()
        msg.image = array_to_image(image, "32FC1", stamp_ns, frame)
        msg.header = msg.image.header
        msg.f = result.geometry.fx
        msg.t = result.geometry.baseline
        x, y, width, height = result.valid_window
        msg.valid_window = RegionOfInterest(x_offset=x, y_offset=y, width=width, height=height)
        msg.min_disparity = low
        msg.max_disparity = result.max_disparity - offset
        msg.delta_d = 1.0 / DISPARITY_SCALE
        return msg

    @staticmethod
    def _points_message(result: StereoResult, stamp_ns: int, frame: str) -> PointCloud2:
        return points_to_pointcloud(result.points, FIELDS, stamp_ns, frame)


def main(args: list[str] | None = None) -> int:
    return run_node(StereoProcessorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
