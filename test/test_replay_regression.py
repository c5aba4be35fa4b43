"""Committed regression cases (test/data/replay/<case>/input, expected): replayed, compared with tolerances.

Each case's bag is replayed through the replay profile's nodes and its outputs are compared with the
committed expected outputs within ``replay.compare.TOLERANCES`` (docs/replay.md). Cases are recorded
with ``make replay-bag``; until one is committed this test has no parameters.
"""

import json
from pathlib import Path

import pytest

from rover_autonomy.bringup import cli

CASES = sorted(p for p in (Path(__file__).parent / "data" / "replay").glob("*") if (p / "input").is_dir())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_committed_case_replays_within_tolerances(case, tmp_path):
    code = cli.main(
        ["replay", str(case / "input"), "--expected", str(case / "expected"), "--report", str(tmp_path)]
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"], report["failure_reason"]
    assert code == 0 and report["regression"]["passed"], report["regression"]["failures"]
    assert report["lockstep"]["answer_timeouts"] == 0
