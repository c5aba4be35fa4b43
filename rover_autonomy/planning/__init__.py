"""Navigation: global planning on the rover-centre costmap and arc-based hazard avoidance.

Cores shared by the nodes and the CLI (no ROS): :mod:`costs` (the one edge-cost model),
:mod:`grid_search` (A* kernel and its heuristic), :mod:`global_planner` (plans and incremental replans),
:mod:`arc_follower` (GESTALT/ENav-style arc selection), :mod:`ground_truth` (rover-centre costmaps from a
world's hazard layer), :mod:`actions` (what the node cores ask their nodes to log and report) and
:mod:`cli` (``rover-autonomy plan``). Each node has its folder with its own cores, ``parameters.py`` and
``node.py``: :mod:`planner` (``path_planner``) and :mod:`follower` (``path_follower``). Design and
parameters: ``docs/planning.md``.
"""
