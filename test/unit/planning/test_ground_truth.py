"""Ground-truth rover-centre costmaps and kinematic drives on the shipped Mars world."""

import math

import numpy as np
import pytest

from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig, cost_at
from rover_autonomy.planning.costs import LETHAL
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.planning.ground_truth import footprint_radii, rover_centre_costmap, world_costmap
from rover_autonomy.rover_model import load_rover_model
from rover_autonomy.worlds import load_world

MODEL = load_rover_model()


def test_footprint_radii_from_rover_model():
    inscribed, circumscribed = footprint_radii(MODEL)
    assert inscribed == pytest.approx(0.55 + 0.16 / 2)  # half track + half wheel width
    assert circumscribed == pytest.approx(math.hypot(0.63, 0.65 + 0.13))


def test_rover_centre_cost_of_a_single_hazard_node():
    hazard = np.zeros((81, 81), np.uint8)
    hazard[40, 40] = 4
    cost = rover_centre_costmap(hazard, 0.1, MODEL)
    inscribed, circumscribed = footprint_radii(MODEL)
    rows, cols = np.indices(cost.shape)
    distance = np.hypot(rows - 40, cols - 40) * 0.1
    assert np.all(cost[distance <= inscribed] == LETHAL)
    assert np.all(cost[(distance > inscribed + 1e-9) & (distance <= circumscribed)] < LETHAL)
    assert np.all(cost[distance > circumscribed + 0.5] == 0)
    ramp = cost[40, 40 + 7 : 40 + 16]  # from just outside the inscribed radius outwards
    assert np.all(np.diff(ramp.astype(int)) <= 0)


def drive(follower, costmap, geometry, pose, dt=0.1, steps=4000):
    x, y, yaw = pose
    trail = []
    for _ in range(steps):
        decision = follower.decide((x, y, yaw), costmap, geometry)
        if decision.status in ("reached", "blocked"):
            return decision, np.array(trail)
        yaw += decision.wz * dt
        x += decision.vx * math.cos(yaw) * dt
        y += decision.vx * math.sin(yaw) * dt
        trail.append((x, y, yaw))
    return decision, np.array(trail)


@pytest.mark.parametrize(("distance", "bearing"), [(20.0, 0.3), (25.0, -0.6), (30.0, 0.0)])
def test_mars_goals_20_to_30_m_reached_without_hazard_under_the_rover(distance, bearing):
    world = load_world("mars")
    costmap, geometry = world_costmap(world, MODEL)
    start = world.start
    goal = (start.x + distance * math.cos(bearing), start.y + distance * math.sin(bearing))
    planner = GlobalPlanner()
    planner.set_costmap(costmap, geometry)
    result = planner.plan((start.x, start.y), goal)
    if not result.ok and "lethal" in result.reason:  # goal on a hazard: take the nearest free cell
        free = np.argwhere(costmap < 30)
        cell = free[np.argmin(np.hypot(*(geometry.cell_centres(free) - goal).T))]
        goal = tuple(geometry.cell_centres(cell[None])[0])
        result = planner.plan((start.x, start.y), goal)
    assert result.ok, result.reason
    follower = ArcFollower(FollowerConfig.from_rover_model(MODEL))
    follower.set_plan(result.points)
    decision, trail = drive(follower, costmap, geometry, (start.x, start.y, start.yaw))
    assert decision.status == "reached", decision
    assert np.all(cost_at(costmap, geometry, trail[:, 0], trail[:, 1]) < LETHAL)
    # No hazard node under the wheel footprint (wheel contact rectangle) at any pose.
    half_base, half_track = 0.65 + 0.13, 0.55 + 0.08
    u, v = (
        a.ravel()
        for a in np.meshgrid(np.linspace(-half_base, half_base, 9), np.linspace(-half_track, half_track, 7))
    )
    c, s = np.cos(trail[:, 2:3]), np.sin(trail[:, 2:3])
    x = trail[:, 0:1] + c * u - s * v
    y = trail[:, 1:2] + s * u + c * v
    under = world.grid.bilinear(world.hazard.astype(float), x, y) > 0
    assert not under.any()


def test_plan_command(tmp_path, capsys):
    from rover_autonomy.cli import main

    png = tmp_path / "plan.png"
    assert main(["plan", "--goal", "0", "5", "--drive", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "on mars" in out and "drive: reached" in out
    assert png.stat().st_size > 1000
    assert main(["plan", "--goal", "100", "5"]) == 1
    assert "outside the costmap" in capsys.readouterr().err
    assert main(["plan", "--world", "venus", "--goal", "1", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "venus" in err
    assert main(["plan", "--goal", "1", "1", "--cost-weight", "-1"]) == 2
