"""One costmap semantics for planner and follower: keep-out discs, lethal and unknown cells."""

import numpy as np
import pytest

from rover_autonomy.geometry import GridGeometry
from rover_autonomy.planning.costs import LETHAL, UNKNOWN, CostModel
from rover_autonomy.planning.follower.navigator import KeepOut, Navigator, NavigatorConfig
from rover_autonomy.planning.follower.parameters import PARAMETERS as FOLLOWER_PARAMETERS
from rover_autonomy.planning.global_planner import GlobalPlanner
from rover_autonomy.planning.keep_out import (
    KeepOutPlace,
    clear_of,
    enclosing_radius,
    mark_keep_out,
    spared,
)
from rover_autonomy.planning.planner.goal_planner import (
    GoalPlanner,
    GoalPlannerConfig,
    PublishPlan,
    PublishStatus,
    make_global_planner,
)
from rover_autonomy.planning.planner.parameters import PARAMETERS as PLANNER_PARAMETERS
from rover_autonomy.rover_model import load_rover_model

S = 1_000_000_000
STEP = S // 10
GEO = GridGeometry(0.1, -5.0, -5.0, 100, 100)
RES, ORIGIN = 0.1, -10.0
GEO_200 = GridGeometry(RES, ORIGIN, ORIGIN, 200, 200)  # the navigators' 20 m × 20 m costmap


def test_keep_out_discs_are_lethal_and_plans_go_round_them():
    costs = np.zeros((100, 100), np.int8)
    places = [KeepOutPlace(0.0, 0.0, 0.5), KeepOutPlace(40.0, 0.0, 0.5)]  # the second is off the map
    marked = mark_keep_out(costs, GEO, places)
    assert costs.max() == 0  # the input is left alone
    centres_x = GEO.origin_x + (np.arange(100) + 0.5) * GEO.resolution
    cx, cy = np.meshgrid(centres_x, centres_x)
    assert np.array_equal(marked == LETHAL, np.hypot(cx, cy) <= 0.5)
    assert mark_keep_out(costs, GEO, []) is costs

    planner = GlobalPlanner(CostModel())
    planner.set_costmap(marked, GEO, keep_out_radius=0.5)
    result = planner.plan((-2.0, 0.0), (2.0, 0.0))
    assert result.ok
    assert np.hypot(result.points[:, 0], result.points[:, 1]).min() > 0.5


def test_each_place_has_its_own_radius():
    costs = np.zeros((100, 100), np.int8)
    marked = mark_keep_out(costs, GEO, [KeepOutPlace(-2.0, 0.0, 0.3), KeepOutPlace(2.0, 0.0, 1.0)])
    assert marked[GEO.to_cell(-2.0, 0.25)] == LETHAL and marked[GEO.to_cell(-2.0, 0.45)] == 0
    assert marked[GEO.to_cell(2.0, 0.95)] == LETHAL and marked[GEO.to_cell(2.0, 1.15)] == 0


def test_a_keep_out_place_near_the_goal_leaves_the_goal_free():
    costs = np.zeros((100, 100), np.int8)
    goal = (0.6, 0.0)
    places = [KeepOutPlace(0.0, 0.0, 0.5), KeepOutPlace(0.62, 0.0, 0.5)]
    marked = mark_keep_out(costs, GEO, places, spare=goal)
    # The disc round (0, 0) shrank to the goal cell's centre (0.55, 0.05) less a cell: 0.45 m.
    assert marked[GEO.to_cell(*goal)] == 0
    assert marked[GEO.to_cell(0.0, 0.0)] == LETHAL and marked[GEO.to_cell(0.35, 0.0)] == LETHAL
    assert marked[GEO.to_cell(0.45, 0.0)] == 0  # its centre (0.45, 0.05) lies 0.453 m away
    assert marked[GEO.to_cell(0.65, 0.0)] == 0  # on the goal: the second place marks nothing
    planner = GlobalPlanner(CostModel())
    planner.set_costmap(marked, GEO, keep_out_radius=0.5)
    assert planner.plan((-2.0, 0.0), goal).ok


def test_a_disc_spares_the_cell_of_the_spared_point_wherever_in_the_cell_it_lies():
    # The planner spares its goal, the follower the plan's end: the centre of the goal's cell.
    costs = np.zeros((100, 100), np.int8)
    places = [KeepOutPlace(0.0, 0.0, 0.5)]
    by_goal = mark_keep_out(costs, GEO, places, spare=(0.41, 0.02))
    by_cell_centre = mark_keep_out(costs, GEO, places, spare=(0.45, 0.05))
    assert np.array_equal(by_goal, by_cell_centre)


def test_enclosing_radius_is_the_largest_disc_holding_the_point():
    places = [KeepOutPlace(0.0, 0.0, 0.5), KeepOutPlace(0.8, 0.0, 0.6), KeepOutPlace(5.0, 0.0, 2.0)]
    assert enclosing_radius(places, 0.45, 0.0) == 0.6  # in the first two
    assert enclosing_radius(places, -0.45, 0.0) == 0.5
    assert enclosing_radius(places, -3.0, 0.0) == 0.0
    assert enclosing_radius([], 0.0, 0.0) == 0.0


def _stuck_follower_and_its_place(costs):
    """A navigator driving +x from the origin that gets stuck, backs up and reports its keep-out place."""
    values = {spec.name: spec.default for spec in FOLLOWER_PARAMETERS} | {
        "stuck_window": 1.0,
        "backup_distance": 0.6,
    }
    core = Navigator(NavigatorConfig.from_parameters(values, load_rover_model()))
    core.start()
    core.set_costmap(costs, RES, ORIGIN, ORIGIN, 1 * S)
    core.set_plan(np.column_stack([np.arange(0.0, 5.01, 0.1), np.zeros(51)]), "odom")
    stamp = 1 * S
    for _ in range(11):  # commanded 0.4 m/s, the odometry stays at the origin: stuck
        core.set_pose(0.0, 0.0, 0.0, stamp, stamp)
        stamp += STEP
    places = []
    for x in (-0.3, -0.65):  # backing up
        places += [a for a in core.set_pose(x, 0.0, 0.0, stamp, stamp) if isinstance(a, KeepOut)]
        stamp += STEP
    assert places
    return core, places, stamp


@pytest.mark.parametrize("allow_unknown", [True, False])
def test_planner_and_follower_forbid_the_same_cells(allow_unknown):
    costs = np.zeros((200, 200), np.int8)
    costs[60:70, 120:140] = LETHAL  # a rock
    costs[130:150, 80:95] = UNKNOWN  # unmapped ground
    costs[100:110, 150:160] = 99  # costly but passable
    follower, places, stamp = _stuck_follower_and_its_place(costs)
    values = {spec.name: spec.default for spec in PLANNER_PARAMETERS} | {"allow_unknown": allow_unknown}
    planner = GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))
    planner.set_costmap(costs, RES, ORIGIN, ORIGIN, stamp, stamp)
    planner.set_pose(-0.65, 0.0, stamp, stamp)
    planner.set_goal("odom", 5.0, 0.0, stamp)
    for place in places:
        planner.add_keep_out("odom", place.x, place.y, place.radius, stamp)
    follower.reconfigure(
        NavigatorConfig.from_parameters(
            {spec.name: spec.default for spec in FOLLOWER_PARAMETERS} | {"allow_unknown": allow_unknown},
            load_rover_model(),
        )
    )
    follower.set_plan(np.column_stack([np.arange(-0.6, 5.01, 0.1), np.zeros(57)]), "odom")

    planned_costs, planned_geometry = planner.costmap
    assert planned_geometry.resolution == RES
    # The planner's grid may have grown to hold the goal; compare on the costmap's own cells.
    row0 = round((ORIGIN - planned_geometry.origin_y) / RES)
    col0 = round((ORIGIN - planned_geometry.origin_x) / RES)
    planner_view = planned_costs[row0 : row0 + 200, col0 : col0 + 200]
    planner_forbids = make_global_planner(values).cost_model.forbidden(planner_view)
    follower_forbids = follower.passability.forbidden(follower.costmap)
    assert planner_forbids[100, 106]  # the keep-out disc, ahead of where the rover got stuck
    assert np.array_equal(planner_forbids, follower_forbids)


def test_an_approached_goal_s_point_lies_clear_of_the_discs_and_both_nodes_mark_the_same_cells():
    # A disc round where the rover got stuck, (0.63, 0) r 0.5, and a rock wall east of x = 1.1 with the
    # goal on it: sparing the goal shrinks the disc to 0.42 m; the nearest safe cells west of the goal lie
    # outside it but within a cell of it.
    costs = np.zeros((200, 200), np.int8)
    follower, places, stamp = _stuck_follower_and_its_place(costs)
    (place,) = places
    costs[95:106, 111:] = LETHAL  # x ≥ 1.1, y −0.5 … 0.6
    goal = (1.14, 0.04)
    values = {spec.name: spec.default for spec in PLANNER_PARAMETERS} | {"goal_tolerance": 0.5}
    planner = GoalPlanner(GoalPlannerConfig.from_parameters(values), make_global_planner(values))
    planner.start()
    planner.set_costmap(costs, RES, ORIGIN, ORIGIN, stamp, stamp)
    planner.set_pose(-0.65, 0.0, stamp, stamp)
    planner.set_goal("odom", *goal, stamp)
    actions = planner.add_keep_out("odom", place.x, place.y, place.radius, stamp)
    (plan,) = [a for a in actions if isinstance(a, PublishPlan)]
    (status,) = [a.text for a in actions if isinstance(a, PublishStatus)][-1:]
    assert status.endswith("from the goal (1.14, 0.04) in odom (goal cell lethal)")
    end = plan.points[-1]
    # Never in the disc, and at least a cell clear of it as spared for the goal: sparing the plan's end
    # as well shrinks no disc.
    (disc,) = spared([KeepOutPlace(place.x, place.y, place.radius)], GEO_200, goal)
    assert disc.radius == pytest.approx(np.hypot(1.15 - 0.63, 0.05) - RES)
    assert np.hypot(end[0] - place.x, end[1] - place.y) >= disc.radius + RES - 1e-9
    assert np.hypot(end[0] - goal[0], end[1] - goal[1]) <= 0.5 - RES / 2
    assert (
        mark_keep_out(costs, GEO_200, [KeepOutPlace(place.x, place.y, place.radius)], spare=goal)[
            GEO_200.to_cell(1.05, 0.05)
        ]
        == 0
    )  # the cell beside the goal is outside the disc, yet too near it to end on

    follower.reconfigure(
        NavigatorConfig.from_parameters(
            {spec.name: spec.default for spec in FOLLOWER_PARAMETERS} | {"goal_tolerance": 0.5},
            load_rover_model(),
        )
    )
    follower.set_costmap(costs, RES, ORIGIN, ORIGIN, stamp)
    follower.set_plan(plan.points, "odom")
    follower.on_plan_status(status)  # names the true goal: spared as the planner spares it
    planned_costs, planned_geometry = planner.costmap
    row0 = round((ORIGIN - planned_geometry.origin_y) / RES)
    col0 = round((ORIGIN - planned_geometry.origin_x) / RES)
    planner_view = planned_costs[row0 : row0 + 200, col0 : col0 + 200]
    planner_forbids = make_global_planner(values).cost_model.forbidden(planner_view)
    follower_forbids = follower.passability.forbidden(follower.costmap)
    assert planner_forbids[GEO_200.to_cell(place.x, place.y)]
    assert np.array_equal(planner_forbids, follower_forbids)


def test_several_points_are_spared_at_once():
    costs = np.zeros((100, 100), np.int8)
    places = [KeepOutPlace(0.0, 0.0, 0.5)]
    both = mark_keep_out(costs, GEO, places, spare=[(0.65, 0.05), (0.35, 0.05)])
    assert np.array_equal(both, mark_keep_out(costs, GEO, places, spare=(0.35, 0.05)))
    assert both[GEO.to_cell(0.35, 0.05)] == 0 and both[GEO.to_cell(0.15, 0.05)] == LETHAL
    assert spared(places, GEO, [(0.05, 0.05)]) == []  # a spared point at the centre: no disc left
    assert clear_of(places, RES, np.array([0.6, 0.55]), np.array([0.0, 0.0])).tolist() == [True, False]
