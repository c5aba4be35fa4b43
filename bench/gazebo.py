"""Gazebo export: speed, heightmap fidelity against the float master terrain, libsdformat check time.

For each shipped world: time to export (pad or resample, quantise, write the PNG and the SDF), file
sizes, and the terrain Gazebo will see against the master raster: the exported heightmap is decoded and
sampled (bilinear) at every master node. Reference, computed in the same run: a heightmap of the same
side resampled bilinearly over the world's own extent (what padding at the master's spacing avoids),
and the 16-bit quantisation step. Then the time of ``ign sdf -k`` when ign is installed.
Run: ``PYTHONPATH=$PWD .venv/bin/python bench/gazebo.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.ndimage import map_coordinates

from rover_autonomy.description.sdf_world import export_sdf, quantise, resample_terrain
from rover_autonomy.resources import worlds_dir
from rover_autonomy.worlds import load_world


def decode(png: Path, size: float, pos: tuple[float, float, float], z_range: float):
    """Heights [m] (rows +y) of an exported heightmap, and the map x, y of its first sample."""
    image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    heights = image[::-1].astype(np.float64) * (z_range / 65535.0) + pos[2]
    return heights, (pos[0] - size / 2, pos[1] - size / 2), size / (image.shape[0] - 1)


def error_at_master_nodes(terrain, origin, resolution, heights, hm_origin, spacing) -> tuple[float, float]:
    """(max, RMS) [m] of the heightmap sampled bilinearly at every master node, against the master."""
    n = terrain.shape[0]
    cols = (origin[0] + np.arange(n) * resolution - hm_origin[0]) / spacing
    rows = (origin[1] + np.arange(n) * resolution - hm_origin[1]) / spacing
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    error = map_coordinates(heights, [grid_rows, grid_cols], order=1) - terrain.astype(np.float64)
    return float(np.abs(error).max()), float(np.sqrt(np.mean(error**2)))


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    print(
        "world  export[s]  side  step[mm]  max/rms err[mm]  resampled max/rms[mm]  sdf[MB]  png[MB]  ign -k[s]"
    )
    for planet in ("moon", "mars"):
        world = load_world(planet)
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(
                shutil.copytree(
                    worlds_dir() / planet, Path(tmp) / planet, ignore=shutil.ignore_patterns("gazebo")
                )
            )
            start = time.perf_counter()
            sdf = export_sdf(copy, copy / "gazebo")
            elapsed = time.perf_counter() - start
            meta = yaml.safe_load((sdf.parent / "gazebo.yaml").read_text())["heightmap"]
            hm = (
                ET.parse(sdf).getroot().find("world/model[@name='terrain']/link/collision/geometry/heightmap")
            )
            pos = tuple(float(v) for v in hm.find("pos").text.split())
            heights, hm_origin, spacing = decode(
                sdf.parent / "terrain.png", meta["size"], pos, meta["z_range"]
            )
            origin, resolution = world.grid.origin, world.grid.resolution
            worst, rms = error_at_master_nodes(world.terrain, origin, resolution, heights, hm_origin, spacing)
            # Reference: the same side, resampled bilinearly over the world's own extent.
            side = heights.shape[0]
            image, z_min, z_range = quantise(resample_terrain(world.terrain, side))
            resampled = image[::-1].astype(np.float64) * (z_range / 65535.0) + z_min
            extent = (world.terrain.shape[0] - 1) * resolution
            ref_worst, ref_rms = error_at_master_nodes(
                world.terrain, origin, resolution, resampled, origin, extent / (side - 1)
            )
            check = "-"
            if shutil.which("ign"):
                start = time.perf_counter()
                subprocess.run(["ign", "sdf", "-k", str(sdf)], capture_output=True, check=True)
                check = f"{time.perf_counter() - start:.1f}"
            print(
                f"{planet:5s}  {elapsed:9.2f}  {side:4d}  {meta['z_step'] * 1e3:8.3f}"
                f"  {worst * 1e3:6.3f} / {rms * 1e3:6.3f}  {ref_worst * 1e3:9.2f} / {ref_rms * 1e3:6.3f}"
                f"  {sdf.stat().st_size / 1e6:7.2f}  {(sdf.parent / 'terrain.png').stat().st_size / 1e6:7.2f}"
                f"  {check:>9s}"
            )


if __name__ == "__main__":
    main()
