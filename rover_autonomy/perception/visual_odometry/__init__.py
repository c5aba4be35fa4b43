"""Node ``visual_odometry``: cores :mod:`estimator` (KLT + PnP between frames) and :mod:`track` (steps to
pose, twist and covariances); :mod:`parameters` and :mod:`node` (ROS)."""
