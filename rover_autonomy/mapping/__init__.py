"""Terrain mapping: a 2.5D elevation map fused from stereo clouds, traversability and a rover-centre costmap.

Pure core (numpy, scipy, numba): :mod:`grid` (the layered rolling map), :mod:`poses` (pose buffer),
:mod:`fusion` (stereo noise model and Kalman fusion), :mod:`traversability` (the layer chain),
:mod:`clearance` (the rocker-bogie clearance check) and :mod:`mapper` (the pipeline the node drives);
:mod:`parameters` is the node's spec table and :mod:`node` its ROS side.
"""
