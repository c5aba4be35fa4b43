"""Launch the 'gazebo' profile: Gazebo Harmonic runs a Moon/Mars world and the rover; the stack is unchanged.

    ros2 launch rover_autonomy gazebo.launch.py world:=mars [camera_rate:=2.0] [gui:=false] [physics:=dartsim]

Starts `gz sim` (ros_gz_sim's gz_sim.launch.py) on the world's Gazebo export, robot_state_publisher
serving the URDF generated from config/rover.yaml, the rover spawned from `robot_description`
(ros_gz_sim create), the drive_controller and steer_controller forward-command controllers inside
Gazebo (gz_ros2_control, config/ros2_controllers.yaml), ros_gz_bridge (config/gz_bridge.yaml: cameras,
CameraInfo, IMU, joint states, clock), the static map -> odom at the world's start pose, and the
stack's nodes — all from the graph description (rover_autonomy/bringup/graph.py, profile 'gazebo').
Needs: apt install ros-$ROS_DISTRO-ros-gz ros-$ROS_DISTRO-gz-ros2-control ros-$ROS_DISTRO-ros2-controllers
(the launch stops with one line naming what is missing). See docs/gazebo.md.
"""

from rover_autonomy.bringup.launch_description import generate


def generate_launch_description():
    return generate("gazebo")
