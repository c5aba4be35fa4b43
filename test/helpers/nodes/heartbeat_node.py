"""Heartbeat: a minimal RoverNode used to test the launcher (publishes its name on `heartbeat`)."""

import sys

from std_msgs.msg import String

from rover_autonomy.parameters import ParamSpec
from rover_autonomy.ros_common.node_base import RoverNode, run_node

PARAMETERS = (
    ParamSpec("period", 0.1, "Publishing period", range=(0.01, 10.0), unit="s"),
    ParamSpec("fail_at_start", False, "Exit with an error right after start-up"),
)


class HeartbeatNode(RoverNode):
    def __init__(self):
        super().__init__("heartbeat", PARAMETERS)
        if self.params.fail_at_start:
            raise ValueError("asked to fail at start")
        self.publisher = self.create_publisher(String, "heartbeat", 10)
        self.create_timer(self.params.period, self.beat)
        self.get_logger().info("heartbeat up")

    def beat(self):
        self.publisher.publish(String(data=self.get_name()))


def main():
    return run_node(HeartbeatNode)


if __name__ == "__main__":
    sys.exit(main())
