"""ament_python package: console scripts come from the graph description (one list, not two)."""

import runpy
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "rover_autonomy"
HERE = Path(__file__).resolve().parent
# graph.py is stdlib-only so that it can be read here without the package's dependencies.
GRAPH = runpy.run_path(str(HERE / PACKAGE / "bringup" / "graph.py"))


def tree(folder):
    """data_files entries installing folder/ (recursively) under share/<package>/folder."""
    entries = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            entries.setdefault(str(Path("share", PACKAGE, path.parent)), []).append(str(path))
    return list(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "requirements.txt"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        *tree("config"),
        *tree("worlds"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rover_autonomy developers",
    maintainer_email="dev@rover-autonomy.org",
    description="Autonomy stack for planetary rovers on ROS 2",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={"console_scripts": GRAPH["console_scripts"]()},
)
