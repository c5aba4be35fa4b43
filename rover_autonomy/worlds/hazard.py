"""Ground-truth hazard layer: where the terrain itself is impassable for the rover model.

Computed on the ground-truth surface (rocks included) with the limits of ``config/rover.yaml``. A node is
a hazard when any of these holds (bit flags, combined with OR):

- ``SLOPE`` (1): the tilt of the support surface exceeds ``limits.max_tilt``. The support surface is the
  surface averaged over a square of the wheelbase length (front to rear wheel contact, 1.3 m): that
  is the plane a rocker-bogie rests on, so cm-scale roughness does not read as slope.
- ``STEP`` (2): the height range within a square one wheel diameter wide exceeds ``limits.max_step``:
  a wheel meets a step it cannot climb (a rock face, a crater wall lip).
- ``BELLY`` (4): the surface stands above the support surface by more than
  ``body.bottom_z - limits.min_belly_clearance`` (0.30 m for the default rover): it would strike the
  chassis belly with the wheels on the support surface around it.

The layer marks obstacle nodes only; it is not inflated by the rover footprint (that is the planner's
configuration-space step). Edge nodes use the nearest valid data (``nearest`` filter mode).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from rover_autonomy.rover_model import RoverModel

SLOPE = 1
STEP = 2
BELLY = 4
HAZARD_FLAGS = {"slope": SLOPE, "step": STEP, "belly": BELLY}


def hazard_rule(model: RoverModel) -> dict[str, float]:
    """The thresholds and window sizes the layer is computed with (recorded in world.yaml)."""
    xs = [w.x for w in model.wheels]
    return {
        "max_tilt_deg": float(np.degrees(model.limits.max_tilt)),
        "support_window": float(max(xs) - min(xs)),
        "max_step": model.limits.max_step,
        "step_window": 2 * model.wheel_radius,
        "max_protrusion": model.body.bottom_z - model.limits.min_belly_clearance,
    }


def hazard_layer(surface: np.ndarray, resolution: float, model: RoverModel) -> np.ndarray:
    """uint8 bit flags (SLOPE | STEP | BELLY) at each node of ``surface`` [m]."""
    rule = hazard_rule(model)
    z = surface.astype(np.float64)
    support_px = max(3, round(rule["support_window"] / resolution) | 1)
    support = ndimage.uniform_filter(z, support_px, mode="nearest")
    gy, gx = np.gradient(support, resolution)
    tilt = np.degrees(np.arctan(np.hypot(gx, gy)))
    step_px = max(2, round(rule["step_window"] / resolution) + 1)
    step = ndimage.maximum_filter(z, step_px, mode="nearest") - ndimage.minimum_filter(
        z, step_px, mode="nearest"
    )
    out = np.zeros(surface.shape, np.uint8)
    out[tilt > rule["max_tilt_deg"]] |= SLOPE
    out[step > rule["max_step"]] |= STEP
    out[z - support > rule["max_protrusion"]] |= BELLY
    return out
