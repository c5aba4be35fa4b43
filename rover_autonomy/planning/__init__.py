"""Navigation: global planning on the rover-centre costmap and arc-based hazard avoidance.

Cores (no ROS): ``costs`` (the one edge-cost model), ``grid_search`` (A* kernel), ``global_planner``,
``arc_follower``, ``synthetic_costmaps``. Nodes: ``planner_node`` (path_planner), ``follower_node``
(path_follower).
"""
