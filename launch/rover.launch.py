"""Bring up the stack on the real rover: the 'hardware' profile (same as launch/hardware.launch.py).

    ros2 launch rover_autonomy rover.launch.py [left_image:=...] [rectify:=image_proc] [start_x:=...]

Launch arguments and their defaults: config/hardware.yaml. See docs/hardware.md.
"""

from rover_autonomy.bringup.launch_description import generate


def generate_launch_description():
    return generate("hardware")
