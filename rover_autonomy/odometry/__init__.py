"""Wheel odometry with IMU fusion and slip detection (core modules + node)."""
