"""Fusion of visual odometry increments into the wheel odometry: a delayed relative-position correction.

A visual increment says how far ``base_link`` moved between two frame stamps ``t0 < t1``, in the body
frame at ``t0``; it reaches the odometry a few hundred milliseconds after ``t1`` (stereo and VO take
that long). The odometry keeps a short history of its own pose and of the distance the wheels rolled,
so it can compare like with like:

* innovation ``ν = Δp_visual − R(t0)ᵀ (p(t1) − p(t0))``; the odometry's share of the disagreement is
  the wheels' uncertainty over the increment (``wheel_sigma`` × the distance rolled, per axis) against
  the increment's own covariance: ``K = Σ_wheels (Σ_wheels + Σ_visual)⁻¹``;
* the correction ``R(t0) K ν`` moves the current position and the history after ``t1`` (an error made
  between ``t0`` and ``t1`` is still in every later pose); a Mahalanobis gate refuses outliers;
* the slip the increment shows, ``1 − Δx_visual / wheel distance`` (MER's VO slip check), is returned
  for the estimator to low-pass and scale the wheel speed with until the next increment.

The attitude is left to the gyro and gravity: over a frame the gyro's yaw is better than a stereo pair's.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VisualIncrement:
    start: float  # [s] stamp of the earlier frame
    end: float  # [s] stamp of the later frame
    translation: np.ndarray  # (3,) [m] motion of base_link, in base_link at ``start``
    covariance: np.ndarray  # (3, 3) [m^2]

    def problem(self) -> str | None:
        """Why the increment cannot be used, or None."""
        if not (np.isfinite(self.start) and np.isfinite(self.end)) or self.end <= self.start:
            return f"stamps {self.start:.3f} -> {self.end:.3f} s are not increasing"
        if self.translation.shape != (3,) or not np.all(np.isfinite(self.translation)):
            return "translation is not 3 finite numbers"
        if self.covariance.shape != (3, 3) or not np.all(np.isfinite(self.covariance)):
            return "covariance is not a finite 3x3 matrix"
        if np.any(np.diag(self.covariance) < 0.0):
            return "covariance has a negative variance"
        return None


@dataclass(frozen=True)
class VisualOutcome:
    accepted: bool
    offset: np.ndarray  # (3,) [m] correction applied to the position, in the odometry frame
    mahalanobis2: float  # squared Mahalanobis distance of the innovation
    slip: float | None  # 1 - visual forward distance / wheel distance (None: the wheels barely turned)


class PoseHistory:
    """The odometry's recent poses: (stamp, position, body rotation, wheel distance rolled so far)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.clear()

    def clear(self) -> None:
        self._stamps: list[float] = []
        self._positions: list[np.ndarray] = []
        self._rotations: list[np.ndarray] = []
        self._distances: list[float] = []

    @property
    def newest(self) -> float | None:
        return self._stamps[-1] if self._stamps else None

    @property
    def oldest(self) -> float | None:
        return self._stamps[0] if self._stamps else None

    def append(self, stamp: float, position: np.ndarray, rotation: np.ndarray, distance: float) -> None:
        self._stamps.append(stamp)
        self._positions.append(position.copy())
        self._rotations.append(rotation.copy())
        self._distances.append(distance)
        drop = bisect.bisect_left(self._stamps, stamp - self.seconds)
        if drop:
            for column in (self._stamps, self._positions, self._rotations, self._distances):
                del column[:drop]

    def at(self, stamp: float) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(position, rotation, distance) at ``stamp``: positions and distances interpolated, the
        rotation of the nearest sample; None outside the history."""
        if not self._stamps or not self._stamps[0] <= stamp <= self._stamps[-1]:
            return None
        i = bisect.bisect_left(self._stamps, stamp)
        if self._stamps[i] == stamp or i == 0:
            return self._positions[i], self._rotations[i], self._distances[i]
        t0, t1 = self._stamps[i - 1], self._stamps[i]
        w = (stamp - t0) / (t1 - t0)
        position = (1 - w) * self._positions[i - 1] + w * self._positions[i]
        distance = (1 - w) * self._distances[i - 1] + w * self._distances[i]
        return position, self._rotations[i if w >= 0.5 else i - 1], distance

    def shift(self, start: float, end: float, offset: np.ndarray) -> None:
        """Add ``offset`` to the poses after ``end``, and a growing share of it between start and end."""
        for i in range(bisect.bisect_right(self._stamps, start), len(self._stamps)):
            t = self._stamps[i]
            share = 1.0 if t >= end else (t - start) / (end - start)
            self._positions[i] = self._positions[i] + share * offset


def correct(
    increment: VisualIncrement,
    history: PoseHistory,
    wheel_sigma: float,
    sigma_floor: float,
    gate: float,
    min_distance: float,
) -> VisualOutcome | None:
    """The correction an increment asks for, or None when the history does not cover its stamps."""
    first, last = history.at(increment.start), history.at(increment.end)
    if first is None or last is None:
        return None
    p0, r0, d0 = first
    p1, _, d1 = last
    rolled = d1 - d0
    odometry = r0.T @ (p1 - p0)
    innovation = increment.translation - odometry
    wheel_covariance = np.eye(3) * ((wheel_sigma * abs(rolled)) ** 2 + sigma_floor**2)
    total = wheel_covariance + increment.covariance
    mahalanobis2 = float(innovation @ np.linalg.solve(total, innovation))
    slip = 1.0 - increment.translation[0] / rolled if abs(rolled) >= min_distance else None
    if mahalanobis2 > gate:
        return VisualOutcome(False, np.zeros(3), mahalanobis2, None)
    gain = wheel_covariance @ np.linalg.inv(total)
    return VisualOutcome(True, r0 @ (gain @ innovation), mahalanobis2, slip)
