"""Arc follower core: arc geometry, safety, speed shaping, point turns, closed-loop runs on costmaps."""

import math

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.harness.costmaps import random_costmap
from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig, cost_at
from rover_autonomy.planning.costs import LETHAL, UNKNOWN
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.rover_model import load_rover_model

RES = 0.1
GEO = GridGeometry(RES, 0.0, 0.0, 200, 200)  # 20 m × 20 m


def straight_plan(x0, y0, x1, y1, step=RES):
    n = int(math.hypot(x1 - x0, y1 - y0) / step) + 1
    return np.column_stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)])


def config():
    return FollowerConfig.from_rover_model(load_rover_model())


def drive(follower, costmap, geo, pose, steps=2000, dt=0.1):
    """Unicycle closed loop; returns the decisions and the visited rover-centre positions."""
    x, y, yaw = pose
    decisions, trail = [], [(x, y)]
    for _ in range(steps):
        d = follower.decide((x, y, yaw), costmap, geo)
        decisions.append(d)
        if d.status in ("reached", "blocked"):
            break
        yaw += d.wz * dt
        x += d.vx * math.cos(yaw) * dt
        y += d.vx * math.sin(yaw) * dt
        trail.append((x, y))
    return decisions, np.array(trail)


def test_config_takes_limits_from_rover_model():
    model = load_rover_model()
    c = config()
    assert c.max_speed == model.limits.max_speed
    assert c.max_yaw_rate == model.limits.max_yaw_rate
    assert c.min_turn_radius == pytest.approx(model.min_turn_radius)
    with pytest.raises(ValueError):
        FollowerConfig(max_speed=-1)


def test_arc_samples_lie_on_circles_of_their_curvature():
    f = ArcFollower(config())
    # Reproduce the sampling of decide() for a pose and check each arc against its circle.
    x, y, yaw = 3.0, 4.0, 0.7
    turn = np.outer(f.curvatures, f.arc_lengths)
    along = f.arc_lengths * np.sinc(turn / math.pi)
    side = f.arc_lengths * (turn / 2) * np.sinc(turn / (2 * math.pi)) ** 2
    px = x + along * math.cos(yaw) - side * math.sin(yaw)
    py = y + along * math.sin(yaw) + side * math.cos(yaw)
    for k, kappa in enumerate(f.curvatures):
        if abs(kappa) < 1e-9:
            np.testing.assert_allclose(np.hypot(px[k] - x, py[k] - y), f.arc_lengths, atol=1e-9)
            continue
        cx, cy = x - math.sin(yaw) / kappa, y + math.cos(yaw) / kappa  # centre of the turn
        np.testing.assert_allclose(np.hypot(px[k] - cx, py[k] - cy), 1 / abs(kappa), atol=1e-9)


def test_drives_straight_at_full_speed_on_free_ground():
    f = ArcFollower(config())
    f.set_plan(straight_plan(2, 10, 18, 10))
    d = f.decide((2.0, 10.0, 0.0), np.zeros((200, 200), np.int8), GEO)
    assert d.status == "driving"
    assert d.vx == pytest.approx(f.config.max_speed)
    assert d.wz == pytest.approx(0.0, abs=1e-12)


def test_slows_down_on_rough_ground_and_tight_turns():
    f = ArcFollower(config())
    f.set_plan(straight_plan(2, 10, 18, 10))
    smooth = f.decide((2.0, 10.0, 0.0), np.zeros((200, 200), np.int8), GEO)
    rough = f.decide((2.0, 10.0, 0.0), np.full((200, 200), 60, np.int8), GEO)
    assert rough.vx < 0.7 * smooth.vx
    # Plan curving away to the left: a tight arc, slower than straight and within the yaw-rate limit.
    f.set_plan(
        np.array([[2.0 + 0.8 * math.sin(t), 10.8 - 0.8 * math.cos(t)] for t in np.linspace(0, 1.2, 40)])
    )
    turning = f.decide((2.0, 10.0, 0.0), np.zeros((200, 200), np.int8), GEO)
    assert turning.status == "driving" and turning.curvature > 0.5
    assert turning.vx < smooth.vx
    assert abs(turning.wz) <= f.config.max_yaw_rate + 1e-9


def test_turns_in_place_towards_a_plan_behind():
    f = ArcFollower(config())
    f.set_plan(straight_plan(10, 10, 3, 10))
    d = f.decide((10.0, 10.0, 0.3), np.zeros((200, 200), np.int8), GEO)
    assert d.status == "turning" and d.vx == 0.0
    assert d.wz < 0 or d.wz > 0
    assert abs(d.wz) <= f.config.max_yaw_rate
    # Bearing is pi from +x, heading 0.3: the short way round is counter-clockwise (positive wz).
    assert d.wz > 0


def test_reaches_goal_within_tolerance_and_stops():
    f = ArcFollower(config())
    f.set_plan(straight_plan(2, 10, 8, 10))
    d = f.decide((7.8, 10.1, 0.0), np.zeros((200, 200), np.int8), GEO)
    assert d.status == "reached" and d.vx == 0.0 and d.wz == 0.0


def test_swerves_around_a_rock_missing_from_the_plan():
    # A rock as the mapper reports it in rover-centre cost space: a lethal disc at (10, 10) m with a
    # cost ramp 99 -> 0 over 0.6 m around it.
    rows, cols = np.ogrid[:200, :200]
    distance = np.hypot(rows + 0.5 - 100, cols + 0.5 - 100) * RES
    costmap = np.clip(np.rint(99 * (1 - (distance - 0.6) / 0.6)), 0, 99).astype(np.int8)
    costmap[distance <= 0.6] = LETHAL
    f = ArcFollower(config())
    f.set_plan(straight_plan(4, 10, 16, 10.2))
    decisions, trail = drive(f, costmap, GEO, (4.0, 10.0, 0.0))
    assert decisions[-1].status == "reached"
    values = cost_at(costmap, GEO, trail[:, 0], trail[:, 1])
    assert np.all(values < LETHAL)
    assert max(abs(d.curvature) for d in decisions) > 0.1  # it had to steer


def test_stops_and_reports_blocked_when_nothing_is_safe():
    costmap = np.zeros((200, 200), np.int8)
    costmap[:, 60:70] = LETHAL  # a wall right in front at x = 6 m
    f = ArcFollower(config())
    f.set_plan(straight_plan(5.5, 10, 15, 10))
    d = f.decide((5.5, 10.0, 0.0), costmap, GEO)
    assert d.status == "blocked" and d.vx == 0.0 and d.wz == 0.0
    assert d.reason.startswith("hazard: no safe arc")


def test_unknown_cells_follow_the_configured_policy():
    costmap = np.zeros((200, 200), np.int8)
    costmap[:, 55:200] = UNKNOWN
    f = ArcFollower(config())
    f.set_plan(straight_plan(5.0, 10, 15, 10))
    assert f.decide((5.0, 10.0, 0.0), costmap, GEO).status == "driving"
    strict = ArcFollower(FollowerConfig.from_rover_model(load_rover_model(), unknown_cost=None))
    strict.set_plan(straight_plan(5.0, 10, 15, 10))
    assert strict.decide((5.0, 10.0, 0.0), costmap, GEO).status == "blocked"


def test_bad_inputs_stop_the_rover():
    f = ArcFollower(config())
    free = np.zeros((200, 200), np.int8)
    assert f.decide((1.0, 1.0, 0.0), free, GEO).status == "no_plan"
    f.set_plan(straight_plan(2, 10, 8, 10))
    d = f.decide((math.nan, 1.0, 0.0), free, GEO)
    assert d.status == "blocked" and d.vx == 0.0 and d.wz == 0.0
    with pytest.raises(ValueError):
        f.set_plan(np.array([[0.0, math.inf]]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_closed_loop_on_random_costmap_reaches_goal_without_entering_lethal_cells(seed):
    rng = np.random.default_rng(seed)
    costmap = random_costmap((300, 300), RES, rng, walls=0, craters=1, unknown_patches=0)
    geo = GridGeometry(RES, 0.0, 0.0, 300, 300)
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geo)
    free = np.argwhere((costmap >= 0) & (costmap < 20))
    start = free[np.argmin(np.hypot(*(free - [30, 30]).T))]
    goal = free[np.argmin(np.hypot(*(free - [270, 260]).T))]
    start_xy, goal_xy = geo.cell_centres(np.array([start, goal]))
    result = planner.plan(start_xy, goal_xy)
    assert result.ok
    f = ArcFollower(config())
    f.set_plan(result.points)
    decisions, trail = drive(
        f, costmap, geo, (*start_xy, math.atan2(*(goal_xy - start_xy)[::-1])), steps=3000
    )
    assert decisions[-1].status == "reached", decisions[-1]
    assert np.all(cost_at(costmap, geo, trail[:, 0], trail[:, 1]) < LETHAL)
    kmax = 1 / f.config.min_turn_radius + 1e-9
    assert all(abs(d.curvature) <= kmax and abs(d.wz) <= f.config.max_yaw_rate + 1e-9 for d in decisions)
    assert all(d.vx <= f.config.max_speed + 1e-9 for d in decisions)


def test_decisions_are_deterministic():
    rng = np.random.default_rng(4)
    costmap = random_costmap((200, 200), RES, rng, walls=0, unknown_patches=0)
    plan = straight_plan(2, 2, 18, 17)
    a, b = ArcFollower(config()), ArcFollower(config())
    a.set_plan(plan)
    b.set_plan(plan)
    for pose in [(2.0, 2.0, 0.5), (3.0, 3.1, 0.7), (5.0, 4.5, 0.6)]:
        assert a.decide(pose, costmap, GEO) == b.decide(pose, costmap, GEO)


def test_drives_out_slowly_when_the_map_puts_the_rover_on_an_unsafe_cell():
    costmap = np.zeros((200, 200), np.int8)
    costmap[97:103, 97:103] = LETHAL  # a 0.6 m lethal patch under the rover at (10, 10)
    f = ArcFollower(config())
    f.set_plan(straight_plan(10, 10, 16, 10))
    d = f.decide((10.0, 10.0, 0.0), costmap, GEO)
    assert d.status == "driving" and d.vx == pytest.approx(f.config.min_speed)
    assert "escaping" in d.reason
    costmap[90:110, 90:130] = LETHAL  # unsafe ground reaching further than escape_length: stay put
    assert f.decide((10.0, 10.0, 0.0), costmap, GEO).status == "blocked"
