"""Committed regression cases (test/data/replay/<case>/input, expected): replayed, compared with tolerances.

Each case's bag is replayed through the replay profile's nodes — by the command, in a fresh process, as
CI and users run it — and its outputs are compared with the committed expected outputs within
``replay.compare.TOLERANCES`` (docs/replay.md). Refresh them with ``make replay-update`` after review.
"""

import json
import os
import subprocess
import sys

import pytest
from helpers.paths import REPO

ROOT = REPO
CASES = sorted(p for p in (ROOT / "test" / "data" / "replay").glob("*") if (p / "input").is_dir())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_committed_case_replays_within_tolerances(case, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
    command = [sys.executable, "-m", "rover_autonomy.cli", "replay", str(case / "input")]
    command += ["--expected", str(case / "expected"), "--report", str(tmp_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"], report["failure_reason"]
    assert result.returncode == 0 and report["regression"]["passed"], report["regression"]["failures"]
    assert report["lockstep"]["answer_timeouts"] == 0
