"""Node ``path_planner``: goals to optimal plans on ``terrain/costmap``, kept current by replanning.

:mod:`goal_planner` decides (no ROS); :mod:`node` converts the messages.
"""
