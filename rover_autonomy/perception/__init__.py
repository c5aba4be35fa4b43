"""Stereo perception: image pairs to disparity and a point cloud, and stereo visual odometry.

Shared by both nodes (no ROS): :mod:`camera` (calibration from CameraInfo fields), :mod:`images`
(encodings to grey), :mod:`rectify` and :mod:`sync` (left/right pairing). Each node has its folder:
:mod:`stereo` (``stereo_processor``) and :mod:`visual_odometry` (``visual_odometry``), each with its
cores, ``parameters.py`` and ``node.py``.
"""
