"""Launch the 'hardware' profile on the rover: no simulator; the sensor topics come from the drivers.

    ros2 launch rover_autonomy hardware.launch.py [left_image:=...] [rectify:=image_proc] [start_x:=...]

The drivers' topics, the rectification (none, image_proc or the stereo node's own) and the start pose
(map -> odom) are launch arguments whose defaults are config/hardware.yaml. robot_state_publisher serves
the URDF generated from config/rover.yaml; the nodes come from the graph description (profile
'hardware'); launch/rover.launch.py brings up the same. See docs/hardware.md.
"""

from rover_autonomy.bringup.launch_description import generate


def generate_launch_description():
    return generate("hardware")
