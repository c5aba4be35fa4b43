"""Planetary worlds: deterministic Moon/Mars terrain with ground truth and a MuJoCo scene (no ROS).

Generate (``rover-autonomy world --planet mars --seed 3 --out DIR``, or in Python)::

    from rover_autonomy.worlds import WorldSpec, generate, write_world
    write_world(generate(WorldSpec(planet="mars", seed=3, size=80.0)), "out/mars3", preview=True)

Load (the simulator, mapping and planning benchmarks and missions all go through this)::

    from rover_autonomy.worlds import load_world, WorldError
    world = load_world("mars")          # a shipped world by name, or any world directory
    world.height_at(x, y)               # ground-truth surface [m], rocks included; bilinear; NaN outside
    world.terrain_height_at(x, y)       # master terrain without the explicit rocks
    world.surface, world.terrain        # float32 rasters (rows = +y, cols = +x), world.grid.origin/resolution
    world.hazard, world.hazard_at(x, y) # uint8 flags: hazard.SLOPE | STEP | BELLY (rule: hazard.py)
    world.rocks["x"], ["diameter"], ... # structured arrays; world.folded_rocks; world.craters
    world.start                         # Pose2D(x, y, yaw) in map; world.start_clear_radius [m]
    world.gravity, world.sun.direction  # [m/s²], unit vector towards the sun in map
    world.mjcf_path                     # MuJoCo scene without the rover (add the rover to it)

Frames and units: ``map`` (x east, y north, z up), metres, radians; rasters are node-registered
(``grid``). The generator's physical models, with references, are in ``relief`` (fractal relief),
``craters`` (size-frequency and profiles), ``rocks`` (Golombek–Rapp), ``hazard`` (the ground-truth
hazard rule from the rover model) and ``planets`` (parameters); the files of a world directory are
listed in ``world``; the scene's render/physics choices in ``scene``. A corrupt or incomplete world
directory raises :class:`WorldError` with one line naming the file and the field.
"""

from rover_autonomy.worlds.generator import GeneratedWorld, WorldSpec, WorldSpecError, generate
from rover_autonomy.worlds.world import Pose2D, Sun, World, WorldError, load_world, resolve_world
from rover_autonomy.worlds.writer import write_world

__all__ = [
    "GeneratedWorld",
    "Pose2D",
    "Sun",
    "World",
    "WorldError",
    "WorldSpec",
    "WorldSpecError",
    "generate",
    "load_world",
    "resolve_world",
    "write_world",
]
