"""Launch the 'gazebo' profile of rover_autonomy (nodes, parameters and remappings from the graph description).

The same graph runs without launch_ros through: rover-autonomy launch gazebo
"""

from rover_autonomy.bringup.launch_description import generate


def generate_launch_description():
    return generate("gazebo")
