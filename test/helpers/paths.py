"""Paths the tests use: the repository, its package and docs, the test data and the test nodes."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "rover_autonomy"
DOCS = REPO / "docs"
DATA = REPO / "test" / "data"
NODES = Path(__file__).resolve().parent / "nodes"  # test executables: module:main, for the launcher
