"""docs/interfaces.md and rover_autonomy.contract describe the same topics, types and QoS."""

import importlib
import re

import pytest
from helpers.paths import DOCS

from rover_autonomy.contract import FRAMES, QOS_PROFILES, SERVICES, TOPICS

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
