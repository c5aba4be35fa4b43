"""Node conventions over real DDS: parameter descriptors and validation, diagnostics, throttling."""

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, SetParameters

from rover_autonomy.parameters import ParamSpec, render_yaml
from rover_autonomy.ros_common import qos
from rover_autonomy.ros_common.node_base import ERROR, WARN, RoverNode

SPECS = (
    ParamSpec("rate", 2.0, "Processing rate", range=(0.1, 50.0), unit="Hz"),
    ParamSpec("window", 5, "Correlation window size", range=(5, 255), step=2),
    ParamSpec("mode", "sgbm", "Matcher", choices=("sgbm", "bm")),
    ParamSpec("frame", "odom", "Frame of the output", read_only=True),
)


class DemoNode(RoverNode):
    def __init__(self, **kwargs):
        self.changes = []
        super().__init__("demo_node", SPECS, **kwargs)

    def check_parameters(self, values):
        return (
            "rate and window too large together" if values["rate"] > 40 and values["window"] > 101 else None
        )

    def on_parameters_changed(self, changed):
        self.changes.append(changed)


def _set(ros, client_node, name, type_, **value):
    client = client_node.create_client(SetParameters, "/demo_node/set_parameters")
    assert ros.spin_until(lambda: client.service_is_ready(), timeout=10)
    request = SetParameters.Request(
        parameters=[ParameterMsg(name=name, value=ParameterValue(type=type_, **value))]
    )
    future = client.call_async(request)
    assert ros.spin_until(future.done, timeout=10)
    client_node.destroy_client(client)
    return future.result().results[0]


def test_parameters_are_declared_with_descriptors_and_validated_on_set(ros):
    node = ros.node(DemoNode(context=ros.context))
    other = ros.node("param_client")
    describe = other.create_client(DescribeParameters, "/demo_node/describe_parameters")
    assert ros.spin_until(describe.service_is_ready)
    future = describe.call_async(DescribeParameters.Request(names=["rate", "window"]))
    assert ros.spin_until(future.done)
    rate, window = future.result().descriptors
    assert rate.floating_point_range[0].to_value == 50.0 and "[Hz]" in rate.description
    assert window.integer_range[0].step == 2

    assert _set(ros, other, "rate", ParameterType.PARAMETER_DOUBLE, double_value=10.0).successful
    assert node.params.rate == 10.0 and node.changes == [{"rate": 10.0}]
    result = _set(ros, other, "mode", ParameterType.PARAMETER_STRING, string_value="magic")
    assert not result.successful and "not one of sgbm, bm" in result.reason
    result = _set(ros, other, "window", ParameterType.PARAMETER_INTEGER, integer_value=6)
    assert not result.successful  # rclpy enforces the descriptor's step
    assert not _set(ros, other, "frame", ParameterType.PARAMETER_STRING, string_value="map").successful
    assert _set(ros, other, "window", ParameterType.PARAMETER_INTEGER, integer_value=151).successful
    result = _set(ros, other, "rate", ParameterType.PARAMETER_DOUBLE, double_value=45.0)
    assert not result.successful and "too large together" in result.reason
    assert node.params.rate == 10.0 and node.params.window == 151


def test_invalid_start_up_value_is_refused():
    import rclpy
    from rclpy.parameter import Parameter

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(Exception, match="rate"):
            DemoNode(context=context, parameter_overrides=[Parameter("rate", value=500.0)])
    finally:
        rclpy.try_shutdown(context=context)


def test_diagnostics_and_throttled_warnings(ros):
    node = ros.node(DemoNode(context=ros.context))
    listener = ros.node("diag_listener")
    received = []
    listener.create_subscription(DiagnosticArray, "diagnostics", received.append, qos.profile("diagnostics"))
    for _ in range(5):
        node.warn_throttled("bad-pair", "left and right images differ in size")
    assert node._suppressed["bad-pair"] == 4
    assert ros.spin_until(lambda: any(s.level == WARN for m in received for s in m.status), timeout=5)
    status = next(s for m in received for s in m.status if s.level == WARN)
    assert status.name == "demo_node" and "differ in size" in status.message
    # The same node may warn and report errors through the one helper (rclpy ties a call site to a severity).
    node.warn_throttled("other", "a warning", period=0.0)
    node.warn_throttled("other", "now an error", period=0.0, level=ERROR)
    node.warn_throttled("other", "a warning again", period=0.0)


def test_render_yaml_documents_every_parameter():
    text = render_yaml("demo_node", SPECS, "Demo node", values={"rate": 5.0})
    lines = text.splitlines()
    assert "demo_node:" in lines and "  ros__parameters:" in lines
    assert "    rate: 5.0" in lines and '    mode: "sgbm"' in lines
    assert any("Range 5 … 255, step 2" in line for line in lines)
    for i, line in enumerate(lines):
        if line.startswith("    ") and not line.startswith("    #"):
            assert lines[i - 1].startswith("    # ")


def test_rover_model_parameter_selects_and_validates_the_model(ros, tmp_path):
    from rclpy.parameter import Parameter

    from rover_autonomy.rover_model import RoverModelError

    node = ros.node(DemoNode(context=ros.context))
    assert node.rover.name == "rocker_bogie_6w"
    broken = tmp_path / "rover.yaml"
    broken.write_text("name: x\n")
    other = DemoNode(context=ros.context, parameter_overrides=[Parameter("rover_model", value=str(broken))])
    try:
        with pytest.raises(RoverModelError, match="mass: missing"):
            _ = other.rover
    finally:
        other.destroy_node()
