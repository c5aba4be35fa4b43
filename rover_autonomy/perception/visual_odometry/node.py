"""visual_odometry: the left image and stereo/disparity -> visual_odometry/odom (slip-independent motion).

Thin ROS layer over :mod:`rover_autonomy.perception.visual_odometry.estimator`: pairs ``stereo/left/image_rect``
with ``stereo/disparity`` by equal stamps, takes the newest ``stereo/left/camera_info``, and publishes
one nav_msgs/Odometry per processed frame, stamped with the frame's stamp, in ``visual_odom`` (where
visual odometry started). A frame whose motion was not measured keeps the pose and carries
``covariance[0] = -1`` in pose and twist (:mod:`.track`). Bad input is dropped with a throttled
warning naming it and a diagnostics status; stamps going back (a simulation reset) restart the chain.
A frame the core raises on (an OpenCV error on pathological input) is published unmeasured, with a
warning: the node keeps serving, and the next frame's step is unmeasured too (the core forgets its
previous frame), so no motion across the failure is ever integrated.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

from rover_autonomy.perception.camera import StereoGeometry, StereoInputError
from rover_autonomy.perception.images import ENCODINGS, to_grey
from rover_autonomy.perception.stereo.node import camera_info_to_calibration
from rover_autonomy.perception.sync import SIDES, Pair, PairSynchronizer
from rover_autonomy.perception.visual_odometry.estimator import StereoVisualOdometry, VisualStep
from rover_autonomy.perception.visual_odometry.parameters import NODE_NAME, PARAMETERS, check, config_from
from rover_autonomy.perception.visual_odometry.track import VisualOdometryEstimate, VisualOdometryTrack
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import (
    ConversionError,
    estimate_to_odometry,
    image_to_array,
    stamp_to_ns,
)
from rover_autonomy.ros_common.node_base import OK, WARN, RoverNode, run_node

PARAMETERS = PARAMETERS  # read by ``rover-autonomy params`` to write config/visual_odometry.yaml
IMAGE, DISPARITY = SIDES  # the synchroniser's two streams
IMAGE_TOPIC, INFO_TOPIC, DISPARITY_TOPIC = (
    "stereo/left/image_rect",
    "stereo/left/camera_info",
    "stereo/disparity",
)
ODOM_TOPIC = "visual_odometry/odom"
_STREAM_NAMES = {IMAGE: "image", DISPARITY: "disparity"}


def frame_arrays(image: Image, disparity: DisparityImage) -> tuple[np.ndarray, np.ndarray]:
    """Grey uint8 left image and float disparity [px] (NaN where invalid); raises StereoInputError."""
    if image.encoding not in ENCODINGS:  # before image_to_array, whose list includes 32FC1
        raise StereoInputError(
            f"left image: unsupported encoding {image.encoding!r} (supported: {', '.join(ENCODINGS)})"
        )
    try:
        grey = to_grey(image_to_array(image), image.encoding, "left")
    except ConversionError as err:
        raise StereoInputError(f"left image: {err}") from err
    if disparity.image.encoding != "32FC1":
        raise StereoInputError(f"disparity image: encoding {disparity.image.encoding!r}, expected 32FC1")
    try:
        values = image_to_array(disparity.image)
    except ConversionError as err:
        raise StereoInputError(f"disparity image: {err}") from err
    if values.shape != grey.shape:
        raise StereoInputError(
            f"sizes differ: left image {grey.shape[1]}x{grey.shape[0]}, "
            f"disparity {values.shape[1]}x{values.shape[0]}"
        )
    # "any disparity less than min_disparity is invalid" (stereo_msgs/DisparityImage)
    return grey, np.where(values >= disparity.min_disparity, values, np.nan).astype(np.float32)


def frame_geometry(info: CameraInfo, disparity: DisparityImage, shape: tuple[int, int]) -> StereoGeometry:
    """Projection from the left camera_info's P; depth f·T/d as the disparity message defines it."""
    calibration = camera_info_to_calibration(info, "left")
    if (calibration.height, calibration.width) != shape:
        raise StereoInputError(
            f"left camera_info is {calibration.width}x{calibration.height}, the image {shape[1]}x{shape[0]}"
        )
    if not (np.isfinite(disparity.f) and np.isfinite(disparity.t) and disparity.f > 0 and disparity.t > 0):
        raise StereoInputError(f"disparity f = {disparity.f:g}, t = {disparity.t:g}: both must be positive")
    fx = float(calibration.P[0, 0])
    cx = float(calibration.P[0, 2])
    return StereoGeometry(
        width=calibration.width,
        height=calibration.height,
        fx=fx,
        fy=float(calibration.P[1, 1]),
        cx=cx,
        cy=float(calibration.P[1, 2]),
        cx_right=cx,  # DisparityImage disparities are already net of the principal-point offset
        baseline=float(disparity.f) * float(disparity.t) / fx,  # so that fx·baseline = f·T
    )


class VisualOdometryNode(RoverNode):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, PARAMETERS, **kwargs)
        problem = check(vars(self.params))
        if problem:
            raise ValueError(problem)
        model = self.rover
        self._camera_to_base = model.stereo.camera_to_base("left")
        self._footprint = np.vstack([model.body.footprint, model.nominal_wheel_centres()[:, :2]])
        self._odometry: StereoVisualOdometry | None = None  # built from the first frame's geometry
        self._track = VisualOdometryTrack()
        self._sync = PairSynchronizer(queue_size=self.params.queue_size)
        self._newest_ns: dict[str, int | None] = dict.fromkeys(SIDES)
        self._info: CameraInfo | None = None
        self._waiting: Pair | None = None  # the newest frame that arrived before any camera_info
        self._last_stamp_ns: int | None = None
        self.counts = dict(frames=0, valid_steps=0, invalid_steps=0, dropped=0, core_errors=0)
        self._last_reason = ""
        self._odom_pub = self.create_publisher(Odometry, ODOM_TOPIC, qos.for_topic(ODOM_TOPIC))
        for topic, type_, callback in (
            (IMAGE_TOPIC, Image, lambda msg: self._on_frame_part(IMAGE, msg)),
            (DISPARITY_TOPIC, DisparityImage, lambda msg: self._on_frame_part(DISPARITY, msg)),
            (INFO_TOPIC, CameraInfo, self._on_camera_info),
        ):
            self.create_subscription(
                type_, topic, callback, qos.for_topic(topic), qos_overriding_options=qos.overridable()
            )
        self.set_status(OK, "waiting for an image and its disparity")

    # -- parameters ------------------------------------------------------------------------------
    def check_parameters(self, values: dict) -> str | None:
        return check(values)

    def on_parameters_changed(self, changed: dict) -> None:
        if "queue_size" in changed:
            self._sync = PairSynchronizer(queue_size=self.params.queue_size)
            self._newest_ns = dict.fromkeys(SIDES)
        if self._odometry is not None and changed.keys() - {"queue_size"}:
            self._rebuild(self._odometry.geometry)

    def _rebuild(self, geometry: StereoGeometry) -> None:
        """A core for new settings or calibration; the pose carries over, the next step is unmeasured."""
        pose = self._odometry.pose if self._odometry is not None else np.eye(4)
        self._odometry = StereoVisualOdometry(
            geometry, self._camera_to_base, self._footprint, config_from(vars(self.params))
        )
        self._odometry.pose = pose

    # -- data --------------------------------------------------------------------------------------
    def _on_frame_part(self, stream: str, msg: Image | DisparityImage) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        newest = self._newest_ns[stream]
        if newest is not None and stamp_ns < newest:
            # Time went back on this stream (a simulation reset): queued parts can never pair now.
            self._sync.reset()
            self._newest_ns = dict.fromkeys(SIDES)
        self._newest_ns[stream] = stamp_ns
        pair, dropped = self._sync.add(stream, stamp_ns, msg)
        for drop in dropped:
            self.counts["dropped"] += 1
            self._warn(
                "sync", f"dropped {_STREAM_NAMES[drop.side]} stamped {drop.stamp / 1e9:.6f} s: {drop.reason}"
            )
        if pair is None:
            return
        if self._info is None:
            superseded = ""
            if self._waiting is not None:
                self.counts["dropped"] += 1
                superseded = (
                    f" (dropped the older waiting frame stamped {self._waiting.left_stamp / 1e9:.6f} s)"
                )
            self._waiting = pair
            self._warn("input", f"frame waiting: no message received yet on {INFO_TOPIC}{superseded}")
            return
        self._process(pair)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._info = msg
        if self._waiting is not None:
            pair, self._waiting = self._waiting, None
            self._process(pair)

    def _process(self, pair: Pair) -> None:
        stamp_ns = pair.left_stamp
        try:
            grey, disparity = frame_arrays(pair.left, pair.right)
            geometry = frame_geometry(self._info, pair.right, grey.shape)
        except StereoInputError as err:
            self.counts["dropped"] += 1
            self._warn("input", f"frame stamped {stamp_ns / 1e9:.6f} s dropped: {err}")
            return
        if self._last_stamp_ns is not None and stamp_ns <= self._last_stamp_ns:
            if stamp_ns == self._last_stamp_ns:
                self.counts["dropped"] += 1
                self._warn(
                    "input", f"frame stamped {stamp_ns / 1e9:.6f} s dropped: same stamp as the last frame"
                )
                return
            self._warn(
                "reset",
                f"stamps went back from {self._last_stamp_ns / 1e9:.6f} s to {stamp_ns / 1e9:.6f} s "
                "(simulation reset?): visual odometry restarts at the origin",
            )
            self._odometry, self._track = None, VisualOdometryTrack()
        self._process_frame(stamp_ns, grey, disparity, geometry)

    def _process_frame(
        self, stamp_ns: int, grey: np.ndarray, disparity: np.ndarray, geometry: StereoGeometry
    ) -> None:
        """One checked frame through the core; publishes its odometry, measured or not."""
        if self._odometry is None or self._odometry.geometry != geometry:
            self._rebuild(geometry)
        self._last_stamp_ns = stamp_ns
        started = time.perf_counter()
        failed = False
        try:
            step = self._odometry.process(stamp_ns * 1e-9, grey, disparity)
        except (cv2.error, ValueError) as err:
            # Published unmeasured rather than dropped: consumers (wheel_odometry, a replay awaiting one
            # answer per frame) see the gap, and skip() keeps the next step unmeasured as well.
            failed = True
            self.counts["core_errors"] += 1
            kind = "OpenCV error" if isinstance(err, cv2.error) else type(err).__name__
            reason = f"{kind} in the core: {_error_text(err)}"
            step = self._odometry.skip(stamp_ns * 1e-9, reason)
        elapsed_ms = 1e3 * (time.perf_counter() - started)
        estimate = self._track.update(step)
        if not self.context.ok():  # shut down (SIGTERM) while this frame was being processed
            return
        self._odom_pub.publish(self._odometry_message(stamp_ns, estimate))
        self._report(step, elapsed_ms, "core-error" if failed else "tracking")

    def _odometry_message(self, stamp_ns: int, estimate: VisualOdometryEstimate) -> Odometry:
        return estimate_to_odometry(stamp_ns, self.params.odom_frame, self.params.base_frame, estimate)

    # -- diagnostics -------------------------------------------------------------------------------
    def _report(self, step: VisualStep, elapsed_ms: float, warn_key: str = "tracking") -> None:
        self.counts["frames"] += 1
        self.counts["valid_steps" if step.valid else "invalid_steps"] += 1
        if not step.valid:
            self._last_reason = step.reason
        values = dict(
            **self.counts,
            last_invalid_reason=self._last_reason,
            tracked=step.tracked,
            inliers=step.inliers,
            rms_px=f"{step.residual_px:.3f}",
            processing_ms=f"{elapsed_ms:.1f}",
        )
        if step.valid or step.reason == "first frame":
            self.set_status(OK, "tracking", **values)
        else:
            message = f"no motion measured at {step.stamp:.6f} s: {step.reason}"
            self.warn_throttled(warn_key, message)
            self.set_status(WARN, message, **values)
            self.publish_diagnostics()

    def _warn(self, key: str, message: str) -> None:
        self.warn_throttled(key, message)
        self.set_status(WARN, message, **self.counts)
        # At once: the next good frame sets OK again, possibly before the periodic status goes out.
        self.publish_diagnostics()


def _error_text(err: Exception) -> str:
    """What failed, in one line: OpenCV's messages may span lines, the last says what failed, after
    its ``OpenCV(version) source:line: error:`` prefix."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[-1] if lines else repr(err)
    return text.split(" error: ", 1)[-1]


def main(args: list[str] | None = None) -> int:
    return run_node(VisualOdometryNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
