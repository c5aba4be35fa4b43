"""Multi-scale terrain relief by spectral synthesis of fractional Brownian surfaces.

A Gaussian random field with amplitude spectrum |A(f)| ∝ f^-(H+1) is a fractional Brownian surface of
Hurst exponent H (Voss 1985; Saupe 1988, "Algorithms for random fractals"). Two bands are drawn from
independent streams: undulation (wavelengths above the corner) and roughness (below it, down to the
grid's Nyquist limit), each scaled to its RMS height. A regional plane is added on top. The field is
synthesised on a padded FFT grid and cropped, so the world does not wrap around at its edges.
"""

from __future__ import annotations

import numpy as np
from scipy import fft


def fractal_band(
    rng: np.random.Generator,
    shape: tuple[int, int],
    resolution: float,
    hurst: float,
    rms: float,
    min_wavelength: float,
    max_wavelength: float,
) -> np.ndarray:
    """A float64 fBm field of ``shape`` with wavelengths in [min, max] [m], scaled to ``rms`` [m].

    The band edges are tapered (raised cosine over a factor 1.5 in wavelength) so the field has no
    ringing. Returns zeros when the band is empty at this resolution.
    """
    ny, nx = shape
    py, px = (
        fft.next_fast_len(int(ny * 1.25) + 8, real=True),
        fft.next_fast_len(int(nx * 1.25) + 8, real=True),
    )
    fy = fft.fftfreq(py, d=resolution)[:, None]
    fx = fft.rfftfreq(px, d=resolution)[None, :]
    f = np.hypot(fy, fx)  # [1/m]
    f[0, 0] = np.inf
    amplitude = f ** -(hurst + 1.0)
    amplitude *= _taper(f, 1.0 / max_wavelength, high=False) * _taper(f, 1.0 / min_wavelength, high=True)
    amplitude[0, 0] = 0.0
    noise = rng.standard_normal((py, px // 2 + 1)) + 1j * rng.standard_normal((py, px // 2 + 1))
    field = fft.irfft2(amplitude * noise, s=(py, px))[:ny, :nx]
    field -= field.mean()
    std = field.std()
    if not np.isfinite(std) or std == 0.0:
        return np.zeros(shape)
    return field * (rms / std)


def _taper(f: np.ndarray, edge: float, high: bool) -> np.ndarray:
    """Raised-cosine window in log frequency: passes f below ``edge`` (high=True) or above it."""
    lo, hi = (edge / 1.5, edge) if high else (edge, edge * 1.5)
    t = np.clip((np.log(np.maximum(f, 1e-12)) - np.log(lo)) / (np.log(hi) - np.log(lo)), 0.0, 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * t)  # 0 below lo, 1 above hi
    return 1.0 - ramp if high else ramp


def regional_plane(x: np.ndarray, y: np.ndarray, slope_deg: float, direction: float) -> np.ndarray:
    """Plane through the origin rising by tan(slope) towards the heading ``direction`` [rad from +x]."""
    gradient = np.tan(np.radians(slope_deg))
    return gradient * (np.cos(direction) * x[None, :] + np.sin(direction) * y[:, None])


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
