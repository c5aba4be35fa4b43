"""Stereo perception: rectified (or raw) image pairs to disparity and a point cloud.

The core modules here are ROS-free (numpy + OpenCV + numba); ``stereo_node`` is the thin ROS node.
"""
