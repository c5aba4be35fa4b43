"""Test-session isolation: every session gets its own DDS domain, discovery stays on this host."""

import os
import random

# Set at import time, before any test (or child process it starts) initialises rclpy.
os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
