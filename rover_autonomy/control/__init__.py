"""Node ``base_controller``: body twist to corner steering angles and wheel rates.

Core (no ROS): :mod:`base_controller` (limits, ramps, the command timeout and the steering wait);
:mod:`parameters` and :mod:`node` (ROS). Design: ``docs/base_controller.md``.
"""
