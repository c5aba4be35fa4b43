"""Test harness: closed-loop drives and synthetic data for tests, benchmarks and calibration.

Nothing a node runs imports this package. :mod:`sim_drive` (plan -> controller core -> simulator ->
odometry, in one process), :mod:`drives` (synthetic joint states and IMU along a plan), :mod:`terrains`
(ground-truth terrains and simulated stereo clouds), :mod:`map_scoring` (maps against ground truth) and
:mod:`costmaps` (synthetic rover-centre costmaps).
"""
