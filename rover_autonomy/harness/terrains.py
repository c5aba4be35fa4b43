"""Ground-truth terrains and simulated stereo clouds, for tests and benchmarks (pure, seeded).

Terrain: a fractal surface (spectral synthesis: white noise shaped by a power law in the Fourier domain)
plus an optional plane slope, plus rocks drawn from the Golombek–Rapp model of cumulative fractional
area F_k(D) = k·exp(−q(k)·D), q(k) = 1.79 + 0.152/k (Golombek & Rapp 1997), as spherical caps of base
diameter D and height h ≈ D/2 standing on the surface.

Clouds: rays through every (or every n-th) pixel of the rover model's left camera are cast against a
triangle mesh of the surface (Open3D RaycastingScene), which gives occlusion; the depth along the
optical axis then gets stereo noise σ_z = z²·σ_d/(f·B) (σ_d the disparity noise in px) and the point
moves along its ray. Points come back in the left optical frame, as ``stereo/points`` carries them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rover_autonomy.geometry import rpy_to_matrix
from rover_autonomy.rover_model import RoverModel


@dataclass
class Terrain:
    """Heights sampled on a node-registered raster: heights[r, c] is the surface at
    (origin_x + c·resolution, origin_y + r·resolution)."""

    heights: np.ndarray  # (rows, cols) [m]
    resolution: float  # [m]
    origin: tuple[float, float]  # [m]
    rocks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))  # x, y, diameter, height, base z

    def height_at(self, x, y) -> np.ndarray:
        """Bilinear surface height at points [m] (clamped to the raster)."""
        fx = np.clip(
            (np.asarray(x, float) - self.origin[0]) / self.resolution, 0, self.heights.shape[1] - 1.001
        )
        fy = np.clip(
            (np.asarray(y, float) - self.origin[1]) / self.resolution, 0, self.heights.shape[0] - 1.001
        )
        c, r = np.floor(fx).astype(int), np.floor(fy).astype(int)
        tx, ty = fx - c, fy - r
        h = self.heights
        top = h[r, c] * (1 - tx) + h[r, c + 1] * tx
        bottom = h[r + 1, c] * (1 - tx) + h[r + 1, c + 1] * tx
        return top * (1 - ty) + bottom * ty

    def cell_means(self, x_centres: np.ndarray, y_centres: np.ndarray, cell: float, samples: int = 4):
        """Mean surface height over square cells of side ``cell`` centred on a grid (rows = y)."""
        offsets = (np.arange(samples) + 0.5) / samples * cell - cell / 2
        total = np.zeros((y_centres.size, x_centres.size))
        for dy in offsets:
            for dx in offsets:
                xx, yy = np.meshgrid(x_centres + dx, y_centres + dy)
                total += self.height_at(xx, yy)
        return total / samples**2


def fractal_surface(
    rng: np.random.Generator, shape: tuple[int, int], resolution: float, rms: float, exponent: float = 2.6
) -> np.ndarray:
    """Zero-mean random surface scaled to ``rms`` [m]: white noise whose 2-D power spectrum is shaped to
    ∝ |k|^−(exponent + 1), so that a 1-D profile has a power spectrum ∝ |k|^−exponent (self-affine)."""
    noise = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0], resolution)
    kx = np.fft.rfftfreq(shape[1], resolution)
    k = np.hypot(*np.meshgrid(kx, ky))
    k[0, 0] = np.inf
    spectrum = np.fft.rfft2(noise) * k ** (-exponent / 2 - 0.5)
    surface = np.fft.irfft2(spectrum, s=shape)
    surface -= surface.mean()
    return surface * (rms / surface.std())


def golombek_rapp_diameters(rng, k: float, area: float, d_min: float, d_max: float) -> np.ndarray:
    """Rock diameters [m] whose cumulative fractional area follows F_k(D) = k·exp(−q·D)."""
    q = 1.79 + 0.152 / k
    d = np.linspace(d_min, d_max, 2000)
    # number per m² per unit D: −dF/dD divided by the area of one rock, π D²/4.
    density = k * q * np.exp(-q * d) / (math.pi * d * d / 4)
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(d))])
    count = rng.poisson(cumulative[-1] * area)
    return np.interp(rng.random(count) * cumulative[-1], cumulative, d)


def make_terrain(
    seed: int,
    size: float = 40.0,
    resolution: float = 0.05,
    rms: float = 0.15,
    slope_deg: float = 0.0,
    rock_k: float = 0.15,
    rock_d_min: float = 0.2,
    rock_d_max: float = 2.0,
    clear_radius: float = 1.5,
    centre=(0.0, 0.0),
) -> Terrain:
    """A square terrain centred on ``centre`` [m]; rocks stay ``clear_radius`` away from the centre."""
    rng = np.random.default_rng(seed)
    n = round(size / resolution) + 1
    origin = (centre[0] - size / 2, centre[1] - size / 2)
    heights = fractal_surface(rng, (n, n), resolution, rms)
    xs = origin[0] + np.arange(n) * resolution
    heights += math.tan(math.radians(slope_deg)) * (xs[None, :] - centre[0])
    base = heights.copy()
    diameters = golombek_rapp_diameters(rng, rock_k, size * size, rock_d_min, rock_d_max)
    heights_ratio = rng.uniform(0.35, 0.65, diameters.size)
    positions = rng.uniform(origin[0] + rock_d_max, origin[0] + size - rock_d_max, (diameters.size, 2))
    positions[:, 1] += origin[1] - origin[0]
    keep = np.hypot(positions[:, 0] - centre[0], positions[:, 1] - centre[1]) > clear_radius + diameters / 2
    rocks = []
    for (x, y), d, ratio in zip(positions[keep], diameters[keep], heights_ratio[keep], strict=True):
        h = d * ratio
        a = d / 2
        sphere = (a * a + h * h) / (2 * h)
        c0, c1 = (
            math.floor((x - a - origin[0]) / resolution),
            math.ceil((x + a - origin[0]) / resolution),
        )
        r0, r1 = (
            math.floor((y - a - origin[1]) / resolution),
            math.ceil((y + a - origin[1]) / resolution),
        )
        c0, r0 = max(c0, 0), max(r0, 0)
        gx = origin[0] + np.arange(c0, c1 + 1) * resolution
        gy = origin[1] + np.arange(r0, r1 + 1) * resolution
        radius_sq = (gx[None, :] - x) ** 2 + (gy[:, None] - y) ** 2
        cap = np.sqrt(np.maximum(sphere * sphere - radius_sq, 0.0)) - (sphere - h)
        ground = base[
            min(round((y - origin[1]) / resolution), n - 1), min(round((x - origin[0]) / resolution), n - 1)
        ]
        window = heights[r0 : r1 + 1, c0 : c1 + 1]
        np.maximum(window, np.where(cap > 0, ground + cap, -np.inf), out=window)
        rocks.append((x, y, d, h, ground))
    return Terrain(heights.astype(np.float64), resolution, origin, np.array(rocks).reshape(-1, 5))


def terrain_from_world(world, centre=(0.0, 0.0), size: float = 50.0) -> Terrain:
    """The ground truth of a world of :mod:`rover_autonomy.worlds` (surface with rocks, explicit rocks),
    cropped to a square of side ``size`` [m] around ``centre`` so that the ray-casting mesh stays small."""
    grid = world.grid
    half = round(size / 2 / grid.resolution)
    col = round((centre[0] - grid.origin[0]) / grid.resolution)
    row = round((centre[1] - grid.origin[1]) / grid.resolution)
    r0, c0 = max(row - half, 0), max(col - half, 0)
    r1, c1 = min(row + half + 1, grid.shape[0]), min(col + half + 1, grid.shape[1])
    origin = (grid.origin[0] + c0 * grid.resolution, grid.origin[1] + r0 * grid.resolution)
    rocks = world.rocks
    base = world.terrain_height_at(rocks["x"], rocks["y"])
    table = np.column_stack([rocks["x"], rocks["y"], rocks["diameter"], rocks["height"], base])
    return Terrain(np.asarray(world.surface[r0:r1, c0:c1], dtype=np.float64), grid.resolution, origin, table)


def rover_pose_on_terrain(terrain: Terrain, model: RoverModel, x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 base_link→map pose of the rover standing at (x, y) heading ``yaw``: height and attitude from
    a least-squares plane through the terrain under its wheel contact points."""
    contacts = model.contact_points()[:, :2]
    c, s = math.cos(yaw), math.sin(yaw)
    world = contacts @ np.array([[c, s], [-s, c]]) + [x, y]
    z = terrain.height_at(world[:, 0], world[:, 1])
    design = np.column_stack([np.ones(len(z)), contacts])
    z0, gx, gy = np.linalg.lstsq(design, z, rcond=None)[0]
    pitch, roll = -math.atan(gx), math.atan(gy)
    transform = np.eye(4)
    transform[:3, :3] = rpy_to_matrix(0.0, 0.0, yaw) @ rpy_to_matrix(roll, pitch, 0.0)
    transform[:3, 3] = (x, y, z0)
    return transform


def poses_facing_rocks(
    terrain: Terrain,
    model: RoverModel,
    rng: np.random.Generator,
    count: int,
    rock_height: float,
    centre=(0.0, 0.0),
) -> list[tuple[float, float, float]]:
    """Up to ``count`` rover poses (x, y, yaw), each 3.5–7 m from a rock taller than ``rock_height`` and
    roughly facing it (so that enough tall rocks are seen), on ground flat enough to stand on."""
    near = np.abs(terrain.rocks[:, :2] - np.asarray(centre)).max(axis=1) < 16
    rocks = terrain.rocks[(terrain.rocks[:, 3] > rock_height) & near]
    poses = []
    targets = list(rng.permutation(rocks)[:count])
    while len(targets) < count:  # too few tall rocks: random poses make up the number
        x, y = np.asarray(centre) + rng.uniform(-12, 12, 2)
        targets.append(np.array([x + 5.0, y, 0.0, 0.0, 0.0]))
    contacts = model.contact_points()[:, :2]
    for rock in targets:
        for _ in range(20):
            bearing = rng.uniform(-math.pi, math.pi)
            distance = rng.uniform(3.5, 7.0)
            x, y = rock[0] - distance * math.cos(bearing), rock[1] - distance * math.sin(bearing)
            yaw = bearing + rng.uniform(-0.35, 0.35)
            c, s = math.cos(yaw), math.sin(yaw)
            under = contacts @ np.array([[c, s], [-s, c]]) + [x, y]
            heights = terrain.height_at(np.append(under[:, 0], x), np.append(under[:, 1], y))
            if heights.max() - heights.min() < 0.25:
                poses.append((x, y, yaw))
                break
    return poses


class CloudSimulator:
    """Casts the left camera's pixel rays against a terrain mesh and adds stereo depth noise."""

    def __init__(self, terrain: Terrain, model: RoverModel, disparity_sigma: float = 0.3, stride: int = 1):
        import open3d as o3d  # only the simulator needs Open3D

        self.terrain = terrain
        self.model = model
        self.disparity_sigma = disparity_sigma  # [px]
        rows, cols = terrain.heights.shape
        xs = terrain.origin[0] + np.arange(cols) * terrain.resolution
        ys = terrain.origin[1] + np.arange(rows) * terrain.resolution
        xx, yy = np.meshgrid(xs, ys)
        vertices = np.column_stack([xx.ravel(), yy.ravel(), terrain.heights.ravel()]).astype(np.float32)
        index = np.arange(rows * cols).reshape(rows, cols)
        a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
        c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
        triangles = np.concatenate([np.column_stack([a, b, d]), np.column_stack([a, d, c])]).astype(np.uint32)
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(triangles))
        self._o3d = o3d
        stereo = model.stereo
        k = stereo.intrinsics()
        u, v = np.meshgrid(np.arange(0, stereo.width, stride), np.arange(0, stereo.height, stride))
        # Pixel rays with unit optical-axis component: the hit distance is the depth z.
        self.rays_cam = np.column_stack(
            [(u.ravel() - k[0, 2]) / k[0, 0], (v.ravel() - k[1, 2]) / k[1, 1], np.ones(u.size)]
        )
        self.camera_to_base = stereo.camera_to_base("left")

    def cloud(self, base_pose: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(noisy points, true points) (N, 3) in the left optical frame, for a base_link→map pose."""
        camera = base_pose @ self.camera_to_base
        directions = self.rays_cam @ camera[:3, :3].T
        origins = np.broadcast_to(camera[:3, 3], directions.shape)
        rays = self._o3d.core.Tensor(np.hstack([origins, directions]).astype(np.float32))
        depth = self._scene.cast_rays(rays)["t_hit"].numpy().astype(np.float64)
        stereo = self.model.stereo
        hit = np.isfinite(depth) & (depth >= stereo.near_clip) & (depth <= stereo.far_clip)
        depth = depth[hit]
        sigma = depth * depth * self.disparity_sigma / (stereo.focal_px * stereo.baseline)
        noisy = depth + sigma * rng.standard_normal(depth.size)
        keep = noisy > stereo.near_clip
        rays = self.rays_cam[hit][keep]
        return (rays * noisy[keep, None]).astype(np.float32), rays * depth[keep, None]
