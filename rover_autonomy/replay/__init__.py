"""Record and replay: rosbag2 MCAP bags of the contract's topics, deterministic lockstep replay.

Pure cores (``rosbags``/``mcap``, no rclpy): :mod:`.bag` (writing, reading, stamps, ordering),
:mod:`.playlist` (what a replay plays and waits for), :mod:`.compare` (report and regression figures),
:mod:`.quiescence` (whether the node processes are idle). ROS layer: :mod:`.recorder_node`,
:mod:`.player_node` (the lockstep player), :mod:`.domain_node` (a free DDS domain, large-data
transports). :mod:`.session` runs a whole replay over them. Commands: :mod:`.record_cli`,
:mod:`.replay_cli`.
"""
