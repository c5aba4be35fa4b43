"""Slip versus slope: the model used on sustained climbs, and its calibration against ground truth.

Longitudinal slip of a driven wheel is ``s = 1 - v_ground / (w r)``. On a uniform slope all wheels slip
alike, so the wheels' least-squares residuals cannot see it; terramechanics (Bekker; Wong, "Theory of
Ground Vehicles", ch. 2 and 4) says the slip needed to develop the drawbar pull that balances the slope's
resistance grows with the slope, convexly, until the soil's shear strength is exhausted. Lacking a
slip-independent velocity (visual odometry, as MER used), the odometry predicts the body's slip from the
climb angle theta (the slope along the direction of travel) with the empirical model

    s(theta) = a1 * max(theta, 0) + a2 * max(theta, 0)^2 + b1 * min(theta, 0)

(uphill: convex growth; downhill: a linear skid, b1 > 0 giving s < 0, the body faster than the wheels).
The coefficients (a1, a2, b1) are fitted by least squares to pairs (theta, s) from a calibration drive
against ground truth: ``rover-autonomy calibrate-slip``. They are terrain-specific and never taken from
the simulator's source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

SLIP_BOUNDS = (-0.5, 0.95)  # the model's output range: beyond these the model is extrapolating


@dataclass(frozen=True)
class SlopeSlipModel:
    uphill_linear: float = 0.0  # a1 [1/rad]
    uphill_quadratic: float = 0.0  # a2 [1/rad^2]
    downhill_linear: float = 0.0  # b1 [1/rad]

    @classmethod
    def from_coefficients(cls, coefficients) -> SlopeSlipModel:
        values = [float(c) for c in coefficients]
        if len(values) != 3:
            raise ValueError(f"slip model needs 3 coefficients (a1, a2, b1), got {len(values)}")
        return cls(*values)

    @property
    def coefficients(self) -> list[float]:
        return [self.uphill_linear, self.uphill_quadratic, self.downhill_linear]

    def slip(self, climb: float) -> float:
        """Predicted slip ratio at climb angle ``climb`` [rad] (positive uphill)."""
        value = float(features(np.array([climb]))[0] @ np.array(self.coefficients))
        return float(np.clip(value, *SLIP_BOUNDS))


def features(climb: np.ndarray) -> np.ndarray:
    """(n, 3) regressors of the model: max(theta, 0), max(theta, 0)^2, min(theta, 0)."""
    climb = np.asarray(climb, dtype=float)
    up = np.maximum(climb, 0.0)
    return np.stack([up, up * up, np.minimum(climb, 0.0)], axis=1)


@dataclass(frozen=True)
class SlipFit:
    model: SlopeSlipModel
    samples: int
    rms_error: float  # [-] of the fit over the samples
    climb_range: tuple[float, float]  # [rad] the angles the calibration covered


def fit_slope_slip(climb: np.ndarray, slip: np.ndarray, min_samples: int = 20) -> SlipFit:
    """Least-squares fit of (a1, a2, b1) to calibration pairs; raises ValueError on unusable data."""
    climb = np.asarray(climb, dtype=float)
    slip = np.asarray(slip, dtype=float)
    ok = np.isfinite(climb) & np.isfinite(slip)
    climb, slip = climb[ok], slip[ok]
    if climb.size < min_samples:
        raise ValueError(f"calibration needs at least {min_samples} samples while driving, got {climb.size}")
    if np.max(climb) < np.radians(3.0):
        raise ValueError(
            f"calibration never climbed a slope (steepest {np.degrees(np.max(climb)):.1f} deg); "
            "drive up a slope of 10-20 deg"
        )
    a = features(climb)
    # Columns never excited (no downhill samples) are left at zero rather than fitted to noise.
    excited = np.any(a != 0.0, axis=0)
    coefficients = np.zeros(3)
    solution, *_ = np.linalg.lstsq(a[:, excited], slip, rcond=None)
    coefficients[excited] = solution
    rms = float(np.sqrt(np.mean((a @ coefficients - slip) ** 2)))
    return SlipFit(
        SlopeSlipModel.from_coefficients(coefficients),
        int(climb.size),
        rms,
        (float(climb.min()), float(climb.max())),
    )


class SlipCalibration:
    """Collects (climb, slip) pairs from a drive against ground truth, averaged over time windows.

    Each window's slip is ``1 - mean(true speed) / mean(wheel speed)``: averaging the speeds first keeps
    the ratio robust to noise. Windows in which the rover turned, reversed or hardly moved are skipped.
    """

    def __init__(self, window: float = 1.0, min_speed: float = 0.05):
        self.window = window
        self.min_speed = min_speed
        self.climb: list[float] = []
        self.slip: list[float] = []
        self._samples: list[tuple[float, float, float]] = []
        self._start: float | None = None

    def add(self, stamp: float, climb: float, wheel_speed: float, true_speed: float) -> None:
        if not all(np.isfinite(v) for v in (stamp, climb, wheel_speed, true_speed)):
            return
        if self._start is None or stamp < self._start:
            self._start, self._samples = stamp, []
        if stamp - self._start >= self.window:
            self._close()
            self._start = stamp
        self._samples.append((climb, wheel_speed, true_speed))

    def _close(self) -> None:
        samples, self._samples = np.array(self._samples), []
        if len(samples) < 3:
            return
        climb, wheel, true = samples.T
        same_direction = np.all(np.sign(wheel) == np.sign(wheel[0]))
        if not same_direction or np.min(np.abs(wheel)) < self.min_speed:
            return
        self.climb.append(float(np.mean(climb)))
        self.slip.append(float(1.0 - np.mean(true) / np.mean(wheel)))

    def end_drive(self) -> None:
        """Close the last window of a drive (the next samples may come from another drive)."""
        self._close()
        self._start = None

    def fit(self, min_samples: int = 20) -> SlipFit:
        self._close()
        return fit_slope_slip(np.array(self.climb), np.array(self.slip), min_samples)


SLIP_MODEL_HEADER = """\
# Slip-versus-slope model of wheel_odometry, fitted against ground truth by `rover-autonomy calibrate-slip`.
# s(theta) = a1 * max(theta, 0) + a2 * max(theta, 0)^2 + b1 * min(theta, 0), theta: climb angle [rad]
# (see rover_autonomy/odometry/slip.py). Terrain-specific: recalibrate for another soil or world.
"""


def save_slip_model(path: str | Path, fit: SlipFit, source: str, gravity: float) -> None:
    """Write the fitted coefficients, the gravity they were calibrated under and their provenance."""
    lo, hi = fit.climb_range
    text = SLIP_MODEL_HEADER + yaml.safe_dump(
        {
            "coefficients": [
                float(c) for c in fit.model.coefficients
            ],  # a1 [1/rad], a2 [1/rad^2], b1 [1/rad]
            "gravity": float(gravity),  # [m/s^2] the planet of the calibration
            "samples": fit.samples,
            "rms_error": round(fit.rms_error, 4),
            "climb_range_deg": [round(math.degrees(lo), 2), round(math.degrees(hi), 2)],
            "source": source,
        },
        sort_keys=False,
    )
    Path(path).write_text(text)


def load_slip_model(path: str | Path) -> tuple[SlopeSlipModel, float]:
    """(model, calibration gravity [m/s^2], 0 if not recorded) of a file written by
    :func:`save_slip_model`; ValueError naming what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: cannot read slip model ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from err
    coefficients = data.get("coefficients") if isinstance(data, dict) else None
    if not (
        isinstance(coefficients, list)
        and len(coefficients) == 3
        and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in coefficients
        )
    ):
        raise ValueError(f"{path}: coefficients must be a list of 3 finite numbers, got {coefficients!r}")
    gravity = data.get("gravity", 0.0)
    if (
        isinstance(gravity, bool)
        or not isinstance(gravity, (int, float))
        or not (gravity >= 0 and math.isfinite(gravity))
    ):
        raise ValueError(f"{path}: gravity must be a non-negative number, got {gravity!r}")
    return SlopeSlipModel.from_coefficients(coefficients), float(gravity)
