"""Getting unstuck (pure cores): stuck detection, the backup, and the planner's keep-out places."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL, CostModel
from rover_autonomy.planning.follower.recovery import (
    Backup,
    BackupConfig,
    StuckConfig,
    StuckMonitor,
    reverse_clearance,
)
from rover_autonomy.planning.global_planner import GlobalPlanner, keep_out

GEO = GridGeometry(0.1, -5.0, -5.0, 100, 100)


def _drive(monitor, speed_commanded, speed_true, seconds, t0=0.0, x0=0.0, dt=0.1):
    """Feed the monitor a straight drive; returns the first stuck description (or None) and the end."""
    t, x = t0, x0
    for i in range(round(seconds / dt)):
        t, x = t0 + i * dt, x0 + i * dt * speed_true
        why = monitor.observe(t, x, 0.0, speed_commanded)
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
    for bad in ({"window": 0.0}, {"progress_fraction": 1.0}, {"min_commanded": -1.0}):
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


def test_keep_out_discs_are_lethal_and_plans_go_round_them():
    costs = np.zeros((100, 100), np.int8)
    marked = keep_out(costs, GEO, [(0.0, 0.0), (40.0, 0.0)], radius=0.5)  # the second is off the map
    assert costs.max() == 0  # the input is left alone
    centres_x = GEO.origin_x + (np.arange(100) + 0.5) * GEO.resolution
    cx, cy = np.meshgrid(centres_x, centres_x)
    assert np.array_equal(marked == LETHAL, np.hypot(cx, cy) <= 0.5)
    assert keep_out(costs, GEO, [], 0.5) is costs

    planner = GlobalPlanner(CostModel())
    planner.set_costmap(marked, GEO)
    result = planner.plan((-2.0, 0.0), (2.0, 0.0))
    assert result.ok
    assert np.hypot(result.points[:, 0], result.points[:, 1]).min() > 0.5


def test_a_keep_out_place_near_the_goal_leaves_the_goal_free():
    costs = np.zeros((100, 100), np.int8)
    goal = (0.6, 0.0)
    marked = keep_out(costs, GEO, [(0.0, 0.0), (0.62, 0.0)], radius=0.5, spare=goal)
    assert marked[GEO.to_cell(*goal)] == 0  # the disc around (0, 0) shrank to 0.5 m … less a cell
    assert marked[GEO.to_cell(0.0, 0.0)] == LETHAL and marked[GEO.to_cell(0.45, 0.0)] == LETHAL
    assert marked[GEO.to_cell(0.55, 0.0)] == 0  # on the goal: the second place marks nothing
    planner = GlobalPlanner(CostModel())
    planner.set_costmap(marked, GEO)
    assert planner.plan((-2.0, 0.0), goal).ok
