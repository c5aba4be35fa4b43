"""Where the package's data (config/, worlds/, launch/) lives: source tree or installed share/."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

PACKAGE = "rover_autonomy"


@cache
def share_dir() -> Path:
    """The directory holding ``config/``, ``launch/`` and ``worlds/``.

    A source checkout (or an editable install) is used as it is; otherwise the colcon/ament install
    (``share/rover_autonomy``) is looked up through ament_index, then under ``sys.prefix``.
    """
    source = Path(__file__).resolve().parent.parent
    if (source / "config" / "rover.yaml").is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError):
        pass
    installed = Path(sys.prefix) / "share" / PACKAGE
    if installed.is_dir():
        return installed
    raise FileNotFoundError(f"cannot find the {PACKAGE} data directory (config/, worlds/)")


def config_dir() -> Path:
    return share_dir() / "config"


def config_path(name: str) -> Path:
    return config_dir() / name


def worlds_dir() -> Path:
    return share_dir() / "worlds"
