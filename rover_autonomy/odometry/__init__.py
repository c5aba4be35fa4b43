"""Node ``wheel_odometry``: wheel odometry fused with the IMU and visual odometry, with slip detection.

Cores (no ROS): :mod:`config` (the estimator's settings), :mod:`inputs` (joint states and IMU samples in
stamp order), :mod:`wheels` (body velocity from the wheels), :mod:`ekf` (the 15-state filter),
:mod:`slip` (slip versus slope), :mod:`visual_fusion` (visual odometry increments as delayed relative
corrections), :mod:`estimator` (the pipeline the node drives) and :mod:`calibration` (fitting the slip
model to a drive with ground truth); :mod:`parameters` and :mod:`node` (ROS); :mod:`cli`
(``rover-autonomy calibrate-slip``). Design: ``docs/odometry.md``.
"""
