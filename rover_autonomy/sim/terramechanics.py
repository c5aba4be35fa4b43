"""Wheel–soil traction: a Bekker–Wong terramechanics model applied as explicit contact forces.

MuJoCo resolves only the normal force of a wheel contact (the wheel geoms have ``condim=1``); this
module turns that load and the wheel's motion into the tangential force the soil can carry, which
the engine applies at the contact point through ``xfrc_applied``. Per wheel contact of load W [N]:

* sinkage of a rigid wheel (Bekker): z = (3 W / ((3 − n)(k_c/b + k_φ) √(2r)))^(2 / (2n + 1)),
  contact length l = r·acos(1 − z/r);
* compaction (rolling) resistance (Bekker): R_c = b (k_c/b + k_φ) z^(n+1) / (n + 1), opposing motion;
* thrust from shear (Janosi–Hanamoto, Wong): with slip ratio s and shear displacement j = s·x along
  the contact, H(s) = (A c + W tan φ) · [1 − K/(s l) · (1 − exp(−s l / K))], A = b l;
* drawbar pull DP = H(s) − R_c along the wheel's heading;
* side force from the slip angle α in the same shear law, with j_y = l |tan α|;
  the resultant tangential force never exceeds A c + W tan φ;
* slip sinkage (Lyasko 2010): z = z_0 (1 + |s|)/(1 − 0.5|s|), so a spinning wheel digs in and R_c rises.

Slip ratio s = (ω r − v) / max(|ω r|, |v|, v_ε): driving it equals 1 − v/(ω r) (0 rolling, 1 spinning in
place); braking it is Wong's skid ratio ω r / v − 1 (negative). v_ε regularises standstill, where the
model becomes a stiff viscous shear (a parked rover creeps down a slope at a few mm/s).

How slip depends on slope and load: climbing a slope θ the wheels must carry W sin θ + R_c with only
W cos θ tan φ + A c available, so the mobilised fraction of the shear strength, and with it s, rises
steeply with θ (for this rover on Mars sand: 2 % level, 11 % at 5°, 21 % at 10°, 36 % at 15°, spinning
out near 20° — the knee MER and MSL saw in loose sand). Load enters through sinkage: compaction
resistance grows faster than the load (R_c/W ∝ W^{1/(2n+1)}), so on level ground a heavier wheel
rolls at more slip (1.6 % → 1.8 % from half to four times the nominal load), and slip sinkage makes a
slipping, heavily loaded wheel dig in further; the longer contact patch of a loaded wheel mobilises
shear sooner, so for a given pull (a towed load) the heavier wheel slips less. ``steady_slip`` gives
these equilibrium figures. The scalar kernels are numba-compiled: the engine calls them for every
wheel contact at every physics step.

Contacts with rocks (any non-terrain geom) use regularised Coulomb friction of coefficient μ_rock
in the same force path instead of the soil law.

References: M. G. Bekker, *Introduction to Terrain-Vehicle Systems* (1969); J. Y. Wong, *Theory of
Ground Vehicles*, 4th ed. (2008), ch. 2; Z. Janosi and B. Hanamoto (1961); soil values below from
Wong's tables (dry sand) and Bekker's lunar soil.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class Soil:
    name: str
    n: float  # sinkage exponent [-]
    k_c: float  # cohesive modulus of deformation [N/m^(n+1)]
    k_phi: float  # frictional modulus of deformation [N/m^(n+2)]
    cohesion: float  # c [Pa]
    friction_angle: float  # φ [rad]
    shear_modulus_k: float  # K, shear deformation modulus [m]

    @property
    def params(self) -> tuple[float, float, float, float, float, float]:
        return (self.n, self.k_c, self.k_phi, self.cohesion, self.friction_angle, self.shear_modulus_k)


SOILS: dict[str, Soil] = {
    # Wong, Theory of Ground Vehicles, table 2.3, "dry sand (Land Locomotion Lab.)": a Mars drift analogue.
    "mars": Soil("dry_sand", 1.1, 0.99e3, 1528.43e3, 1.04e3, math.radians(28.0), 0.010),
    # Bekker's lunar soil (Apollo LRV design values), also in Wong's tables.
    "moon": Soil("lunar_soil", 1.0, 1.4e3, 820e3, 0.17e3, math.radians(35.0), 0.018),
}


@dataclass(frozen=True)
class WheelGeometry:
    radius: float  # [m]
    width: float  # [m]


ROCK_FRICTION = 0.8  # μ of wheel on rock [-]
V_EPS = 0.05  # [m/s] slip regularisation speed


@njit(cache=True)
def _slip(rim_speed, ground_speed, v_eps):
    scale = max(abs(rim_speed), abs(ground_speed), v_eps)
    return (rim_speed - ground_speed) / scale


@njit(cache=True)
def _shear_fraction(x):
    """Janosi–Hanamoto mean shear mobilisation 1 − (1 − e^{−x})/x over the contact, x = j_max/K ≥ 0."""
    if x < 1e-4:
        return 0.5 * x
    return 1.0 + math.expm1(-x) / x


@njit(cache=True)
def _sign(x):
    return (x > 0) - (x < 0)


@njit(cache=True)
def _static_sinkage(load, n, k, radius):
    base = 3.0 * max(load, 0.0) / ((3.0 - n) * k * math.sqrt(2.0 * radius))
    return min(base ** (2.0 / (2.0 * n + 1.0)), radius)


@njit(cache=True)
def soil_force(load, rim_speed, v_long, v_lat, soil, radius, width, v_eps):
    """(longitudinal [N], lateral [N], slip ratio) of one wheel contact on soil.

    ``soil`` = (n, k_c, k_phi, c, phi, K) as :meth:`Soil.params`; ``rim_speed`` ω·r [m/s] relative to
    the hub along the heading; ``v_long``/``v_lat`` hub velocity along the heading and the axle [m/s].
    """
    n, k_c, k_phi, cohesion, phi, shear_k = soil
    k = k_c / width + k_phi
    s = _slip(rim_speed, v_long, v_eps)
    a = min(abs(s), 1.0)
    z = min(_static_sinkage(load, n, k, radius) * (1.0 + a) / (1.0 - 0.5 * a), radius)
    length = radius * math.acos(max(-1.0, min(1.0, 1.0 - z / radius)))
    strength = width * length * cohesion + max(load, 0.0) * math.tan(phi)
    resistance = width * k * z ** (n + 1.0) / (n + 1.0)
    length_k = max(length, 1e-4) / shear_k
    longitudinal = strength * _shear_fraction(abs(s) * length_k) * _sign(s) - resistance * math.tanh(
        v_long / v_eps
    )
    tan_alpha = v_lat / max(abs(v_long), v_eps)
    lateral = -strength * _shear_fraction(abs(tan_alpha) * length_k) * _sign(v_lat)
    norm = math.hypot(longitudinal, lateral)
    if norm > strength:
        longitudinal *= strength / norm
        lateral *= strength / norm
    return longitudinal, lateral, s


@njit(cache=True)
def rock_force(load, slip_long, slip_lat, mu, v_eps):
    """Regularised Coulomb friction on rock, opposing the contact-point slip velocity [m/s]."""
    speed = math.hypot(slip_long, slip_lat)
    if speed < 1e-12:
        return 0.0, 0.0
    magnitude = mu * max(load, 0.0) * math.tanh(speed / v_eps)
    return -magnitude * slip_long / speed, -magnitude * slip_lat / speed


def slip_ratio(rim_speed, ground_speed, v_eps: float = V_EPS) -> np.ndarray:
    """Longitudinal slip s = (ω r − v) / max(|ω r|, |v|, v_ε); 1 − v/(ω r) when driving."""
    rim_speed, ground_speed = np.asarray(rim_speed, float), np.asarray(ground_speed, float)
    scale = np.maximum(np.maximum(np.abs(rim_speed), np.abs(ground_speed)), v_eps)
    return (rim_speed - ground_speed) / scale


def sinkage(load, soil: Soil, wheel: WheelGeometry) -> np.ndarray:
    """Static sinkage z [m] of a rigid wheel under load [N] (Bekker), capped at the radius."""
    k = soil.k_c / wheel.width + soil.k_phi
    return np.array([_static_sinkage(w, soil.n, k, wheel.radius) for w in np.atleast_1d(load)])


def soil_forces(load, rim_speed, v_long, v_lat, soil: Soil, wheel: WheelGeometry, v_eps: float = V_EPS):
    """Vectorised :func:`soil_force`: arrays of longitudinal force, lateral force [N] and slip ratio."""
    rows = [
        soil_force(w, r, vl, vt, soil.params, wheel.radius, wheel.width, v_eps)
        for w, r, vl, vt in np.broadcast(load, rim_speed, v_long, v_lat)
    ]
    return tuple(np.array(column) for column in zip(*rows, strict=True))


def steady_slip(demand: float, load: float, soil: Soil, wheel: WheelGeometry, speed: float = 0.3) -> float:
    """Slip ratio at which a wheel of ``load`` [N] delivers drawbar pull ``demand`` [N] (bisection).

    Returns 1.0 when even a spinning wheel cannot deliver it. For tests and documentation.
    """
    lo, hi = 0.0, 0.999
    load_a = np.array([load])
    for _ in range(60):
        mid = (lo + hi) / 2
        rim = speed / (1.0 - mid)
        pull, _, _ = soil_forces(load_a, np.array([rim]), np.array([speed]), np.zeros(1), soil, wheel)
        lo, hi = (mid, hi) if pull[0] < demand else (lo, mid)
    return 1.0 if hi >= 0.998 else (lo + hi) / 2
