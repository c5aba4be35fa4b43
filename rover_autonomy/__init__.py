"""rover_autonomy: an autonomy stack for planetary rovers on ROS 2."""

__version__ = "0.1.0"
