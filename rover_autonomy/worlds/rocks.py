"""Rocks: the Golombek–Rapp size-frequency model, irregular convex shapes, burial and rasterisation.

Size-frequency (Golombek & Rapp 1997, JGR 102(E2); Golombek et al. 2003, JGR 108(E12)): the fraction of
the surface covered by rocks of diameter at least D is F_k(D) = k·exp(-q(k)·D), q(k) = 1.79 + 0.152/k.
Differentiating, the number of rocks per m² per metre of diameter is n(D) = 4·k·q·exp(-q·D) / (π·D²),
which is sampled exactly between ``MIN_DIAMETER`` and ``MAX_DIAMETER`` by inverting its tabulated
cumulative integral. D is the diameter of the circle with the rock's projected (top view) area.

Shape: each rock is one of ``PROTOTYPE_COUNT`` irregular convex polyhedra (hulls of jittered sphere
points, fixed for all worlds), scaled to its diameter with an elongation (1–1.5, axis ratio squared),
a vertical flatness (0.5–0.9 of the planimetric radius) and a yaw. It is partly buried: 10–50 % of
its vertical extent lies below the lowest terrain point under it, so visible heights average about
half the diameter, as measured at the Viking and Pathfinder sites (Golombek et al. 2003).

Rocks smaller than the fold diameter (default 0.15 m, about a wheel radius: no hazard to a 0.13 m
wheel and below the resolution that matters for collision) are not geometry of their own: they are
folded into the terrain raster as half-ellipsoid bumps and listed separately.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull

from rover_autonomy.worlds.grid import Grid

MIN_DIAMETER = 0.05  # [m] smallest rock generated (folded into the terrain)
MAX_DIAMETER = 4.0  # [m] largest; F_k above it is below 1e-4 of k for every k in (0, 0.5]
DEFAULT_FOLD_DIAMETER = 0.15  # [m] rocks smaller than this are folded into the terrain
PROTOTYPE_COUNT = 24
_PROTOTYPE_SEED = 20261128  # prototypes are the same in every world: shipped meshes never change
_PROTOTYPE_POINTS = 22

ROCK_DTYPE = np.dtype(
    [
        ("x", "f8"),  # [m] map frame
        ("y", "f8"),
        ("diameter", "f8"),  # [m] equivalent-circle diameter of the projected area
        ("height", "f8"),  # [m] top above the terrain at (x, y)
        ("z", "f8"),  # [m] map z of the shape's origin (mid vertical extent)
        ("yaw", "f8"),  # [rad]
        ("sx", "f8"),  # [m] scale of the unit prototype along its x, y, z
        ("sy", "f8"),
        ("sz", "f8"),
        ("shape", "i4"),  # prototype index
        ("burial", "f8"),  # fraction of the vertical extent below the lowest terrain under the rock
    ]
)


def q_of_k(k: float) -> float:
    """Golombek–Rapp exponent q(k) = 1.79 + 0.152/k [1/m]."""
    return 1.79 + 0.152 / k


def cumulative_fractional_area(k: float, diameter: np.ndarray | float) -> np.ndarray:
    """F_k(D): fraction of the surface covered by rocks of diameter >= D [m]."""
    return k * np.exp(-q_of_k(k) * np.asarray(diameter, dtype=float))


def _cumulative_number_table(k: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(diameters, rocks per m² with diameter in [lo, D]) on a log grid, by trapezoid in log D."""
    q = q_of_k(k)
    d = np.geomspace(lo, hi, 4096)
    integrand = 4 * k * q * np.exp(-q * d) / (math.pi * d)  # n(D)·D, integrated over ln D
    steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(np.log(d))
    return d, np.concatenate([[0.0], np.cumsum(steps)])


def sample_rocks(rng: np.random.Generator, k: float, extent: tuple[float, float, float, float]) -> np.ndarray:
    """Rocks with D in [MIN_DIAMETER, MAX_DIAMETER] uniformly over ``extent``; height and z unset."""
    diameters_grid, cumulative = _cumulative_number_table(k, MIN_DIAMETER, MAX_DIAMETER)
    area = (extent[1] - extent[0]) * (extent[3] - extent[2])
    count = rng.poisson(area * cumulative[-1])
    rocks = np.zeros(count, ROCK_DTYPE)
    rocks["diameter"] = np.interp(rng.random(count) * cumulative[-1], cumulative, diameters_grid)
    rocks["x"] = rng.uniform(extent[0], extent[1], count)
    rocks["y"] = rng.uniform(extent[2], extent[3], count)
    rocks["yaw"] = rng.uniform(-math.pi, math.pi, count)
    rocks["shape"] = rng.integers(0, PROTOTYPE_COUNT, count)
    elongation = rng.uniform(1.0, 1.5, count) ** 0.5
    flatness = rng.uniform(0.5, 0.9, count)
    burial = rng.uniform(0.1, 0.5, count)
    radius = rocks["diameter"] / 2
    rocks["sx"] = radius * elongation
    rocks["sy"] = radius / elongation
    rocks["sz"] = radius * flatness  # unit prototypes span z in [-1, 1]
    rocks["burial"] = burial
    rocks["z"] = np.nan  # set by place_on_terrain
    return rocks


def place_on_terrain(rocks: np.ndarray, grid: Grid, terrain: np.ndarray) -> None:
    """Set each rock's ``z`` and ``height`` from the terrain, burying its ``burial`` fraction."""
    if rocks.size == 0:
        return
    angles = np.linspace(0, 2 * math.pi, 8, endpoint=False)
    reach = np.maximum(rocks["sx"], rocks["sy"])[:, None]
    px = np.concatenate([rocks["x"][:, None], rocks["x"][:, None] + reach * np.cos(angles)], axis=1)
    py = np.concatenate([rocks["y"][:, None], rocks["y"][:, None] + reach * np.sin(angles)], axis=1)
    ground = grid.bilinear(terrain, px, py)
    centre = ground[:, 0]
    lowest = np.nanmin(np.where(np.isnan(ground), centre[:, None], ground), axis=1)
    burial = rocks["burial"]
    full = 2 * rocks["sz"]
    bottom = lowest - burial * full
    rocks["z"] = bottom + rocks["sz"]
    rocks["height"] = bottom + full - centre


# -- shapes ----------------------------------------------------------------------------------------


class Prototypes:
    """The unit rock shapes: hull vertices, triangles and facet planes, normalised.

    Each prototype is centred so that its projected area's centroid is at x = y = 0, scaled so that the
    projected area is π (equivalent-circle radius 1) and its z extent is [-1, 1].
    """

    def __init__(self) -> None:
        rng = np.random.default_rng(_PROTOTYPE_SEED)
        self.vertices: list[np.ndarray] = []
        self.faces: list[np.ndarray] = []
        self.planes: list[np.ndarray] = []  # (F, 4): n·p + d <= 0 inside
        golden = math.pi * (3 - math.sqrt(5))
        i = np.arange(_PROTOTYPE_POINTS) + 0.5
        base_z = 1 - 2 * i / _PROTOTYPE_POINTS
        base_r = np.sqrt(1 - base_z**2)
        for _ in range(PROTOTYPE_COUNT):
            theta = golden * i + rng.uniform(0, 2 * math.pi)
            pts = np.stack([base_r * np.cos(theta), base_r * np.sin(theta), base_z], axis=1)
            pts += rng.normal(0, 0.12, pts.shape)
            pts *= rng.uniform(0.7, 1.0, (len(pts), 1))
            hull = ConvexHull(pts)
            pts = pts[hull.vertices]
            flat = ConvexHull(pts[:, :2])
            outline = pts[flat.vertices, :2]
            area, centroid = _polygon_area_centroid(outline)
            pts[:, :2] -= centroid
            pts[:, :2] *= math.sqrt(math.pi / area)
            zmin, zmax = pts[:, 2].min(), pts[:, 2].max()
            pts[:, 2] = 2 * (pts[:, 2] - zmin) / (zmax - zmin) - 1
            hull = ConvexHull(pts)
            faces = _outward(pts, hull.simplices)
            self.vertices.append(pts)
            self.faces.append(faces)
            self.planes.append(hull.equations)
        # Facets split by the sign of their normal's z: upper ones bound the top surface from above.
        upper = [p[p[:, 2] > 0] for p in self.planes]
        lower = [p[p[:, 2] < 0] for p in self.planes]
        if any(np.any(np.abs(p[:, 2]) < 1e-9) for p in self.planes):  # pragma: no cover - fixed seed
            raise RuntimeError("rock prototype with a vertical facet")
        self.upper = _pad(upper, np.array([0.0, 0.0, 1.0, -1e3]))
        self.lower = _pad(lower, np.array([0.0, 0.0, -1.0, -1e3]))
        self.max_radius = max(float(np.hypot(v[:, 0], v[:, 1]).max()) for v in self.vertices)

    def world_vertices(self, rock: np.void) -> np.ndarray:
        """(V, 3) vertices of one rock in the map frame."""
        return _transform(self.vertices[int(rock["shape"])], rock)

    def obj_text(self, index: int) -> str:
        """Wavefront OBJ of one unit prototype (counter-clockwise faces seen from outside)."""
        lines = [f"# rover_autonomy rock prototype {index}: unit shape, scaled per rock in the scene"]
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in self.vertices[index]]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in self.faces[index]]
        return "\n".join(lines) + "\n"


def _transform(points: np.ndarray, rock: np.void) -> np.ndarray:
    c, s = math.cos(rock["yaw"]), math.sin(rock["yaw"])
    scaled = points * np.array([rock["sx"], rock["sy"], rock["sz"]])
    x = c * scaled[:, 0] - s * scaled[:, 1] + rock["x"]
    y = s * scaled[:, 0] + c * scaled[:, 1] + rock["y"]
    return np.stack([x, y, scaled[:, 2] + rock["z"]], axis=1)


def _polygon_area_centroid(poly: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = poly[:, 0], poly[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    cx = ((x + xn) * cross).sum() / (6 * area)
    cy = ((y + yn) * cross).sum() / (6 * area)
    return abs(area), np.array([cx, cy])


def _outward(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    centre = points.mean(axis=0)
    a, b, c = points[simplices[:, 0]], points[simplices[:, 1]], points[simplices[:, 2]]
    normal = np.cross(b - a, c - a)
    flip = np.einsum("ij,ij->i", normal, a - centre) < 0
    faces = simplices.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _pad(planes: list[np.ndarray], filler: np.ndarray) -> np.ndarray:
    width = max(len(p) for p in planes)
    out = np.tile(filler, (len(planes), width, 1))
    for i, p in enumerate(planes):
        out[i, : len(p)] = p
    return out


_PROTOTYPES: Prototypes | None = None


def prototypes() -> Prototypes:
    global _PROTOTYPES
    if _PROTOTYPES is None:
        _PROTOTYPES = Prototypes()
    return _PROTOTYPES


# -- rasterisation -------------------------------------------------------------------------------


def rasterise_rocks(rocks: np.ndarray, grid: Grid, terrain: np.ndarray) -> np.ndarray:
    """Height of rock tops above ``terrain`` (float32, 0 where no rock stands out) at the grid nodes.

    The top surface of a convex polyhedron over (x, y) is the minimum of its upward facets' planes,
    valid where that minimum lies above the maximum of its downward facets' planes. Rocks are
    processed in batches of equal patch size, facets in a loop: all arithmetic is vectorised.
    """
    relief = np.zeros(grid.shape, np.float32)
    if rocks.size == 0:
        return relief
    protos = prototypes()
    res = grid.resolution
    half = np.ceil(np.maximum(rocks["sx"], rocks["sy"]) * protos.max_radius / res).astype(int) + 1
    # Batch sizes grow geometrically so that few batches cover all rocks with little waste.
    sizes = np.unique(np.ceil(1.25 ** np.ceil(np.log(half) / np.log(1.25))).astype(int))
    flat_relief = relief.reshape(-1)
    flat_terrain = terrain.reshape(-1)
    lo = 0
    for size in sizes:
        members = np.nonzero((half <= size) & (half > lo))[0]
        lo = size
        chunk = max(1, 200_000 // (2 * size + 1) ** 2)  # nodes per batch: bounded memory
        for first in range(0, members.size, chunk):
            batch = rocks[members[first : first + chunk]]
            _rasterise_batch(batch, size, grid, protos, flat_terrain, flat_relief)
    return relief


def _rasterise_batch(
    batch: np.ndarray, half: int, grid: Grid, protos: Prototypes, terrain: np.ndarray, relief: np.ndarray
) -> None:
    res = grid.resolution
    ny, nx = grid.shape
    offsets = np.arange(-half, half + 1)
    row_c = np.rint((batch["y"] - grid.origin[1]) / res).astype(np.intp)
    col_c = np.rint((batch["x"] - grid.origin[0]) / res).astype(np.intp)
    rows = row_c[:, None, None] + offsets[None, :, None]
    cols = col_c[:, None, None] + offsets[None, None, :]
    dx = grid.origin[0] + cols * res - batch["x"][:, None, None]
    dy = grid.origin[1] + rows * res - batch["y"][:, None, None]
    # Rotate pixel offsets into the rock frame, then scale into the unit prototype frame.
    c, s = np.cos(batch["yaw"])[:, None, None], np.sin(batch["yaw"])[:, None, None]
    ux = (c * dx + s * dy) / batch["sx"][:, None, None]
    uy = (-s * dx + c * dy) / batch["sy"][:, None, None]
    shape = batch["shape"]
    top = np.full(ux.shape, np.inf)
    for plane in np.moveaxis(protos.upper[shape], 1, 0):  # (N, 4) per facet slot
        nx_, ny_, nz, d = (plane[:, i][:, None, None] for i in range(4))
        np.minimum(top, -(d + nx_ * ux + ny_ * uy) / nz, out=top)
    bottom = np.full(ux.shape, -np.inf)
    for plane in np.moveaxis(protos.lower[shape], 1, 0):
        nx_, ny_, nz, d = (plane[:, i][:, None, None] for i in range(4))
        np.maximum(bottom, -(d + nx_ * ux + ny_ * uy) / nz, out=bottom)
    inside = (top >= bottom) & (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    top_z = top * batch["sz"][:, None, None] + batch["z"][:, None, None]
    index = (rows * nx + cols)[inside]
    above = top_z[inside] - terrain[index]
    keep = above > 0
    np.maximum.at(relief, index[keep], above[keep].astype(np.float32))


def fold_into_terrain(rocks: np.ndarray, grid: Grid, terrain: np.ndarray) -> None:
    """Raise ``terrain`` in place by half-ellipsoid bumps of the rocks' footprint and visible height."""
    if rocks.size == 0:
        return
    res = grid.resolution
    ny, nx = grid.shape
    half = math.ceil(rocks["diameter"].max() / 2 / res)
    offsets = np.arange(-half, half + 1)
    row_c = np.rint((rocks["y"] - grid.origin[1]) / res).astype(np.intp)
    col_c = np.rint((rocks["x"] - grid.origin[0]) / res).astype(np.intp)
    rows = row_c[:, None, None] + offsets[None, :, None]
    cols = col_c[:, None, None] + offsets[None, None, :]
    dx = grid.origin[0] + cols * res - rocks["x"][:, None, None]
    dy = grid.origin[1] + rows * res - rocks["y"][:, None, None]
    rho2 = (dx / rocks["sx"][:, None, None]) ** 2 + (dy / rocks["sy"][:, None, None]) ** 2
    ground = rocks["z"] + rocks["sz"] - rocks["height"]  # terrain at the centre when placed
    bump = ground[:, None, None] + rocks["height"][:, None, None] * np.sqrt(np.maximum(1 - rho2, 0))
    inside = (rho2 < 1) & (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    flat = terrain.reshape(-1)
    np.maximum.at(flat, (rows * nx + cols)[inside], bump[inside].astype(terrain.dtype))
