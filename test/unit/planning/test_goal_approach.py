"""Goals the plan cannot end on (a lethal cell, a cell cut off from the rover): approached at the nearest
reachable safe point within the goal tolerance, said so in the plan status, judged reached against the
true goal by the follower; or refused with the point the planner would accept."""

import math

import numpy as np
import pytest

from rover_autonomy.contract import format_approach, parse_approach
from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.arc_follower import ArcFollower, FollowerConfig, cost_at
from rover_autonomy.planning.costs import LETHAL, UNKNOWN
from rover_autonomy.planning.follower.navigator import Navigator, NavigatorConfig, PublishState
from rover_autonomy.planning.follower.parameters import PARAMETERS as FOLLOWER_PARAMETERS
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.planning.ground_truth import rover_centre_costmap
from rover_autonomy.planning.planner.goal_planner import (
    GoalPlanner,
    GoalPlannerConfig,
    PublishPlan,
    PublishStatus,
    make_global_planner,
)
from rover_autonomy.planning.planner.parameters import PARAMETERS as PLANNER_PARAMETERS
from rover_autonomy.rover_model import load_rover_model

RES = 0.1
GEO = GridGeometry(RES, 0.0, 0.0, 100, 100)  # 10 m × 10 m
START = (1.05, 5.05)
GOAL = (8.05, 5.05)  # the centre of cell (50, 80)
TOLERANCE = 0.5  # [m]: points within 0.45 m of the goal are accepted (half a cell kept for stopping)


def rock_beside_goal() -> np.ndarray:
    """Free ground with a lethal block over x 7.8–9.1, y 4.0–6.1: the goal cell is 3 cells inside its
    west edge, so the nearest safe cell is (7.75, 5.05), 0.30 m from the goal."""
    costmap = np.zeros((100, 100), np.int8)
    costmap[40:61, 78:91] = LETHAL
    return costmap


def planned(costmap, tolerance=TOLERANCE, start=START, goal=GOAL):
    planner = GlobalPlanner(goal_tolerance=tolerance)
    planner.set_costmap(costmap, GEO)
    return planner, planner.plan(start, goal)


def end_of(result):
    return tuple(np.round(result.points[-1], 6))


# -- the planner's choice ------------------------------------------------------------------------------
def test_a_lethal_goal_is_approached_at_the_nearest_reachable_safe_point():
    costmap = rock_beside_goal()
    _, result = planned(costmap)
    assert result.ok, result.reason
    assert end_of(result) == (7.75, 5.05)
    assert result.approach.point == pytest.approx((7.75, 5.05))
    assert result.approach.distance == pytest.approx(0.30)
    assert result.approach.why == "goal cell lethal"
    assert np.all(costmap[result.cells[:, 0], result.cells[:, 1]] < LETHAL)


def test_a_free_cell_enclosed_by_lethal_cells_is_not_an_approach_point():
    costmap = rock_beside_goal()
    costmap[50, 81] = 0  # 0.1 m from the goal, but nothing reaches it
    _, result = planned(costmap)
    assert result.ok and end_of(result) == (7.75, 5.05)


def test_among_near_equal_distances_the_cheaper_point_wins_and_ties_break_the_same_way_every_time():
    costmap = rock_beside_goal()
    costmap[50, 77] = 60  # the nearest safe cell (0.30 m) is costly; two free ones lie at 0.32 m
    ends = {end_of(planned(costmap)[1]) for _ in range(3)}
    assert ends == {(7.75, 4.95)}  # of the two equal free cells, the lower row
    costmap[40:61, 76:78] = 60  # every candidate costly: the nearest wins again
    assert end_of(planned(costmap)[1]) == (7.75, 5.05)


def test_a_goal_cut_off_from_the_rover_is_approached_from_the_rovers_side():
    costmap = np.zeros((100, 100), np.int8)
    costmap[43:58, 75:88] = LETHAL
    costmap[45:56, 77:86] = 0  # a free pocket around the goal, closed by a ring two cells thick
    _, result = planned(costmap, tolerance=1.0)  # the ring's outside is 0.6 m west, 0.8 m elsewhere
    assert result.ok, result.reason
    assert end_of(result) == (7.45, 5.05) and result.approach.why == "goal cut off"


def test_unknown_cells_are_not_approach_points():
    costmap = rock_beside_goal()
    costmap[40:61, 76:78] = UNKNOWN  # the two columns west of the rock are unmapped
    _, result = planned(costmap, tolerance=0.6)
    assert result.ok and end_of(result) == (7.55, 5.05)  # the nearest known safe cell, 0.50 m away
    costmap[40:61, 75] = UNKNOWN
    _, result = planned(costmap, tolerance=0.6)
    assert not result.ok and "(7.45, 5.05) is 0.60 m away" in result.reason


def test_with_no_safe_point_within_the_tolerance_the_reason_names_the_nearest_reachable_one():
    costmap = np.zeros((100, 100), np.int8)
    costmap[30:71, 70:96] = LETHAL
    costmap[50, 75] = 0  # a pocket 0.5 m from the goal: not reachable, so not named
    _, result = planned(costmap)
    assert not result.ok
    assert result.reason == (
        "goal is on a lethal cell (cost 100); nearest reachable safe point (6.95, 5.05) is 1.10 m away;"
        " the 0.5 m goal tolerance accepts points within 0.45 m"
    )
    walled = np.zeros((100, 100), np.int8)
    walled[:, 60:63] = LETHAL  # a wall across the map: the free goal is cut off
    _, result = planned(walled)
    assert result.reason == (
        "no path: the goal is cut off from the rover by lethal cells; nearest reachable safe point"
        " (5.95, 5.05) is 2.10 m away; the 0.5 m goal tolerance accepts points within 0.45 m"
    )


def test_a_refusal_says_so_when_the_rover_reaches_no_known_safe_cell():
    costmap = np.full((100, 100), UNKNOWN, np.int8)  # nothing mapped yet but the rock under the goal
    costmap[45:56, 75:86] = LETHAL
    _, result = planned(costmap)
    assert (
        result.reason
        == "goal is on a lethal cell (cost 100); the rover reaches no known safe cell on the costmap"
    )


def test_the_point_must_lie_half_a_cell_inside_the_tolerance():
    costmap = rock_beside_goal()
    _, result = planned(costmap, tolerance=0.34)  # accepts 0.29 m: the safe cell at 0.30 m is beyond
    assert not result.ok and "(7.75, 5.05) is 0.30 m away" in result.reason
    _, result = planned(costmap, tolerance=0.35)
    assert result.ok and end_of(result) == (7.75, 5.05)


# -- replanning ------------------------------------------------------------------------------------
def test_a_goal_the_map_turns_lethal_is_replanned_to_the_approach_point_and_back():
    free = np.zeros((100, 100), np.int8)
    planner, first = planned(free)
    assert first.ok and first.approach is None and end_of(first) == GOAL
    planner.set_costmap(rock_beside_goal(), GEO)
    result = planner.replan((4.05, 5.05))
    assert result.ok, result.reason
    assert end_of(result) == (7.75, 5.05) and result.approach.why == "goal cell lethal"
    planner.set_costmap(free, GEO)  # the rock was map noise
    result = planner.replan((5.05, 5.05))
    assert result.ok and result.approach is None and end_of(result) == GOAL


def two_equal_points() -> np.ndarray:
    """The cell due west of the goal lethal too: (7.75, 4.95) and (7.75, 5.15) are equally good."""
    costmap = rock_beside_goal()
    costmap[50, 77] = LETHAL
    return costmap


def test_replans_keep_the_approach_point_while_it_stays_safe():
    costmap = two_equal_points()
    planner, first = planned(costmap)
    assert end_of(first) == (7.75, 4.95)
    changed = costmap.copy()
    changed[49, 77] = 30  # still safe, but a fresh choice now prefers the other point
    assert end_of(planned(changed)[1]) == (7.75, 5.15)
    planner.set_costmap(changed, GEO)
    assert end_of(planner.replan(START)) == (7.75, 4.95)
    assert end_of(planner.plan(START, GOAL)) == (7.75, 4.95)  # a full replan keeps it too
    changed[49, 77] = LETHAL  # now it is not safe: the other point
    planner.set_costmap(changed, GEO)
    assert end_of(planner.replan(START)) == (7.75, 5.15)


def test_a_clearly_nearer_point_replaces_the_kept_one():
    costmap = two_equal_points()
    planner, _ = planned(costmap)
    opened = costmap.copy()
    opened[50, 77:80] = 0  # a notch to the cell beside the goal, 0.1 m from it
    planner.set_costmap(opened, GEO)
    assert end_of(planner.replan(START)) == (7.95, 5.05)


def test_a_new_goal_does_not_keep_the_last_goals_point():
    planner, first = planned(two_equal_points())
    assert end_of(first) == (7.75, 4.95)
    # 1 cm north-west: (7.75, 5.15) is now nearest; the last goal's point would be within half a cell.
    assert end_of(planner.plan(START, (8.04, 5.06))) == (7.75, 5.15)


# -- the plan status ---------------------------------------------------------------------------------
def test_the_approach_clause_round_trips():
    clause = format_approach((4.75, -0.05), (5.0, 0.0), "goal cell lethal")
    assert clause == "to (4.75, -0.05), 0.25 m from the goal (5.00, 0.00) in odom (goal cell lethal)"
    reason = f"48 cells, cost 5.1 (full) {clause}"
    assert parse_approach(reason) == ((4.75, -0.05), (5.0, 0.0))
    for other in ("48 cells, cost 5.1 (full)", "unchanged, the follower reports hazards on it", ""):
        assert parse_approach(other) is None


S = 1_000_000_000  # one second [ns]
ORIGIN = -10.0  # the goal planner's 20 m × 20 m costmap around the odom origin


def goal_planner(tolerance=TOLERANCE) -> GoalPlanner:
    values = {spec.name: spec.default for spec in PLANNER_PARAMETERS} | {"goal_tolerance": tolerance}
    core = GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))
    core.start()
    return core


def rock_at_five() -> np.ndarray:
    """A lethal block over x 4.8–6.1, y −1.0–1.1 in odom: the goal (5, 0) is on it, 0.25 m inside."""
    costs = np.zeros((200, 200), np.int8)
    costs[90:111, 148:161] = LETHAL
    return costs


def statuses(actions):
    return [a.text for a in actions if isinstance(a, PublishStatus)]


def test_the_plan_status_says_where_the_plan_ends_and_why():
    core = goal_planner()
    core.set_costmap(rock_at_five(), RES, ORIGIN, ORIGIN, 1 * S, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    actions = core.set_goal("odom", 5.0, 0.0, 1 * S)
    (plan,) = [a for a in actions if isinstance(a, PublishPlan)]
    assert tuple(np.round(plan.points[-1], 6)) == (4.75, -0.05)
    text = statuses(actions)[-1]
    assert text.startswith(f"planned: {len(plan.points)} cells, cost ")
    assert text.endswith(
        "(full) to (4.75, -0.05), 0.25 m from the goal (5.00, 0.00) in odom (goal cell lethal)"
    )


def test_a_goal_the_map_turns_lethal_gets_the_approach_point_on_the_next_costmap():
    core = goal_planner()
    core.set_costmap(np.zeros((200, 200), np.int8), RES, ORIGIN, ORIGIN, 1 * S, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    core.set_goal("odom", 5.0, 0.0, 1 * S)
    core.set_pose(3.0, 0.0, 2 * S, 2 * S)
    actions = core.set_costmap(rock_at_five(), RES, ORIGIN, ORIGIN, 2 * S, 2 * S)
    (plan,) = [a for a in actions if isinstance(a, PublishPlan)]
    assert tuple(np.round(plan.points[-1], 6)) == (4.75, -0.05)
    assert statuses(actions)[-1].endswith("0.25 m from the goal (5.00, 0.00) in odom (goal cell lethal)")


def test_a_goal_with_no_safe_point_within_the_tolerance_fails_naming_the_nearest():
    core = goal_planner(tolerance=0.25)
    core.set_costmap(rock_at_five(), RES, ORIGIN, ORIGIN, 1 * S, 1 * S)
    core.set_pose(0.0, 0.0, 1 * S, 1 * S)
    actions = core.set_goal("odom", 5.0, 0.0, 1 * S)
    assert statuses(actions)[-1] == (
        "failed: goal is on a lethal cell (cost 100); nearest reachable safe point (4.75, -0.05) is 0.25 m"
        " away; the 0.25 m goal tolerance accepts points within 0.20 m"
    )


# -- the follower judges the true goal ------------------------------------------------------------------
FOLLOWER = {spec.name: spec.default for spec in FOLLOWER_PARAMETERS} | {"goal_tolerance": TOLERANCE}


def test_an_approached_goal_is_reached_within_the_tolerance_of_the_goal_not_of_the_plans_end():
    follower = ArcFollower(FollowerConfig.from_rover_model(load_rover_model(), goal_tolerance=TOLERANCE))
    costmap = rock_beside_goal()
    plan = np.column_stack([np.arange(1.05, 7.76, 0.1), np.full(68, 5.05)])  # ends at (7.75, 5.05)
    follower.set_plan(plan)
    follower.approach = ((7.75, 5.05), GOAL)
    # 0.45 m short of the plan's end, 0.75 m from the goal: not there yet.
    assert follower.decide((7.3, 5.05, 0.0), costmap, GEO).status != "reached"
    reached = follower.decide((7.6, 5.05, 0.0), costmap, GEO)
    assert reached.status == "reached" and reached.reason == "within 0.45 m of the goal"
    # A plan ending elsewhere is not judged against that goal.
    follower.set_plan(plan[:40])
    assert follower.decide((4.9, 5.05, 0.0), costmap, GEO).status == "reached"


def test_a_named_goal_beyond_the_followers_tolerance_is_not_judged_against():
    # The planner's tolerance set larger than the follower's: the plan's end is judged, as for any plan.
    follower = ArcFollower(FollowerConfig.from_rover_model(load_rover_model(), goal_tolerance=0.2))
    plan = np.column_stack([np.arange(1.05, 7.76, 0.1), np.full(68, 5.05)])
    follower.set_plan(plan)
    follower.approach = ((7.75, 5.05), GOAL)
    assert follower.decide((7.6, 5.05, 0.0), rock_beside_goal(), GEO).status == "reached"


def test_the_navigator_takes_the_true_goal_from_the_plan_status_and_keeps_it_across_parameter_changes():
    core = Navigator(NavigatorConfig.from_parameters(FOLLOWER, load_rover_model()))
    core.start()
    costs = rock_at_five()
    plan = np.column_stack([np.arange(0.05, 4.76, 0.1), np.full(48, -0.05)])  # ends at (4.75, -0.05)
    core.set_costmap(costs, RES, ORIGIN, ORIGIN, 1 * S)
    core.set_plan(plan, "odom")
    core.on_plan_status(
        "planned: 48 cells, cost 4.7 (full) to (4.75, -0.05), 0.25 m from the goal (5.00, 0.00) in odom"
        " (goal cell lethal)"
    )
    core.reconfigure(NavigatorConfig.from_parameters(FOLLOWER, load_rover_model()))
    core.set_pose(4.3, 0.0, 0.0, 2 * S, 2 * S)  # within 0.5 m of the plan's end but 0.7 m from the goal
    assert not core.state.startswith("reached"), core.state
    assert PublishState("reached: within 0.40 m of the goal") in core.set_pose(4.6, 0.0, 0.0, 3 * S, 3 * S)


@pytest.mark.parametrize("bearing", [0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi])
def test_closed_loop_the_rover_stops_within_the_tolerance_of_a_goal_beside_a_rock(bearing):
    # A rock 0.3 m in radius, in rover-centre cost space (lethal out to the footprint's inscribed radius,
    # a ramp beyond); the goal 0.3 m off its edge is on a lethal cell, its approach point beside them.
    model = load_rover_model()
    geometry = GridGeometry(RES, 0.0, 0.0, 200, 200)
    rows, cols = np.mgrid[0:200, 0:200]
    rock = np.hypot((cols + 0.5) * RES - 12.0, (rows + 0.5) * RES - 10.0) <= 0.3
    costmap = rover_centre_costmap(rock, RES, model)
    goal = (12.0 + 0.6 * math.cos(bearing), 10.0 + 0.6 * math.sin(bearing))
    start = (3.05, 10.05)
    planner = GlobalPlanner(goal_tolerance=TOLERANCE)
    planner.set_costmap(costmap, geometry)
    result = planner.plan(start, goal)
    assert result.ok and result.approach is not None, result.reason
    follower = ArcFollower(FollowerConfig.from_rover_model(model, goal_tolerance=TOLERANCE))
    follower.set_plan(result.points)
    follower.approach = (result.approach.point, goal)
    x, y, yaw = (*start, 0.0)
    trail = []
    for _ in range(3000):
        decision = follower.decide((x, y, yaw), costmap, geometry)
        if decision.status in ("reached", "blocked"):
            break
        yaw += decision.wz * 0.1
        x += decision.vx * math.cos(yaw) * 0.1
        y += decision.vx * math.sin(yaw) * 0.1
        trail.append((x, y))
    # Arcs need only be safe until the rover is within the tolerance: it is not refused beside the rock.
    assert decision.status == "reached", decision
    assert math.hypot(x - goal[0], y - goal[1]) <= TOLERANCE
    trail = np.array(trail)
    assert np.all(cost_at(costmap, geometry, trail[:, 0], trail[:, 1]) < LETHAL)
