"""``preview.png``: hillshade of the ground truth, hazards, rocks, craters and the start pose."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rover_autonomy.worlds.generator import GeneratedWorld
from rover_autonomy.worlds.world import Sun


def hillshade(surface: np.ndarray, resolution: float, sun: Sun) -> np.ndarray:
    """Lambertian shading in [0, 1] of a height raster (row = +y) lit from ``sun``."""
    gy, gx = np.gradient(surface.astype(np.float64), resolution)
    normal = np.stack([-gx, -gy, np.ones_like(gx)])
    normal /= np.linalg.norm(normal, axis=0)
    return np.clip(np.tensordot(sun.direction, normal, axes=1), 0.0, 1.0)


def write_preview(world: GeneratedWorld, path: Path, max_pixels: int = 800) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Circle

    spec, grid = world.spec, world.grid
    step = max(1, math.ceil(grid.shape[0] / max_pixels))
    surface = world.surface[::step, ::step]
    shade = hillshade(surface, grid.resolution * step, Sun(spec.sun_azimuth, max(spec.sun_elevation, 25.0)))
    xmin, xmax, ymin, ymax = grid.extent
    fig, ax = plt.subplots(figsize=(8, 7.6), dpi=90)
    ax.imshow(shade, origin="lower", extent=(xmin, xmax, ymin, ymax), cmap="gray", vmin=0, vmax=1)
    hazard = np.ma.masked_equal(world.hazard[::step, ::step] > 0, False)
    ax.imshow(hazard, origin="lower", extent=(xmin, xmax, ymin, ymax), cmap="autumn", alpha=0.45)
    for crater in world.craters[world.craters["diameter"] >= 2.0]:
        ax.add_patch(
            Circle((crater["x"], crater["y"]), crater["diameter"] / 2, fill=False, lw=0.5, color="tab:cyan")
        )
    big = world.rocks[world.rocks["diameter"] >= 0.3]
    ax.scatter(big["x"], big["y"], s=(big["diameter"] * 6) ** 2, c="tab:orange", edgecolors="none", alpha=0.8)
    x, y, yaw = world.start
    ax.add_patch(Circle((x, y), spec.start_clear_radius, fill=False, lw=1.2, color="lime"))
    ax.annotate(
        "",
        (x + 2.5 * math.cos(yaw), y + 2.5 * math.sin(yaw)),
        (x, y),
        arrowprops={"arrowstyle": "-|>", "color": "lime", "lw": 2},
    )
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_xlabel("map x (east) [m]")
    ax.set_ylabel("map y (north) [m]")
    ax.set_title(
        f"{spec.planet} seed {spec.seed}, k={spec.rock_density:g}: {len(world.rocks)} rocks "
        f"(orange: D >= 0.3 m), {len(world.craters)} craters (cyan: D >= 2 m), hazards (red), start (green)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
