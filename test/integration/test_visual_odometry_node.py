"""Visual odometry on the simulator's rendered frames: the core against ground truth, then the
``visual_odometry`` node over real DDS (its Odometry output, the −1 convention, bad input).

One drive is shared by every test: the rover drives straight on the shipped Mars world for a few
seconds while the left image and its disparity (the real stereo core, with the graph's parameters) are
recorded at 2 Hz with the true pose.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from rover_autonomy.bringup.graph import NODES
from rover_autonomy.control.base_controller import BaseController
from rover_autonomy.control.parameters import limits_from
from rover_autonomy.perception.camera import CameraCalibration
from rover_autonomy.perception.images import to_grey
from rover_autonomy.perception.stereo.processor import StereoProcessor
from rover_autonomy.perception.visual_odometry.estimator import StereoVisualOdometry, VisualStep
from rover_autonomy.perception.visual_odometry.parameters import check
from rover_autonomy.perception.visual_odometry.track import NOT_AVAILABLE, VisualOdometryTrack
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.conversions import array_to_image, ns_to_stamp, stamp_to_ns
from rover_autonomy.rover_model import load_rover_model

sim_engine = pytest.importorskip("rover_autonomy.sim.engine")
from rover_autonomy.sim.scene import resolve_world  # noqa: E402
from rover_autonomy.sim.sensors import RenderError, projection_matrices  # noqa: E402

MODEL = load_rover_model()
SPEED = 0.15  # [m/s]
FRAME_PERIOD_NS = 500_000_000  # 2 Hz cameras
FIRST_FRAME_NS = 1_000_000_000  # once the rover rolls
FRAMES = 8
STEREO_PARAMETERS = next(n for n in NODES if n.name == "stereo_processor").parameters


@dataclass(frozen=True)
class Frame:
    stamp_ns: int
    left: np.ndarray  # (H, W, 3) rgb8
    right: np.ndarray
    grey: np.ndarray  # (H, W) uint8
    disparity: np.ndarray  # (H, W) [px] net of the principal-point offset, NaN where invalid
    truth: np.ndarray  # (4, 4) base_link in map


def _pose(truth) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_quat(truth.quaternion).as_matrix()
    pose[:3, 3] = truth.position
    return pose


def _calibrations() -> list[CameraCalibration]:
    stereo = MODEL.stereo
    return [
        CameraCalibration.from_arrays(
            stereo.width, stereo.height, stereo.intrinsics(), np.zeros(5), np.eye(3), p
        )
        for p in projection_matrices(stereo)
    ]


@pytest.fixture(scope="module")
def drive():
    """The frames of a straight drive and the stereo geometry."""
    try:
        sim = sim_engine.RoverSim(resolve_world("mars"), MODEL, sim_engine.SimConfig(cameras=True))
    except RenderError as err:
        pytest.skip(str(err))
    processor = StereoProcessor()
    processor.update(**STEREO_PARAMETERS)
    calibrations = _calibrations()
    controller = BaseController(MODEL, limits_from(MODEL))
    steer = slice(len(MODEL.drive_joints), len(MODEL.drive_joints) + len(MODEL.steer_joints))
    frames, geometry = [], None
    try:
        start_ns = sim.time_ns
        while len(frames) < FRAMES:
            sim.step(2)  # the controller's 100 Hz
            t = (sim.time_ns - start_ns) * 1e-9
            controller.set_command(t, SPEED, 0.0)
            controller.set_steering_feedback(t, sim.joint_state()[1][steer])
            out = controller.update(t)
            sim.command_drive(out.drive)
            sim.command_steer(out.steer)
            stamp_ns = sim.time_ns - start_ns
            if stamp_ns >= FIRST_FRAME_NS and (stamp_ns - FIRST_FRAME_NS) % FRAME_PERIOD_NS == 0:
                left, right = sim.render_stereo()
                result = processor.process(left, right, "rgb8", "rgb8", *calibrations)
                geometry = result.geometry
                disparity = result.disparity - geometry.disparity_offset  # NaN stays NaN
                grey = to_grey(left, "rgb8")
                frames.append(Frame(stamp_ns, left, right, grey, disparity, _pose(sim.ground_truth())))
    finally:
        sim.close()
    return frames, geometry


def _odometry(geometry) -> StereoVisualOdometry:
    footprint = np.vstack([MODEL.body.footprint, MODEL.nominal_wheel_centres()[:, :2]])
    return StereoVisualOdometry(geometry, MODEL.stereo.camera_to_base("left"), footprint)


def _true_delta(a: Frame, b: Frame) -> np.ndarray:
    return np.linalg.inv(a.truth) @ b.truth


# -- core --------------------------------------------------------------------------------------------


def test_straight_drive_matches_ground_truth(drive):
    frames, geometry = drive
    odometry, track = _odometry(geometry), VisualOdometryTrack()
    steps = [odometry.process(f.stamp_ns * 1e-9, f.grey, f.disparity) for f in frames]
    estimates = [track.update(step) for step in steps]

    assert not steps[0].valid and steps[0].reason == "first frame"
    assert all(s.valid for s in steps[1:]), [s.reason for s in steps]
    for previous, frame, step in zip(frames, frames[1:], steps[1:], strict=False):
        true_delta = _true_delta(previous, frame)
        # [m] per 7.6 cm step (measured: 0.1-0.2 mm)
        assert np.linalg.norm(step.delta[:3, 3] - true_delta[:3, 3]) < 0.002
        assert step.inliers >= 100 and step.residual_px < 0.5
    # The chain is the product of the steps, and follows the truth over the whole drive.
    chained = np.linalg.multi_dot([s.delta for s in steps])
    np.testing.assert_allclose(steps[-1].pose, chained, atol=1e-12)
    truth = _true_delta(frames[0], frames[-1])
    driven = np.linalg.norm(truth[:3, 3])
    assert driven > 0.8 * SPEED * (FRAMES - 1) * FRAME_PERIOD_NS * 1e-9
    assert np.linalg.norm(steps[-1].pose[:3, 3] - truth[:3, 3]) < 0.03 * driven
    assert abs(steps[-1].pose[0, 3] - truth[0, 3]) < 0.03 * driven
    # Published estimates: the first unmeasured, then growing covariance and the forward speed.
    assert estimates[0].pose_covariance[0, 0] == NOT_AVAILABLE and not estimates[0].linear.any()
    variances = [e.pose_covariance[0, 0] for e in estimates[1:]]
    assert all(0.0 < a < b for a, b in pairwise(variances))
    speed = estimates[-1].linear[0]
    assert speed == pytest.approx(_true_delta(frames[-2], frames[-1])[0, 3] / 0.5, rel=0.05)


def test_a_blank_image_is_an_unmeasured_step_and_tracking_recovers(drive):
    frames, geometry = drive
    odometry = _odometry(geometry)
    blank = np.full_like(frames[1].grey, 128)
    first = odometry.process(frames[0].stamp_ns * 1e-9, frames[0].grey, frames[0].disparity)
    lost = odometry.process(frames[1].stamp_ns * 1e-9, blank, frames[1].disparity)
    assert not lost.valid and "tracked" in lost.reason, lost.reason
    np.testing.assert_array_equal(lost.pose, first.pose)  # unmeasured: the pose stays
    after = odometry.process(frames[2].stamp_ns * 1e-9, frames[2].grey, frames[2].disparity)
    assert not after.valid and "corners with depth in the previous frame" in after.reason
    back = odometry.process(frames[3].stamp_ns * 1e-9, frames[3].grey, frames[3].disparity)
    assert back.valid
    true_delta = _true_delta(frames[2], frames[3])
    assert np.linalg.norm(back.delta[:3, 3] - true_delta[:3, 3]) < 0.002


def test_a_stamp_going_back_is_an_unmeasured_step(drive):
    frames, geometry = drive
    odometry = _odometry(geometry)
    odometry.process(frames[1].stamp_ns * 1e-9, frames[1].grey, frames[1].disparity)
    back = odometry.process(frames[0].stamp_ns * 1e-9, frames[0].grey, frames[0].disparity)
    assert not back.valid and "is not after" in back.reason
    np.testing.assert_array_equal(back.pose, np.eye(4))


# -- output and parameters (pure) ------------------------------------------------------------------


def _step(stamp, valid, delta, pose, covariance):
    return VisualStep(stamp, valid, "" if valid else "lost", delta, covariance, pose, 0, 0, 0.0)


def test_track_turns_step_covariances_into_the_odom_frame_and_flags_unmeasured_steps():
    track = VisualOdometryTrack()
    quarter_turn = np.eye(4)
    quarter_turn[:3, :3] = Rotation.from_euler("z", math.pi / 2).as_matrix()
    forward = np.eye(4)
    forward[0, 3] = 0.1
    step_covariance = np.diag([4e-6, 1e-6, 1e-6, 1e-8, 1e-8, 1e-8])
    first = track.update(_step(10.0, False, np.eye(4), quarter_turn, np.full((6, 6), np.nan)))
    assert first.pose_covariance[0, 0] == first.twist_covariance[0, 0] == NOT_AVAILABLE
    assert np.isfinite(first.pose_covariance).all() and not first.linear.any()
    # Facing +y, 0.1 m forward in 0.5 s: the forward variance lands on y of the odom frame.
    moved = track.update(_step(10.5, True, forward, quarter_turn @ forward, step_covariance))
    np.testing.assert_allclose(np.diag(moved.pose_covariance)[:3], [1e-6, 4e-6, 1e-6], atol=1e-15)
    np.testing.assert_allclose(moved.linear, [0.2, 0.0, 0.0])
    np.testing.assert_allclose(moved.twist_covariance, step_covariance / 0.25)
    np.testing.assert_allclose(moved.position, [0.0, 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(moved.quaternion, Rotation.from_euler("z", math.pi / 2).as_quat())
    lost = track.update(_step(11.0, False, np.eye(4), quarter_turn @ forward, np.full((6, 6), np.nan)))
    assert lost.pose_covariance[0, 0] == NOT_AVAILABLE and lost.pose_covariance[1, 1] == pytest.approx(4e-6)
    np.testing.assert_array_equal(lost.position, moved.position)
    again = track.update(_step(11.5, True, forward, quarter_turn @ forward @ forward, step_covariance))
    assert again.pose_covariance[1, 1] == pytest.approx(8e-6)  # sums the measured steps only
    np.testing.assert_allclose(again.linear, [0.2, 0.0, 0.0])  # over 0.5 s, not since the last valid


def test_parameter_combinations_are_checked():
    from rover_autonomy.perception.visual_odometry.parameters import PARAMETERS

    values = {spec.name: spec.default for spec in PARAMETERS}
    assert check(values) is None
    assert "min_depth < max_depth" in check({**values, "min_depth": 30.0})
    assert "exceeds max_features" in check({**values, "min_inliers": 600})


def test_sixteen_bit_images_keep_their_grey_levels_from_frame_to_frame():
    image = np.full((4, 4), 1000, np.uint16)
    image[0, 0] = 4000  # a 12-bit sensor
    dimmer_peak = image.copy()
    dimmer_peak[0, 0] = 2500
    assert to_grey(image, "mono16")[1, 1] == to_grey(dimmer_peak, "mono16")[1, 1] == round(1000 * 255 / 4095)


# -- node over DDS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def messages(drive):
    """Per frame the left Image (rgb8) and the DisparityImage the real stereo_processor makes of the
    pair; and the left CameraInfo."""
    import rclpy
    from rclpy.parameter import Parameter

    from rover_autonomy.perception.stereo.node import StereoProcessorNode

    frames, _ = drive
    left_cal, right_cal = _calibrations()
    infos = [
        _camera_info(left_cal, "stereo_left_optical_frame"),
        _camera_info(right_cal, "stereo_right_optical_frame"),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    overrides = [Parameter(name, value=value) for name, value in STEREO_PARAMETERS.items()]
    stereo = StereoProcessorNode(context=context, parameter_overrides=overrides)
    try:
        pairs = []
        for frame in frames:
            left = array_to_image(frame.left, "rgb8", frame.stamp_ns, "stereo_left_optical_frame")
            right = array_to_image(frame.right, "rgb8", frame.stamp_ns, "stereo_right_optical_frame")
            pairs.append((left, stereo.process_pair(left, right, *infos)[0]))
    finally:
        stereo.destroy_node()
        rclpy.try_shutdown(context=context)
    return pairs, infos[0]


def _camera_info(calibration, frame_id):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo(width=calibration.width, height=calibration.height, distortion_model="plumb_bob")
    msg.d = calibration.D.tolist()
    msg.k, msg.r, msg.p = calibration.K.ravel(), calibration.R.ravel(), calibration.P.ravel()
    msg.header.frame_id = frame_id
    return msg


class VisualOdometryRig:
    """A test node feeding visual_odometry frames and collecting its odometry and diagnostics."""

    def __init__(self, ros, messages, drive):
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import CameraInfo, Image
        from stereo_msgs.msg import DisparityImage

        from rover_autonomy.perception.visual_odometry.node import VisualOdometryNode

        self.ros = ros
        (self.pairs, self.info), (self.frames, _) = messages, drive
        self.node = ros.node(VisualOdometryNode(context=ros.context))
        self.io = ros.node("visual_odometry_rig")
        self.pub = {
            topic: self.io.create_publisher(type_, topic, qos.for_topic(topic))
            for topic, type_ in (
                ("stereo/left/image_rect", Image),
                ("stereo/left/camera_info", CameraInfo),
                ("stereo/disparity", DisparityImage),
            )
        }
        self.odometry, self.statuses = [], []
        self.io.create_subscription(
            Odometry, "visual_odometry/odom", self.odometry.append, qos.for_topic("visual_odometry/odom")
        )
        self.io.create_subscription(
            DiagnosticArray,
            "diagnostics",
            lambda msg: self.statuses.extend(s for s in msg.status if s.name == "visual_odometry"),
            qos.profile("diagnostics"),
        )
        assert ros.spin_until(
            lambda: (
                all(p.get_subscription_count() >= 1 for p in self.pub.values())
                and self.node.count_subscribers("visual_odometry/odom") >= 1
            )
        )

    def send_info(self, info=None):
        info = info or self.info
        self.pub["stereo/left/camera_info"].publish(info)
        assert self.ros.spin_until(
            lambda: self.node._info is not None and np.array_equal(self.node._info.p, info.p, equal_nan=True)
        )

    def send_frame(self, index, stamp_ns=None, image=None, disparity=None, expect_output=True):
        """Frame ``index`` (restamped, or with a replaced image or disparity); waits for its odometry."""
        image, disparity = (
            copy.deepcopy(image or self.pairs[index][0]),
            copy.deepcopy(disparity or self.pairs[index][1]),
        )
        stamp = ns_to_stamp(self.frames[index].stamp_ns if stamp_ns is None else stamp_ns)
        image.header.stamp = disparity.header.stamp = disparity.image.header.stamp = stamp
        count = len(self.odometry)
        self.pub["stereo/left/image_rect"].publish(image)
        self.pub["stereo/disparity"].publish(disparity)
        if expect_output:
            assert self.ros.spin_until(lambda: len(self.odometry) > count, timeout=10.0)
            return self.odometry[-1]
        return None

    def wait_status(self, level, text, timeout=5.0):
        return self.ros.spin_until(
            lambda: any(s.level == level and text in s.message for s in self.statuses), timeout=timeout
        )

    def forward_since(self, first, index):
        return _true_delta(self.frames[first], self.frames[index])[0, 3]


def _assert_unmeasured(odometry):
    assert odometry.pose.covariance[0] == -1.0 and odometry.twist.covariance[0] == -1.0
    twist = odometry.twist.twist
    assert (twist.linear.x, twist.linear.y, twist.angular.z) == (0.0, 0.0, 0.0)


def _assert_measured(odometry, forward):
    assert odometry.pose.covariance[0] > 0.0 and odometry.twist.covariance[0] > 0.0
    assert np.isfinite(odometry.pose.covariance).all() and np.isfinite(odometry.twist.covariance).all()
    assert odometry.pose.pose.position.x == pytest.approx(forward, rel=0.03)


def test_node_publishes_one_odometry_per_frame_first_unmeasured(ros, messages, drive):
    from diagnostic_msgs.msg import DiagnosticStatus

    rig = VisualOdometryRig(ros, messages, drive)
    rig.send_info()
    first = rig.send_frame(0)
    assert (first.header.frame_id, first.child_frame_id) == ("visual_odom", "base_link")
    assert stamp_to_ns(first.header.stamp) == rig.frames[0].stamp_ns
    _assert_unmeasured(first)
    position = first.pose.pose.position
    assert (position.x, position.y, position.z, first.pose.pose.orientation.w) == (0.0, 0.0, 0.0, 1.0)
    for index in (1, 2):
        odometry = rig.send_frame(index)
        assert stamp_to_ns(odometry.header.stamp) == rig.frames[index].stamp_ns
        _assert_measured(odometry, rig.forward_since(0, index))
        step = rig.forward_since(index - 1, index)
        assert odometry.twist.twist.linear.x == pytest.approx(step / 0.5, rel=0.05)
    assert rig.odometry[2].pose.covariance[0] > rig.odometry[1].pose.covariance[0]
    assert rig.wait_status(DiagnosticStatus.OK, "tracking")
    values = {v.key: v.value for v in rig.statuses[-1].values}
    assert (values["frames"], values["valid_steps"], values["invalid_steps"]) == ("3", "2", "1")
    assert int(values["inliers"]) >= 100 and float(values["processing_ms"]) > 0.0


def _disparity_cropped(rig):
    from rover_autonomy.ros_common.conversions import image_to_array

    disparity = copy.deepcopy(rig.pairs[2][1])
    disparity.image = array_to_image(image_to_array(disparity.image)[:-10], "32FC1")
    rig.send_frame(2, disparity=disparity, expect_output=False)
    return "sizes differ: left image 640x480, disparity 640x470"


def _image_encoding(rig):
    grey = rig.frames[2].grey.astype(np.float32)
    rig.send_frame(2, image=array_to_image(grey, "32FC1"), expect_output=False)
    return "left image: unsupported encoding '32FC1'"


def _disparity_without_baseline(rig):
    disparity = copy.deepcopy(rig.pairs[2][1])
    disparity.t = 0.0
    rig.send_frame(2, disparity=disparity, expect_output=False)
    return "t = 0: both must be positive"


def _nan_camera_info(rig):
    info = copy.deepcopy(rig.info)
    info.p[0] = math.nan
    rig.send_info(info)
    rig.send_frame(2, expect_output=False)
    rig.ros.spin_for(0.3)
    rig.send_info()
    return "left camera_info: P contains NaN"


@pytest.mark.parametrize(
    "bad",
    [_disparity_cropped, _image_encoding, _disparity_without_baseline, _nan_camera_info],
    ids=lambda f: f.__name__.strip("_"),
)
def test_node_drops_bad_input_names_it_and_serves_the_next_frame(ros, messages, drive, bad):
    from diagnostic_msgs.msg import DiagnosticStatus

    rig = VisualOdometryRig(ros, messages, drive)
    rig.send_info()
    rig.send_frame(0)
    rig.send_frame(1)
    expected = bad(rig)
    assert rig.wait_status(DiagnosticStatus.WARN, expected), [s.message for s in rig.statuses]
    assert len(rig.odometry) == 2 and rig.node.counts["dropped"] == 1
    # The chain goes on from frame 1 to frame 3, over the dropped frame.
    _assert_measured(rig.send_frame(3), rig.forward_since(0, 3))
    assert rig.wait_status(DiagnosticStatus.OK, "tracking")


def _smaller_than_the_previous_frame(rig, frame):
    # OpenCV's tracker needs both frames of a step at one size (the message checks keep DDS input from
    # this: a new size is a new calibration, and a new core).
    return frame.grey[:240, :320].copy(), frame.disparity[:240, :320].copy(), "(-215:Assertion failed)"


def _colour_image(rig, frame):
    return frame.left, frame.disparity, "ValueError in the core: left image must be 2D uint8"


@pytest.mark.parametrize("bad", [_smaller_than_the_previous_frame, _colour_image], ids=lambda f: f.__name__)
def test_node_publishes_a_frame_the_core_raises_on_unmeasured_and_keeps_serving(ros, messages, drive, bad):
    from diagnostic_msgs.msg import DiagnosticStatus

    rig = VisualOdometryRig(ros, messages, drive)
    rig.send_info()
    rig.send_frame(0)
    before = rig.send_frame(1).pose.pose.position.x
    # The real core on arrays it raises on, through the node's frame step (no message reaches it so).
    grey, disparity, error = bad(rig, rig.frames[2])
    rig.node._process_frame(rig.frames[2].stamp_ns, grey, disparity, rig.node._odometry.geometry)
    assert ros.spin_until(lambda: len(rig.odometry) == 3)
    _assert_unmeasured(rig.odometry[2])
    assert rig.odometry[2].pose.pose.position.x == before
    assert rig.wait_status(DiagnosticStatus.WARN, "no motion measured at 2.000000 s: "), [
        s.message for s in rig.statuses
    ]
    assert any(error in s.message for s in rig.statuses), [s.message for s in rig.statuses]
    assert rig.node.counts["core_errors"] == 1
    # The node keeps serving. Nothing is measured across the failure: frame 3 starts a new reference,
    # and the chain holds 0 -> 1 and 3 -> 4.
    _assert_unmeasured(rig.send_frame(3))
    assert rig.odometry[3].pose.pose.position.x == before
    _assert_measured(rig.send_frame(4), rig.forward_since(0, 1) + rig.forward_since(3, 4))
    assert rig.wait_status(DiagnosticStatus.OK, "tracking")


def test_node_waits_for_camera_info_and_restarts_when_stamps_go_back(ros, messages, drive):
    from diagnostic_msgs.msg import DiagnosticStatus

    rig = VisualOdometryRig(ros, messages, drive)
    rig.send_frame(0, expect_output=False)
    assert rig.wait_status(DiagnosticStatus.WARN, "no message received yet on stereo/left/camera_info")
    assert not rig.odometry
    rig.send_info()  # the waiting frame is processed as soon as it is in
    assert ros.spin_until(lambda: len(rig.odometry) == 1)
    _assert_unmeasured(rig.odometry[0])
    _assert_measured(rig.send_frame(1), rig.forward_since(0, 1))
    # A simulation reset: time starts again; the chain restarts at the origin, unmeasured.
    restarted = rig.send_frame(2, stamp_ns=200_000_000)
    assert rig.wait_status(DiagnosticStatus.WARN, "stamps went back from 1.500000 s to 0.200000 s")
    _assert_unmeasured(restarted)
    assert restarted.pose.pose.position.x == 0.0 and restarted.pose.covariance[7] == 0.0
    _assert_measured(rig.send_frame(3, stamp_ns=700_000_000), rig.forward_since(2, 3))
    # A run-time parameter change rebuilds the core: the pose stays, the next step is unmeasured.
    from rclpy.parameter import Parameter

    refused = rig.node.set_parameters([Parameter("min_depth", value=30.0)])[0]
    assert not refused.successful and "min_depth < max_depth" in refused.reason
    assert rig.node.set_parameters([Parameter("max_features", value=400)])[0].successful
    before = rig.odometry[-1].pose.pose.position.x
    changed = rig.send_frame(4, stamp_ns=1_200_000_000)
    _assert_unmeasured(changed)
    assert changed.pose.pose.position.x == before
    # The motion from frame 3 to 4 was not measured: the chain holds 2 -> 3 and 4 -> 5 (straight ahead).
    _assert_measured(
        rig.send_frame(5, stamp_ns=1_700_000_000), rig.forward_since(2, 3) + rig.forward_since(4, 5)
    )
