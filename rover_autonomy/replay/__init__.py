"""Record and replay: rosbag2 MCAP bags of the contract's topics, deterministic lockstep replay.

Pure cores (``rosbags``/``mcap``, no rclpy): :mod:`.bag` (writing, reading, stamps, ordering),
:mod:`.playlist` (what a replay plays and waits for), :mod:`.compare` (report and regression figures).
ROS layer: :mod:`.recorder_node`, :mod:`.player_node`. Commands: :mod:`.record_cli`, :mod:`.replay_cli`.
"""
