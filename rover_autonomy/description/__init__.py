"""Descriptions of the rover and its worlds for external tools: URDF (robot_state_publisher, RViz,
Gazebo via ros_gz_sim) and Gazebo SDF worlds. Pure core: no ROS import."""
