"""Mission verdict and report figures from observed ground truth, odometry and contacts."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import Pose2D
from rover_autonomy.missions.metrics import (
    BODY_CONTACT,
    NAVIGATION_FAILED,
    TIMEOUT,
    MissionLog,
    tilt_deg,
)

LEVEL = np.array([0.0, 0.0, 0.0, 1.0])


def _drive(log, end_x, steps=101, duration=50.0, odom_scale=1.0):
    for i in range(steps):
        f = i / (steps - 1)
        log.add_truth(duration * f, np.array([10 + end_x * f, 5.0, 0.0]), LEVEL)
        # Odometry in odom: the start pose (10, 5, yaw 0) is its origin.
        log.add_odometry(duration * f, np.array([end_x * f * odom_scale, 0.0]))


def test_successful_mission_figures():
    log = MissionLog(goal=(30.0, 5.0), goal_tolerance=0.5, map_to_odom=(10.0, 5.0, 0.0))
    _drive(log, 19.8, odom_scale=1.01)
    log.latencies_ms.extend([100, 120, 140, 160, 400])
    log.add_contacts([("wheel", "front_left:rock_3"), ("wheel", "rear_left:terrain")])
    report = log.report(None, duration_wall_s=80.0)
    assert report["success"] and report["failure_reason"] is None
    assert report["goal_error_m"] == pytest.approx(0.2)
    assert report["distance_travelled_m"] == pytest.approx(19.8)
    assert report["straight_line_m"] == pytest.approx(20.0)
    assert report["mean_speed_mps"] == pytest.approx(19.8 / 50)
    assert report["odometry_drift_pct"] == pytest.approx(1.0, abs=1e-6)
    assert report["wheel_rock_contacts"] == 1 and report["body_contacts"] == 0
    assert report["latency_ms"]["median"] == 140 and report["latency_ms"]["p95"] > 160


def test_failures_are_named():
    log = MissionLog(goal=(30.0, 5.0), goal_tolerance=0.5, map_to_odom=(10.0, 5.0, 0.0))
    _drive(log, 10.0)
    assert (
        log.report(None, 1.0)["failure_reason"]
        == f"{NAVIGATION_FAILED}: stopped 10.00 m from the goal (tolerance 0.5 m)"
    )
    assert log.report(TIMEOUT, 1.0)["failure_reason"] == TIMEOUT
    log.add_contacts([("body", "chassis:rock_7")])
    report = log.report(None, 1.0)
    assert report["failure_reason"] == BODY_CONTACT and report["body_contact_parts"] == ["chassis"]


def test_geometry_helpers():
    q = np.array([math.sin(math.radians(10) / 2), 0.0, 0.0, math.cos(math.radians(10) / 2)])
    assert tilt_deg(q) == pytest.approx(10.0)
    map_to_odom = (2.0, 3.0, math.pi / 2)  # as MissionLog holds the start pose
    assert Pose2D(*map_to_odom).to_parent([1.0, 0.0])[0] == pytest.approx([2.0, 4.0])
