"""MuJoCo scene of a world: height field, rocks, sun, sky and the procedural regolith texture.

Render/physics terrain: MuJoCo reads PNG height fields at 8 bits, so the terrain is written in its
float32 binary format (``hfield.bin``). It is coarser than the ground truth (see
``generator.render_resolution``: at most 401 nodes a side, at least 0.1 m): software GL renders a
640×480 view of a 401² field with shadows in ~95 ms, of an 801² one in ~250 ms. Each coarse node is the
tent-weighted (bilinear-consistent) average of the ground-truth terrain around it, so the coarse surface
follows the fine one in the mean instead of aliasing its roughness.

Rocks are static convex meshes: per rock a mesh asset scaling one of the unit prototypes
(``rocks/rock_NN.obj``) and a geom with the rock's position and yaw, so collision and rendering use the
same polyhedron as the ground-truth raster. Rocks render at ~10 µs each.

Light: the sun is a directional light with shadows. MuJoCo centres a directional light's shadow
frustum on the light's position and spans ±shadowclip·extent across it: the scene places the light 60 m up-sun
of the start pose with a 2048² map over ±24 m (2.3 cm per texel); a simulator moves ``light_pos``
with the rover (same offset) to keep shadows around it (a 4096² map over the whole world costs about twice the render
time on software GL). The camera headlight is off; the light's ambient term stands for sky
light (Mars) or almost none (Moon). Exposure: a camera exposes for the ground, so the sun's intensity
is scaled (gain clipped to [1, 2.5]) to put sunlit flat regolith near mid-grey; rocks keep their albedo
relative to the regolith.

Texture: grey multi-octave noise (1024², amplitude ∝ f^-0.6, periodic so it tiles without seams)
over 6 m tiles (5.9 mm per texel, about a pixel at 3 m for the 640×480, 70° navigation cameras), tinted
by the material colour. The tiling period is far longer than a stereo matching window, and relief
shading and rock shadows vary across tiles, so block matching locks on without ambiguity.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from rover_autonomy.geometry import yaw_to_quaternion
from rover_autonomy.worlds.planets import Planet
from rover_autonomy.worlds.rocks import PROTOTYPE_COUNT, prototypes

TEXTURE_SIZE = 1024  # [px]
TEXTURE_TILE = 6.0  # [m] one texture tile on the ground
TEXTURE_SEED = 7  # the texture is the same for every world: it depends on the planet's look only
ROCK_ALBEDO = {
    "moon": 0.14,
    "mars": 0.17,
}  # basaltic rocks: slightly brighter than lunar soil, darker than Martian dust
SHADOW_MAP = 2048  # [texels] a 4096² map costs ~2x the render time on llvmpipe
SHADOW_REACH = 24.0  # [m] shadows are drawn within this distance of the light's position
LIGHT_DISTANCE = 2.5 * SHADOW_REACH  # [m] from the start pose towards the sun (see sun_light_position)


def sun_light_position(world, sun_direction: np.ndarray) -> tuple[float, float, float]:
    """Where the directional light sits: up-sun of the start pose by LIGHT_DISTANCE.

    MuJoCo's shadow frustum of a directional light starts at the light's position: with the light
    close to the ground, grazing terrain falls near the frustum's depth limits and the shadow test
    speckles the ground with single dark pixels (measured: 931 such pixels per frame at 10 m,
    73 at 60 m up-sun).
    """
    x, y, _ = world.start
    ground = float(world.grid.bilinear(world.terrain, x, y))
    offset = np.asarray(sun_direction) * LIGHT_DISTANCE
    return (x + offset[0], y + offset[1], ground + offset[2])


def coarse_heights(terrain: np.ndarray, step: int) -> np.ndarray:
    """Tent-filtered samples of ``terrain`` every ``step`` nodes (float32)."""
    if step == 1:
        return terrain.astype(np.float32)
    i = np.arange(-step + 1, step)
    weights = (step - np.abs(i)) / step**2
    smooth = ndimage.correlate1d(terrain.astype(np.float64), weights, axis=0, mode="nearest")
    smooth = ndimage.correlate1d(smooth, weights, axis=1, mode="nearest")
    return smooth[::step, ::step].astype(np.float32)


def write_hfield(path: Path, heights: np.ndarray) -> None:
    """MuJoCo binary height field: int32 nrow, int32 ncol, float32 data (row 0 = lowest y)."""
    with open(path, "wb") as f:
        np.array(heights.shape, dtype="<i4").tofile(f)
        np.ascontiguousarray(heights, dtype="<f4").tofile(f)


def regolith_texture(planet: Planet) -> np.ndarray:
    """(TEXTURE_SIZE, TEXTURE_SIZE) uint8 grey texture, seamless, high-frequency, not repetitive within."""
    rng = np.random.default_rng([TEXTURE_SEED, len(planet.name)])
    n = TEXTURE_SIZE
    f = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :])
    f[0, 0] = np.inf
    spectrum = f**-0.6 * (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape))
    field = np.fft.irfft2(spectrum, s=(n, n))
    field = (field - field.mean()) / field.std()
    grains = rng.standard_normal((n, n))  # single-texel grain: the finest detail a camera resolves
    value = 0.55 + 0.16 * field + 0.06 * grains
    return np.clip(np.rint(value * 255), 0, 255).astype(np.uint8)


def write_texture(path: Path, planet: Planet) -> None:
    if not cv2.imwrite(str(path), regolith_texture(planet), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {path}")


def write_rock_meshes(folder: Path) -> None:
    folder.mkdir()
    protos = prototypes()
    for i in range(PROTOTYPE_COUNT):
        (folder / f"rock_{i:02d}.obj").write_text(protos.obj_text(i))


def _f(value: float) -> str:
    """Shortest decimal of ``value`` at 0.1 mm: the precision of world.yaml."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def scene_xml(
    *,
    planet: Planet,
    size: float,
    centre: tuple[float, float],
    light_at: tuple[float, float, float],
    z_min: float,
    z_range: float,
    sun_direction: np.ndarray,
    rocks: np.ndarray,
    hfield_file: str,
    texture_file: str,
    rock_dir: str,
    near_clip: float,
    far_clip: float,
    title: str,
) -> str:
    """The MJCF text of a world scene (no rover)."""
    extent = size / 2
    texture_mean = 0.55
    sin_el = max(float(sun_direction[2]), 1e-3)
    gain = float(np.clip(0.5 / (texture_mean * (planet.ambient + sin_el)), 1.0, 2.5))
    diffuse, ambient = 0.9 * gain, planet.ambient * gain
    rock_shade = min(1.0, ROCK_ALBEDO[planet.name] / planet.albedo)
    tint = " ".join(_f(c) for c in planet.tint)
    rock_rgb = " ".join(_f(c * rock_shade) for c in planet.tint)
    sky_top, sky_horizon = (" ".join(_f(c) for c in rgb) for rgb in planet.sky)
    light_dir = " ".join(_f(-c) for c in sun_direction)
    light_pos = " ".join(_f(c) for c in light_at)
    shadowclip = min(SHADOW_REACH, size) / extent
    repeat = _f(size / TEXTURE_TILE)
    lines = [
        f"<!-- {title} -->",
        f'<mujoco model="{planet.name}_world">',
        '  <compiler angle="radian"/>',
        f'  <option gravity="0 0 -{planet.gravity}" timestep="0.002"/>',
        f'  <statistic center="{_f(centre[0])} {_f(centre[1])} 0" extent="{_f(extent)}"/>',
        "  <visual>",
        f'    <quality shadowsize="{SHADOW_MAP}"/>',
        f'    <map znear="{near_clip / extent:.6f}" zfar="{far_clip / extent:.4f}" shadowclip="{shadowclip:.4f}" haze="0"/>',
        '    <headlight ambient="0 0 0" diffuse="0 0 0" specular="0 0 0"/>',
        '    <global offwidth="1280" offheight="960"/>',
        "  </visual>",
        "  <asset>",
        f'    <texture name="sky" type="skybox" builtin="gradient" rgb1="{sky_top}" rgb2="{sky_horizon}" width="64" height="64"/>',
        f'    <texture name="regolith" type="2d" file="{texture_file}"/>',
        f'    <material name="regolith" texture="regolith" texrepeat="{repeat} {repeat}" texuniform="false" rgba="{tint} 1" specular="0" shininess="0" reflectance="0"/>',
        f'    <texture name="rock" type="cube" builtin="flat" mark="random" random="0.4" rgb1="{rock_rgb}" rgb2="{rock_rgb}" markrgb="0.25 0.23 0.22" width="128" height="128"/>',
        '    <material name="rock" texture="rock" specular="0.05" shininess="0.1" reflectance="0"/>',
        f'    <hfield name="terrain" file="{hfield_file}" size="{_f(size / 2)} {_f(size / 2)} {z_range:.6f} 1"/>',
    ]
    for i, rock in enumerate(rocks):
        lines.append(
            f'    <mesh name="rock_{i:05d}" file="{rock_dir}/rock_{int(rock["shape"]):02d}.obj" '
            f'scale="{_f(rock["sx"])} {_f(rock["sy"])} {_f(rock["sz"])}"/>'
        )
    lines += [
        "  </asset>",
        "  <worldbody>",
        f'    <light name="sun" directional="true" castshadow="true" pos="{light_pos}" dir="{light_dir}" '
        f'diffuse="{diffuse:.3f} {diffuse:.3f} {diffuse:.3f}" ambient="{ambient:.3f} {ambient:.3f} {ambient:.3f}" specular="0.1 0.1 0.1"/>',
        f'    <geom name="terrain" type="hfield" hfield="terrain" pos="{_f(centre[0])} {_f(centre[1])} {z_min:.6f}" material="regolith" friction="0.8 0.02 0.001"/>',
    ]
    for i, rock in enumerate(rocks):
        _, _, z, w = yaw_to_quaternion(float(rock["yaw"]))
        lines.append(
            f'    <geom name="rock_{i:05d}" type="mesh" mesh="rock_{i:05d}" material="rock" friction="0.9 0.02 0.001" '
            f'pos="{_f(rock["x"])} {_f(rock["y"])} {_f(rock["z"])}" '
            f'quat="{w:.6f} 0 0 {z:.6f}"/>'
        )
    lines += ["  </worldbody>", "</mujoco>", ""]
    return "\n".join(lines)
