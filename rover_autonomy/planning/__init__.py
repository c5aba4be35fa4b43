"""Navigation: global planning on the rover-centre costmap and arc-based hazard avoidance.

Cores (no ROS): ``costs`` (the one edge-cost model), ``grid_search`` (A* kernel and its heuristic),
``global_planner`` (plans and incremental replans), ``arc_follower`` (GESTALT/ENav-style arc selection),
``synthetic_costmaps`` (test and benchmark maps), ``ground_truth`` (rover-centre costmaps from a world's
hazard layer) and ``cli`` (``rover-autonomy plan``). Nodes: ``planner_node`` (``path_planner``) and
``follower_node`` (``path_follower``). Design and parameters: ``docs/planning.md``.
"""
