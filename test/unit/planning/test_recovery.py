"""Getting unstuck (pure cores): stuck detection, the backup and where its keep-out place goes."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.kinematics import wheel_commands
from rover_autonomy.planning.costs import LETHAL
from rover_autonomy.planning.follower.parameters import PARAMETERS
from rover_autonomy.planning.follower.recovery import (
    GIVE_UP_AFTER,
    WIDER,
    Backup,
    BackupConfig,
    KeepOutConfig,
    StuckConfig,
    StuckMonitor,
    StuckPlaces,
    footprint_half_length,
    place_ahead,
    reverse_clearance,
)
from rover_autonomy.planning.keep_out import MAX_RADIUS
from rover_autonomy.rover_model import load_rover_model

GEO = GridGeometry(0.1, -5.0, -5.0, 100, 100)


MODEL = load_rover_model()


def _drive(monitor, speed_commanded, speed_true, seconds, t0=0.0, x0=0.0, dt=0.1, yaw_rate=0.0):
    """Feed the monitor a drive along x; returns the first stuck description (or None) and the end."""
    t, x = t0, x0
    for i in range(round(seconds / dt)):
        t, x = t0 + i * dt, x0 + i * dt * speed_true
        why = monitor.observe(t, x, 0.0, speed_commanded, yaw_rate)
        if why:
            return why, t, x
    return None, t, x


def test_a_rover_that_does_not_move_is_stuck_after_the_window():
    why, t, _ = _drive(StuckMonitor(StuckConfig(window=6.0)), 0.2, 0.0, 20.0)
    assert why is not None and why.startswith("moved 0.00 m of 1.2")
    assert t == pytest.approx(6.0, abs=0.11)


def test_slow_progress_at_high_slip_is_not_stuck():
    # 70 % slip: 30 % of the commanded distance is still progress (MER drove on at such slips).
    assert _drive(StuckMonitor(), 0.2, 0.06, 30.0)[0] is None


def test_turning_in_place_and_stops_command_no_distance():
    monitor = StuckMonitor()
    assert _drive(monitor, 0.0, 0.0, 30.0)[0] is None  # point turns, stops: vx = 0
    assert _drive(monitor, -0.1, 0.0, 30.0, t0=30.0)[0] is None  # backing up is not judged


def test_commanded_turns_in_place_are_not_translation():
    # The base turns in place whatever vx says when the arc is tighter than the steering allows: the
    # follower's tightest arc at some speeds (rounding), or any arc of radius below min_turn_radius.
    config = StuckConfig(window=2.0, min_turn_radius=MODEL.min_turn_radius)
    assert wheel_commands(MODEL, 0.2, 0.5).point_turn
    assert _drive(StuckMonitor(config), 0.2, 0.0, 30.0, yaw_rate=0.5)[0] is None
    assert _drive(StuckMonitor(config), 0.3, 0.0, 30.0, yaw_rate=0.3)[0] is not None  # a 1 m arc


def test_translation_right_after_a_turn_in_place_waits_for_the_steering():
    # Steer, then drive: after a point turn the base holds the wheels until they are steered for the arc.
    config = StuckConfig(window=2.0, min_turn_radius=MODEL.min_turn_radius, turn_settle=1.5)
    monitor = StuckMonitor(config)
    assert _drive(monitor, 0.0, 0.0, 1.0, yaw_rate=0.5)[0] is None  # a point turn
    assert _drive(monitor, 0.25, 0.0, 1.5, t0=1.0)[0] is None  # steering: 0.375 m commanded, not moved
    why, t, _ = _drive(monitor, 0.25, 0.0, 5.0, t0=2.5)  # and then it does not move either: stuck
    assert why is not None and t == pytest.approx(2.5 + 0.3 / 0.25, abs=0.11)  # 0.3 m: min_commanded
    assert StuckConfig.from_rover_model(MODEL, window=6.0).turn_settle == pytest.approx(
        (MODEL.steering.max_angle - MODEL.steering.min_angle) / MODEL.steering.max_rate
    )


def test_stuck_after_moving_and_only_on_the_window():
    monitor = StuckMonitor(StuckConfig(window=4.0))
    why, t, x = _drive(monitor, 0.2, 0.2, 10.0)
    assert why is None
    why, t, _ = _drive(monitor, 0.2, 0.0, 10.0, t0=t, x0=x)
    assert why is not None and 12.0 < t < 14.15  # within a window of the wheels stopping to bite


def test_time_going_back_restarts_the_judgement():
    monitor = StuckMonitor(StuckConfig(window=4.0))
    assert _drive(monitor, 0.2, 0.0, 3.5, t0=100.0)[0] is None
    assert _drive(monitor, 0.2, 0.0, 3.5, t0=0.0)[0] is None  # would be stuck without the restart


def test_bad_stuck_config_is_refused():
    bad_configs = (
        {"window": 0.0},
        {"progress_fraction": 1.0},
        {"min_commanded": -1.0},
        {"min_turn_radius": -0.1},
        {"turn_settle": -1.0},
    )
    for bad in bad_configs:
        with pytest.raises(ValueError):
            StuckConfig(**bad)


def test_reverse_clearance_stops_at_lethal_and_unknown_ground():
    costs = np.zeros((100, 100), np.int8)
    assert reverse_clearance((0.0, 0.0, 0.0), costs, GEO, 0.8) == pytest.approx(0.8)
    costs[:, 44] = LETHAL  # x in [-0.6, -0.5): behind a rover at the origin facing +x
    assert reverse_clearance((0.0, 0.0, 0.0), costs, GEO, 0.8) == pytest.approx(0.5)
    assert reverse_clearance((0.0, 0.0, math.pi), costs, GEO, 0.8) == pytest.approx(0.8)  # faces -x
    costs[:, 44] = 0
    costs[50, 40:50] = -1  # unknown behind, on the rover's row (y in [0, 0.1))
    assert reverse_clearance((0.0, 0.05, 0.0), costs, GEO, 0.8) == pytest.approx(0.0)
    assert reverse_clearance((4.9, 0.0, math.pi), costs, GEO, 0.8) == pytest.approx(0.05)  # map edge


def test_backup_ends_after_its_length_or_times_out():
    config = BackupConfig(distance=0.8, speed=0.1)
    backup = Backup(config, 10.0, (1.0, 1.0), 0.8)
    assert backup.step(10.1, 1.0, 1.0) == (-0.1, None)
    assert backup.step(15.0, 0.6, 1.0) == (-0.1, None)
    assert backup.step(16.0, 0.2, 1.0) == (0.0, "done")
    assert Backup(config, 10.0, (1.0, 1.0), 0.8).step(34.0, 1.0, 1.0) == (0.0, "timeout")


def test_a_keep_out_place_lies_ahead_of_the_stuck_rover_and_clear_of_it():
    half = footprint_half_length(MODEL)
    assert half == pytest.approx(0.65 + 0.13)  # front wheel contact: the rover's reach along x
    # Backed up far enough: the disc's near edge is where the rover's centre stood when stuck.
    assert place_ahead((1.0, 2.0, 0.0), (-0.5, 2.0), 0.5, half) == pytest.approx((1.5, 2.0))
    # Backed up a little, or not at all: pushed ahead until radius + half the footprint clear.
    for backed in (0.3, 0.0):
        x, y = place_ahead((0.0, 0.0, math.pi / 2), (0.0, -backed), 0.5, half)
        assert x == pytest.approx(0.0) and y == pytest.approx(0.5 + half - backed)
        assert math.hypot(x, y + backed) == pytest.approx(0.5 + half)


def test_stuck_events_at_one_place_grow_its_discs_and_a_wall_ends_at_lethal_ground():
    places = StuckPlaces(KeepOutConfig(radius=0.5, clearance=0.78))

    def nowhere_unsafe(xs, ys):
        return np.zeros(np.shape(xs), bool)

    def lethal_beyond_y_3_5(xs, ys):
        return np.asarray(ys) > 3.5

    radii = []
    for count, (x, y) in enumerate([(0.0, 0.0), (0.3, 0.9), (0.3, 2.2)], start=1):
        event = places.judge(x, y)
        assert event.count == count and event.first == (0.0, 0.0)
        unsafe = nowhere_unsafe if count < 3 else lethal_beyond_y_3_5
        discs = places.keep_out(event, (x, y, 0.0), (x - 0.65, y), unsafe)
        radii.append(discs[0].radius)
    assert radii == [0.5, WIDER * 0.5, WIDER * 0.5]
    assert max(d.y for d in discs) == pytest.approx(3.2)  # the wall's last disc before lethal ground
    assert places.judge(0.3, -1.5).count == GIVE_UP_AFTER + 1
    assert places.judge(6.0, 0.0).count == 1  # elsewhere: a new place
    assert len(places.discs) == 1 + 1 + len(discs)


def test_the_largest_disc_the_follower_publishes_is_one_the_planner_takes():
    (spec,) = [spec for spec in PARAMETERS if spec.name == "keep_out_radius"]
    assert spec.range[1] * WIDER <= MAX_RADIUS
