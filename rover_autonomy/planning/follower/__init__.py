"""Node ``path_follower``: drives the plan with arc-based hazard avoidance; :mod:`recovery` gets it unstuck."""
