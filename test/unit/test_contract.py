"""docs/interfaces.md and rover_autonomy.contract describe the same topics, types, QoS and navigation
states; the state texts parse back to what was formatted."""

import importlib
import re

import pytest
from helpers.paths import DOCS

from rover_autonomy.contract import (
    CANCELLED,
    FRAMES,
    QOS_PROFILES,
    SERVICES,
    TOPICS,
    NavigationState,
    PlanStatus,
    format_state,
    parse_plan_status,
    parse_state,
)

DOC = DOCS / "interfaces.md"


def _tables():
    """Rows of every markdown table in the document, as lists of cell strings."""
    rows = []
    for line in DOC.read_text().splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _code(cell):
    match = re.fullmatch(r"`([^`]+)`", cell)
    return match.group(1) if match else None


def test_every_documented_topic_is_in_the_contract_with_its_type_and_qos():
    documented = {}
    for row in _tables():
        name = _code(row[0])
        if len(row) >= 3 and name and "/" in row[1] and row[2] in QOS_PROFILES:
            documented[name] = (row[1], row[2])
    assert documented == {name: (t.type, t.qos) for name, t in TOPICS.items()}


def test_services_frames_and_qos_profiles_are_documented():
    rows = _tables()
    services = {_code(r[0]): r[1] for r in rows if len(r) >= 2 and r[1] == "std_srvs/Trigger"}
    assert services == SERVICES
    text = DOC.read_text()
    for frame in FRAMES:
        assert f"`{frame}`" in text
    documented = {r[0]: r for r in rows if r[0] in QOS_PROFILES}
    for name, spec in QOS_PROFILES.items():
        reliability, durability, history = documented[name][1:4]
        assert reliability == spec.reliability.replace("_", " ")
        assert durability == spec.durability.replace("_", " ")
        assert history == f"keep last {spec.depth}"


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_contract_types_exist(topic):
    package, message = TOPICS[topic].type.split("/")
    assert hasattr(importlib.import_module(f"{package}.msg"), message)


def _notes(topic):
    return next(row[3] for row in _tables() if _code(row[0]) == topic)


def test_navigation_states_are_the_documented_ones():
    match = re.search(r"state is one of ([a-z, ]+);", _notes("navigation/state"))
    assert match, "the navigation/state row lists its states as 'state is one of a, b, …;'"
    assert set(match.group(1).split(", ")) == {s.value for s in NavigationState}


def test_plan_statuses_are_the_documented_ones():
    documented = {
        text.partition(":")[0] for text in re.findall(r"`([^`]+)`", _notes("navigation/plan_status"))
    }
    assert documented == {s.value for s in PlanStatus}


@pytest.mark.parametrize("state", list(NavigationState))
@pytest.mark.parametrize("reason", ["", "emergency stop", "hazard: no safe arc, every arc meets cost >= 100"])
def test_navigation_state_text_round_trip(state, reason):
    text = format_state(state, reason)
    assert text == (f"{state.value}: {reason}" if reason else state.value)
    assert parse_state(text) == (state, reason)


def test_state_texts_parse_as_the_wire_grammar():
    assert format_state(NavigationState.IDLE, CANCELLED) == "idle: cancelled"
    assert parse_state(" blocked :  odometry lost ") == (NavigationState.BLOCKED, "odometry lost")
    assert parse_plan_status("planning: waiting: no costmap received yet") == (
        PlanStatus.PLANNING,
        "waiting: no costmap received yet",
    )
    assert parse_plan_status("planned: 51 cells, cost 5.1 (full)") == (
        PlanStatus.PLANNED,
        "51 cells, cost 5.1 (full)",
    )
    for unknown in ("", "turning", "driving fast", "planned: 3 cells"):  # the last is a plan status
        assert parse_state(unknown) is None
    assert parse_plan_status("driving") is None
