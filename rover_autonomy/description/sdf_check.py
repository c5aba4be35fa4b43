"""Checks of exported SDF worlds that ``ign sdf -k`` does not make.

``ign sdf -k`` (libsdformat) validates types and names but copies unknown elements through with a
warning and never opens the files a world references. These checks close that gap:

* every element is one of the SDF 1.9 elements the exporter writes (:data:`USED_PATHS`, paths from
  the root; a test checks this list against the full 1.9 description printed by ``ign sdf -d 1.9``);
  plugin bodies are free-form and not inspected;
* every file a world references (heightmap image, textures, meshes) exists next to the SDF;
* the heightmap image is a square 16-bit grey PNG of 2ⁿ+1 pixels, as Gazebo's heightmap needs.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

_HEIGHTMAP = "/sdf/world/model/link/{}/geometry/heightmap"
# Every element path the exporter writes (SDF 1.9). Plugins' contents are free-form.
USED_PATHS = frozenset(
    {
        "/sdf",
        "/sdf/world",
        "/sdf/world/physics",
        "/sdf/world/physics/max_step_size",
        "/sdf/world/physics/real_time_factor",
        "/sdf/world/plugin",
        "/sdf/world/gravity",
        "/sdf/world/magnetic_field",
        "/sdf/world/atmosphere",
        "/sdf/world/atmosphere/temperature",
        "/sdf/world/atmosphere/pressure",
        "/sdf/world/atmosphere/temperature_gradient",
        "/sdf/world/scene",
        "/sdf/world/scene/ambient",
        "/sdf/world/scene/background",
        "/sdf/world/scene/shadows",
        "/sdf/world/scene/grid",
        "/sdf/world/light",
        "/sdf/world/light/cast_shadows",
        "/sdf/world/light/pose",
        "/sdf/world/light/diffuse",
        "/sdf/world/light/specular",
        "/sdf/world/light/direction",
        "/sdf/world/model",
        "/sdf/world/model/static",
        "/sdf/world/model/link",
        "/sdf/world/model/link/collision",
        "/sdf/world/model/link/collision/pose",
        "/sdf/world/model/link/collision/geometry",
        "/sdf/world/model/link/collision/geometry/sphere",
        "/sdf/world/model/link/collision/geometry/sphere/radius",
        *(
            f"/sdf/world/model/link/collision/surface{suffix}"
            for suffix in ("", "/friction", "/friction/ode", "/friction/ode/mu", "/friction/ode/mu2")
        ),
        "/sdf/world/model/link/visual",
        "/sdf/world/model/link/visual/pose",
        "/sdf/world/model/link/visual/geometry",
        "/sdf/world/model/link/visual/geometry/sphere",
        "/sdf/world/model/link/visual/geometry/sphere/radius",
        "/sdf/world/model/link/visual/material",
        "/sdf/world/model/link/visual/material/diffuse",
        *(
            _HEIGHTMAP.format(kind) + suffix
            for kind in ("collision", "visual")
            for suffix in ("", "/uri", "/size", "/pos")
        ),
        *(
            _HEIGHTMAP.format("visual") + suffix
            for suffix in ("/texture", "/texture/size", "/texture/diffuse", "/texture/normal")
        ),
    }
)
# Elements whose text is a file the world needs.
FILE_ELEMENTS = frozenset({"uri", "diffuse", "normal"})
FREE_FORM = frozenset({"plugin"})


def element_paths(root: ET.Element) -> Iterator[tuple[str, ET.Element]]:
    """(path from the root, element) of every element, not descending into plugin bodies."""

    def walk(element: ET.Element, path: str):
        yield path, element
        if element.tag in FREE_FORM:
            return
        for child in element:
            yield from walk(child, f"{path}/{child.tag}")

    yield from walk(root, f"/{root.tag}")


def unknown_elements(root: ET.Element, allowed: frozenset[str] = USED_PATHS) -> list[str]:
    return sorted({path for path, _ in element_paths(root) if path not in allowed})


def referenced_files(sdf_path: Path) -> list[tuple[str, Path]]:
    """(element path, resolved file) of every file reference (relative to the SDF's directory)."""
    root = ET.parse(sdf_path).getroot()
    found = []
    for path, element in element_paths(root):
        text = (element.text or "").strip()
        if element.tag not in FILE_ELEMENTS or not text or (element.tag != "uri" and "/texture/" not in path):
            continue
        if text.startswith("file://"):
            text = text[len("file://") :]
        found.append((path, (sdf_path.parent / text).resolve()))
    return found


def check_heightmap(png: Path) -> list[str]:
    import cv2

    image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    if image is None:
        return [f"{png.name}: not a readable image"]
    problems = []
    if image.ndim != 2 or image.dtype.name != "uint16":
        problems.append(f"{png.name}: expected 16-bit grey, got {image.dtype.name} with shape {image.shape}")
    rows, cols = image.shape[:2]
    side_ok = rows == cols and rows >= 3 and (rows - 1) & (rows - 2) == 0
    if not side_ok:
        problems.append(
            f"{png.name}: Gazebo heightmaps are square with 2^n+1 pixels a side, got {rows}x{cols}"
        )
    return problems


def check_world_sdf(sdf_path: str | Path) -> list[str]:
    """Problems of an exported world that ``ign sdf -k`` does not report (empty when it is sound)."""
    sdf_path = Path(sdf_path)
    try:
        root = ET.parse(sdf_path).getroot()
    except (OSError, ET.ParseError) as err:
        return [f"{sdf_path}: {err}"]
    problems = [
        f"{sdf_path.name}: element {p} is not one the exporter writes" for p in unknown_elements(root)
    ]
    for path, file in referenced_files(sdf_path):
        if not file.is_file():
            problems.append(f"{sdf_path.name}: {path} names {file}, which does not exist")
        elif path.endswith("heightmap/uri"):
            problems += check_heightmap(file)
    return problems


# -- the real SDF description (libsdformat), for tests ---------------------------------------------


def ign_available() -> bool:
    return shutil.which("ign") is not None


def ign_check(sdf_path: str | Path) -> tuple[bool, str]:
    """Run ``ign sdf -k``: (valid, output)."""
    result = subprocess.run(
        ["ign", "sdf", "-k", str(sdf_path)], capture_output=True, text=True, timeout=120, check=False
    )
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and "Valid." in result.stdout, output


def spec_paths(version: str = "1.9") -> frozenset[str]:
    """Every element path of the SDF ``version`` description printed by ``ign sdf -d``."""
    result = subprocess.run(
        ["ign", "sdf", "-d", version], capture_output=True, text=True, timeout=120, check=True
    )
    root = ET.fromstring(result.stdout)
    paths = set()

    def walk(element: ET.Element, path: str) -> None:
        paths.add(path)
        for child in element.findall("element"):
            name = child.get("name")
            if name:  # unnamed elements are copy_data bodies (plugins)
                walk(child, f"{path}/{name}")

    walk(root, f"/{root.get('name')}")
    return frozenset(paths)
