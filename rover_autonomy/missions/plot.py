"""``mission.png``: the final costmap over the ground-truth hillshade, plans, driven and odometry tracks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rover_autonomy.geometry import Pose2D
from rover_autonomy.missions.metrics import MissionLog
from rover_autonomy.worlds.preview import hillshade
from rover_autonomy.worlds.world import Sun, World


def plot_mission(
    path: Path,
    world: World,
    log: MissionLog,
    costmap: tuple[np.ndarray, float, float, float] | None,
    title: str,
    max_pixels: int = 800,
) -> None:
    """Write the mission picture. ``costmap`` is (costs (H, W) int8, resolution, origin_x, origin_y) in odom."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    grid = world.grid
    step = max(1, math.ceil(grid.shape[0] / max_pixels))
    shade = hillshade(world.surface[::step, ::step], grid.resolution * step, Sun(world.sun.azimuth, 45.0))
    odom_in_map = Pose2D(*log.map_to_odom)
    everything = [np.array([log.map_to_odom[:2], log.goal])]
    if log.truth:
        everything.append(np.array([row[1:3] for row in log.truth]))
    span = np.concatenate(everything)
    margin = 6.0
    lo, hi = span.min(axis=0) - margin, span.max(axis=0) + margin
    aspect = (hi[1] - lo[1]) / (hi[0] - lo[0])
    fig, ax = plt.subplots(figsize=(10, min(10, max(4, 8.5 * aspect + 1.5))), dpi=100)
    ax.imshow(shade, origin="lower", extent=grid.extent, cmap="gray", vmin=0, vmax=1)
    if costmap is not None:
        costs, resolution, ox, oy = costmap
        rows, cols = costs.shape
        cx, cy = np.meshgrid(ox + resolution * np.arange(cols + 1), oy + resolution * np.arange(rows + 1))
        corners = odom_in_map.to_parent(np.stack([cx.ravel(), cy.ravel()], axis=1))
        mx, my = corners[:, 0].reshape(cx.shape), corners[:, 1].reshape(cy.shape)
        known = np.ma.masked_less(costs.astype(float), 0)
        mesh = ax.pcolormesh(mx, my, known, cmap="RdYlGn_r", vmin=0, vmax=100, alpha=0.45, shading="flat")
        fig.colorbar(mesh, ax=ax, fraction=0.04, pad=0.02, label="rover-centre cost (100 lethal)")
    for i, plan in enumerate(log.plans):
        pts = odom_in_map.to_parent(plan)
        ax.plot(pts[:, 0], pts[:, 1], color="tab:blue", lw=0.8, alpha=0.35 if i < len(log.plans) - 1 else 1.0)
    if log.truth:
        truth = np.array([row[1:3] for row in log.truth])
        ax.plot(truth[:, 0], truth[:, 1], color="black", lw=1.8, label="driven (ground truth)")
    if log.odometry:
        odom = odom_in_map.to_parent(np.array([row[1:3] for row in log.odometry]))
        ax.plot(odom[:, 0], odom[:, 1], color="tab:orange", lw=1.2, ls="--", label="odometry")
    ax.plot([], [], color="tab:blue", lw=0.8, label="plans (last solid)")
    x0, y0, _ = log.map_to_odom
    ax.plot(x0, y0, "o", color="tab:green", ms=8, label="start")
    ax.plot(*log.goal, "*", color="tab:red", ms=14, label="goal")
    ax.add_patch(plt.Circle(log.goal, log.goal_tolerance, fill=False, color="tab:red", lw=1))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("map x [m]")
    ax.set_ylabel("map y [m]")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
