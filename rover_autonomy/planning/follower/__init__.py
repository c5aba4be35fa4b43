"""Node ``path_follower``: drives the plan with arc-based hazard avoidance.

:mod:`navigator` decides and owns ``navigation/state``, :mod:`recovery` gets the rover unstuck (no ROS in
either); :mod:`node` converts the messages.
"""
