"""Visual odometry increments fused into the wheel odometry (rover_autonomy.odometry.visual_fusion + estimator)."""

import itertools
import math

import numpy as np
import pytest
from helpers.odometry import MARS, slope_law

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.harness.drives import PlaneTerrain, Segment, joint_message, synthesise
from rover_autonomy.odometry.config import OdometryConfig
from rover_autonomy.odometry.estimator import WheelOdometry
from rover_autonomy.odometry.visual_fusion import PoseHistory, VisualIncrement, correct
from rover_autonomy.rover_model import load_rover_model

FRAME_PERIOD = 0.5  # [s] the stereo pair's rate
LATENCY = 0.3  # [s] from a frame's stamp to its increment reaching the odometry
VO_SIGMA = 0.002  # [m]


@pytest.fixture(scope="module")
def model():
    return load_rover_model()


@pytest.fixture(scope="module")
def climb(model):
    """A 12 degree climb on slipping soil (about 20 % slip), which the wheels alone cannot see."""
    segments = [Segment(30, 0.3, 0.0)]
    return synthesise(
        model, segments, PlaneTerrain(math.radians(12)), gravity=MARS, slip_law=slope_law, seed=2
    )


def frame_increments(drive, period=FRAME_PERIOD):
    """(start, end, translation in base_link at start) between true poses one frame period apart."""
    frames = np.arange(0.0, drive.stamps[-1], period)
    index = [int(np.argmin(np.abs(drive.stamps - t))) for t in frames]
    increments = []
    for a, b in itertools.pairwise(index):
        rotation = rpy_to_matrix(*drive.rpy[a])
        translation = rotation.T @ (drive.position[b] - drive.position[a])
        increments.append((stamp(drive.stamps[a]), stamp(drive.stamps[b]), translation))
    return increments


def stamp(t):
    return round(float(t) * 1e9) * 1e-9


def run(model, drive, increments=(), config=None, late=LATENCY):
    """Replay the drive, handing each increment over ``late`` seconds after its end stamp."""
    odometry = WheelOdometry(model, config or OdometryConfig.from_model(model, gravity=MARS))
    queue = sorted(increments, key=lambda inc: inc[1])
    joints = dict(zip(drive.joint_index.tolist(), range(len(drive.joint_index)), strict=True))
    results = []
    for k, t in enumerate(drive.stamps):
        now = stamp(t)
        odometry.add_imu(now, drive.gyro[k], drive.accel[k])
        if k in joints:
            results += odometry.add_joint_state(now, *joint_message(model, drive, joints[k]))
        while queue and queue[0][1] + late <= now:
            start, end, translation = queue.pop(0)
            odometry.add_visual_odometry(start, end, translation, np.eye(3) * VO_SIGMA**2)
    return odometry, results


def horizontal_drift(drive, results):
    last = results[-1]
    k = int(np.argmin(np.abs(drive.stamps - last.stamp)))
    distance = float(np.sum(np.linalg.norm(np.diff(drive.position[: k + 1], axis=0), axis=1)))
    return float(np.linalg.norm(last.position[:2] - drive.position[k, :2])) / distance


def test_pose_history_interpolates_prunes_and_shifts():
    history = PoseHistory(seconds=1.05)
    for i in range(30):
        t = 0.1 * i
        history.append(t, np.array([t, 0.0, 0.0]), np.eye(3), 2 * t)
    assert history.oldest == pytest.approx(1.9) and history.newest == pytest.approx(2.9)
    position, _, distance = history.at(2.25)
    assert position[0] == pytest.approx(2.25) and distance == pytest.approx(4.5)
    assert history.at(1.0) is None and history.at(3.0) is None
    history.shift(2.0, 2.4, np.array([0.0, 1.0, 0.0]))
    assert history.at(2.0)[0][1] == 0.0
    assert history.at(2.2)[0][1] == pytest.approx(0.5)
    assert history.at(2.6)[0][1] == pytest.approx(1.0)


def test_correction_follows_a_precise_increment_and_gates_an_absurd_one():
    history = PoseHistory(seconds=5.0)
    for i in range(11):  # the wheels say 0.1 m along x in 1 s
        history.append(0.1 * i, np.array([0.01 * i, 0.0, 0.0]), np.eye(3), 0.01 * i)
    precise = VisualIncrement(0.0, 1.0, np.array([0.08, 0.0, 0.0]), np.eye(3) * 1e-8)
    outcome = correct(precise, history, 0.5, 0.02, 16.27, 0.01)
    assert outcome.accepted
    assert outcome.offset[0] == pytest.approx(-0.02, abs=1e-4)
    assert outcome.slip == pytest.approx(0.2)
    absurd = VisualIncrement(0.0, 1.0, np.array([1.5, 0.0, 0.0]), np.eye(3) * 1e-8)
    refused = correct(absurd, history, 0.5, 0.02, 16.27, 0.01)
    assert not refused.accepted and refused.mahalanobis2 > 16.27
    assert np.all(refused.offset == 0.0)
    assert (
        correct(VisualIncrement(-3.0, 1.0, np.zeros(3), np.eye(3)), history, 0.5, 0.02, 16.27, 0.01) is None
    )


def test_visual_increments_remove_the_slip_the_wheels_cannot_see(model, climb):
    _, wheels_only = run(model, climb)
    odometry, fused = run(model, climb, frame_increments(climb))
    assert horizontal_drift(climb, wheels_only) > 0.1  # ~20 % slip, no slope model
    assert horizontal_drift(climb, fused) < 0.01
    cruising = [j for j, r in enumerate(fused) if r.stamp > 8.0 and abs(r.wheel_speed) > 0.25]
    slip_error = max(abs(fused[j].slip - climb.slip[j]) for j in cruising)
    assert slip_error < 0.05
    delivered = [inc for inc in frame_increments(climb) if inc[1] + LATENCY <= stamp(climb.stamps[-1])]
    assert odometry.counts["visual"] == len(delivered)
    assert odometry.counts["visual_refused"] == 0
    assert odometry.status()[2]["visual_slip"] != "no visual odometry"


def test_fused_odometry_is_deterministic(model, climb):
    first = run(model, climb, frame_increments(climb))[1]
    second = run(model, climb, frame_increments(climb))[1]
    assert all(np.array_equal(a.position, b.position) for a, b in zip(first, second, strict=True))


def test_increments_ahead_of_the_wheels_wait_for_them(model, climb):
    # Delivered early (negative latency): they must wait until the wheels pass their end stamp.
    _, early = run(model, climb, frame_increments(climb), late=-0.4)
    _, on_time = run(model, climb, frame_increments(climb))
    assert horizontal_drift(climb, early) < 0.01
    assert horizontal_drift(climb, early) == pytest.approx(horizontal_drift(climb, on_time), abs=0.003)


def test_bad_and_absurd_increments_are_refused_and_said(model, climb):
    odometry, results = run(model, climb)
    before = odometry.ekf.x[0:3].copy()
    end = results[-1].stamp  # the wheels' newest sample
    odometry.pop_issues()
    odometry.add_visual_odometry(end - 0.5, end, [math.nan, 0.0, 0.0], np.eye(3) * 1e-6)
    odometry.add_visual_odometry(end, end - 0.5, [0.1, 0.0, 0.0], np.eye(3) * 1e-6)
    odometry.add_visual_odometry(end - 0.5, end, [0.1, 0.0, 0.0], -np.eye(3))
    odometry.add_visual_odometry(end - 0.5, end, [25.0, 0.0, 0.0], np.eye(3) * 1e-6)
    odometry.add_visual_odometry(end - 60.0, end - 59.5, [0.1, 0.0, 0.0], np.eye(3) * 1e-6)
    keys = [issue.key for issue in odometry.pop_issues()]
    assert keys == ["visual-bad"] * 3 + ["visual-refused"] * 2, keys
    assert odometry.counts["visual_refused"] == 5
    assert np.array_equal(odometry.ekf.x[0:3], before)


def test_without_increments_the_slope_model_takes_over_again(model, climb):
    increments = [inc for inc in frame_increments(climb) if inc[1] < 10.0]  # VO stops after 10 s
    odometry, results = run(model, climb, increments)
    assert odometry.status()[2]["visual_slip"] == "no visual odometry"
    # The measured slip kept scaling the wheels until the timeout, then nothing corrects them.
    timeout = odometry.config.visual_timeout
    during = [r.slip for r in results if 8.0 < r.stamp < 10.0 + timeout - 0.5]
    after = [r.slip for r in results if r.stamp > 10.0 + timeout + 3.0]
    assert min(during) > 0.1 and max(after) < 0.05
