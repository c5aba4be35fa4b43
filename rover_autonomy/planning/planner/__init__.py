"""Node ``path_planner``: goals to optimal plans on ``terrain/costmap``, kept current by replanning."""
