"""Rover-specific clearance check in the spirit of JPL's ACE (Approximate Clearance Evaluation).

Reference: Otsu, Matheron, Villaume, Ono, Scharf, Harish, "Fast approximate clearance evaluation for
rovers with articulated suspension systems", Journal of Field Robotics 37(5), 2020.

For the rover centred on a cell at heading ψ, each wheel rests on the highest terrain under its contact
patch (a max-filter of the elevation map at the wheel's position). The rocker-bogie kinematics are linear
in the six contact heights for small angles, so body pitch and roll slopes, body height and the rocker
and bogie angles are fixed linear combinations of them (:func:`suspension_matrix`):

* bogie pivot height: interpolation between its two wheels; bogie slope: their height difference;
* rocker slope: from its own wheel to the bogie pivot; rocker pivot height on that line;
* with a differential, body pitch slope = mean of the rocker slopes; roll slope from the pivot heights.

Then, per heading: body tilt = atan(|(slope_x, slope_y)|) against ``limits.max_tilt``; rocker and bogie
angles against their joint limits (a wheel would lift off); the step each wheel faces (the ``step``
layer at the wheel) against ``limits.max_step``; and the belly clearance, the smallest height of the
tilted body underside (``body.bottom_z`` above the wheel plane) over the highest terrain of small
patches covering the body outline, against ``limits.min_belly_clearance``. The patches are max-filtered
and the underside height is taken at the patch's lowest corner, so the clearance is a lower bound,
as ACE's is. The cost of a heading is 99 times the largest of tilt/max_tilt, step/max_step and
(bottom_z − clearance)/(bottom_z − min_belly_clearance), or 100 (lethal) when any reaches 1 or a joint
limit is exceeded; the cell's cost is that of its best heading.

Unknown terrain: a heading with fewer than ``min_known_wheels`` wheels on known terrain says nothing.
With some wheels unknown, those are set as high as the highest known wheel (which lifts the body, the
optimistic case for the belly): if the belly still collides, or a known wheel faces a step it cannot
climb, the heading is lethal; otherwise it is not rated. A fully known heading whose body covers less
than ``min_known_body`` of the belly patches is rated only when lethal. A cell's cost is the lowest of its
rated non-lethal headings; 100 when every heading is lethal; unknown (NaN) otherwise — so a tall rock is
lethal even while the terrain behind it is occluded.

Speed (numba, one thread): wheels are read at their nearest cells through per-heading matrices that make
the kinematics exact on planes (:func:`plane_exact_suspension`); headings start from the neighbour's best
and stop as soon as they cannot beat it (ties go to the lowest heading index, so the result does not depend
on the search order); cells on even map rows and columns are rated first and the others interpolated from
them where they agree within ``refine_tolerance`` and are all rated and non-lethal, rated exactly elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from rover_autonomy.geometry import Pose2D
from rover_autonomy.rover_model import RoverModel

LETHAL = 100.0
MAX_NON_LETHAL = 99.0

# Rows of the suspension matrix: body slopes and height first, then joint angles checked against limits.
SLOPE_X, SLOPE_Y, HEIGHT = 0, 1, 2


@dataclass(frozen=True)
class ClearanceModel:
    wheels: np.ndarray  # (N, 2) contact points in base_link [m]
    body_samples: np.ndarray  # (M, 2) patch centres under the belly, base_link [m]
    suspension: np.ndarray  # (3 + J, N): slope_x, slope_y, height, then J joint angles [rad, linearised]
    joint_low: np.ndarray  # (J,) [rad]
    joint_high: np.ndarray  # (J,) [rad]
    bottom_z: float  # [m]
    min_clearance: float  # [m]
    max_tilt: float  # [rad]
    max_step: float  # [m]


def suspension_matrix(model: RoverModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear map from wheel contact heights to (slope_x, slope_y, height, joint angles...), with the
    joint limits. Rocker-bogie with a differential; any other layout gets a least-squares wheel plane
    and no joint rows."""
    wheels = model.contact_points()
    count = len(wheels)
    rockers = list(model.rockers)
    try:
        if not (model.differential and len(rockers) == 2):
            raise LookupError("not a differential rocker-bogie")
        sides = [_side(model, rocker) for rocker in rockers]
    except LookupError:
        design = np.column_stack([np.ones(count), wheels[:, 0], wheels[:, 1]])
        fit = np.linalg.pinv(design)  # rows: height, slope_x, slope_y
        return fit[[1, 2, 0]], np.zeros(0), np.zeros(0)

    def unit(i):
        e = np.zeros(count)
        e[i] = 1.0
        return e

    rows_rocker, rows_bogie, pivots, pivot_x, pivot_y, limits = [], [], [], [], [], []
    for front, middle, rear, bogie, rocker in sides:
        xf, xm, xr = wheels[front, 0], wheels[middle, 0], wheels[rear, 0]
        xb, xp = bogie.pivot[0], rocker.pivot[0]
        bogie_height = unit(middle) + (unit(rear) - unit(middle)) * (xb - xm) / (xr - xm)
        bogie_slope = (unit(middle) - unit(rear)) / (xm - xr)
        rocker_slope = (unit(front) - bogie_height) / (xf - xb)
        rows_rocker.append(rocker_slope)
        rows_bogie.append(bogie_slope)
        pivots.append(unit(front) + rocker_slope * (xp - xf))
        pivot_x.append(xp)
        pivot_y.append(rocker.pivot[1])
        limits.append((rocker, bogie))
    slope_x = 0.5 * (rows_rocker[0] + rows_rocker[1])
    slope_y = (pivots[0] - pivots[1]) / (pivot_y[0] - pivot_y[1])
    height = 0.5 * (pivots[0] + pivots[1]) - slope_x * 0.5 * (pivot_x[0] + pivot_x[1])
    joints, low, high = [], [], []
    # A positive joint angle turns points ahead of the pivot downwards: angle ≈ −(relative slope).
    for side, (rocker, bogie) in enumerate(limits):
        joints.append(-(rows_rocker[side] - slope_x))
        low.append(rocker.min_angle)
        high.append(rocker.max_angle)
        joints.append(-(rows_bogie[side] - rows_rocker[side]))
        low.append(bogie.min_angle)
        high.append(bogie.max_angle)
    matrix = np.vstack([slope_x, slope_y, height, *joints])
    return matrix, np.array(low), np.array(high)


def _side(model: RoverModel, rocker):
    """(front wheel, middle wheel, rear wheel, bogie, rocker) of one rocker: one wheel on the rocker
    itself and a bogie carrying two."""
    on_rocker = [i for i, w in enumerate(model.wheels) if w.mount == rocker.name]
    bogies = [b for b in model.bogies if b.rocker == rocker.name]
    if len(on_rocker) != 1 or len(bogies) != 1:
        raise LookupError(rocker.name)
    on_bogie = [i for i, w in enumerate(model.wheels) if w.mount == bogies[0].name]
    if len(on_bogie) != 2:
        raise LookupError(bogies[0].name)
    middle, rear = sorted(on_bogie, key=lambda i: -model.wheels[i].x)
    return on_rocker[0], middle, rear, bogies[0], rocker


def clearance_model(model: RoverModel, patch_spacing: float) -> ClearanceModel:
    """The check's geometry for ``model``; belly patches are spaced ``patch_spacing`` [m] apart."""
    body = model.body
    nx = max(1, math.ceil(body.length / patch_spacing))
    ny = max(1, math.ceil(body.width / patch_spacing))
    xs = body.centre_x + (np.arange(nx) - (nx - 1) / 2) * patch_spacing
    ys = (np.arange(ny) - (ny - 1) / 2) * patch_spacing
    samples = np.array([(x, y) for x in xs for y in ys])
    # Centre first: a rock under the middle of the belly ends the check of a heading soonest.
    samples = samples[np.argsort(np.hypot(samples[:, 0] - body.centre_x, samples[:, 1]), kind="stable")]
    matrix, low, high = suspension_matrix(model)
    limits = model.limits
    return ClearanceModel(
        wheels=model.contact_points()[:, :2],
        body_samples=samples,
        suspension=matrix,
        joint_low=low,
        joint_high=high,
        bottom_z=body.bottom_z,
        min_clearance=limits.min_belly_clearance,
        max_tilt=limits.max_tilt,
        max_step=limits.max_step,
    )


def heading_offsets(points: np.ndarray, headings: np.ndarray, resolution: float) -> np.ndarray:
    """(H, P, 2) (row, col) offsets [cells] of body-frame points rotated to each heading."""
    c, s = np.cos(headings)[:, None], np.sin(headings)[:, None]
    x = c * points[None, :, 0] - s * points[None, :, 1]
    y = s * points[None, :, 0] + c * points[None, :, 1]
    return np.stack([y / resolution, x / resolution], axis=-1)


@numba.njit(cache=True, fastmath={"contract", "arcp", "afn", "reassoc"})
def _rate_cell(
    r, c, first_heading, wheel_top, wheel_step, body_top, pad, width,
    wheel_offsets, body_offsets, body_xy, suspension, joint_low, joint_high,
    bottom_z, min_clearance, max_tilt, max_step, slack, min_known_body, min_known_wheels, heights,
):  # fmt: skip
    """(cost, tilt, clearance, heading index) of the rover centred on cell (r, c); cost NaN unknown."""
    n_headings, n_wheels = wheel_offsets.shape[0], wheel_offsets.shape[1]
    n_body = body_offsets.shape[1]
    n_rows = suspension.shape[1]
    clearance_span = bottom_z - min_clearance
    inverse_step, inverse_tilt, inverse_span = 1.0 / max_step, 1.0 / max_tilt, 1.0 / clearance_span
    best = np.inf  # lowest cost of a fully evaluated, non-lethal heading
    best_tilt = np.nan
    best_clearance = np.nan
    best_heading = -1
    all_lethal = True
    centre = (r + pad) * width + c + pad  # flat index in the padded maps
    # Start from the best heading of a neighbour: neighbours tend to share it, and a good early bound
    # lets the other headings stop early.
    for step_k in range(n_headings):
        k = (first_heading + step_k) % n_headings
        step_ratio = 0.0
        known_wheels = 0
        highest = -np.inf
        for w in range(n_wheels):
            at = centre + wheel_offsets[k, w]
            h = wheel_top[at]
            heights[w] = h
            if np.isnan(h):
                continue
            known_wheels += 1
            highest = max(highest, h)
            s = wheel_step[at] * inverse_step
            if s > step_ratio:
                step_ratio = s
        if known_wheels < min_known_wheels:
            all_lethal = False  # too little known to say anything
            continue
        partial = known_wheels < n_wheels
        # Pruning (only once a heading is rated, so lethality is moot): a heading no better than the best
        # stops; on an exact tie the lower heading index wins, so the result is order-independent.
        tie_loses = best_heading >= 0 and k > best_heading
        if MAX_NON_LETHAL * step_ratio > best or (tie_loses and MAX_NON_LETHAL * step_ratio >= best):
            continue  # a wheel's step alone rules it out
        if partial:
            # Optimistic fill: unknown wheels as high as the highest known one lifts the body, so a
            # belly collision found anyway is certain.
            for w in range(n_wheels):
                if np.isnan(heights[w]):
                    heights[w] = highest
        slope_x = slope_y = z0 = 0.0
        for w in range(n_wheels):
            slope_x += suspension[k, SLOPE_X, w] * heights[w]
            slope_y += suspension[k, SLOPE_Y, w] * heights[w]
            z0 += suspension[k, HEIGHT, w] * heights[w]
        tilt = math.atan(math.sqrt(slope_x * slope_x + slope_y * slope_y))
        ratio = step_ratio
        if not partial:
            ratio = max(ratio, tilt * inverse_tilt)
            if MAX_NON_LETHAL * ratio > best or (tie_loses and MAX_NON_LETHAL * ratio >= best):
                continue
            for j in range(n_rows - 3):  # joint angles; limits given as tangents
                angle = 0.0
                for w in range(n_wheels):
                    angle += suspension[k, 3 + j, w] * heights[w]
                if angle < joint_low[j] or angle > joint_high[j]:
                    ratio = 1.0
                    break
            if MAX_NON_LETHAL * ratio > best:
                continue
        # Belly: underside height over each patch (at its lowest corner) minus the patch's top.
        corner = (abs(slope_x) + abs(slope_y)) * slack
        # Clearance below which the heading is lethal or no better than the best one.
        stop_below = bottom_z - clearance_span * min(1.0, best / MAX_NON_LETHAL)
        clearance = np.inf
        seen = 0
        stopped = False
        for b in range(n_body):
            top = body_top[centre + body_offsets[k, b]]
            if np.isnan(top):
                continue
            seen += 1
            underside = z0 + bottom_z + slope_x * body_xy[b, 0] + slope_y * body_xy[b, 1] - corner
            clearance = min(clearance, underside - top)
            if clearance < stop_below or (tie_loses and clearance <= stop_below):
                stopped = True  # lethal, or no better than the best heading
                break
        ratio = max(ratio, (bottom_z - clearance) * inverse_span)
        if ratio >= 1.0:
            continue  # lethal heading, whatever the unknown part holds
        if stopped:
            continue
        if partial or seen < min_known_body * n_body:
            all_lethal = False  # not lethal as far as known, not known enough to rate
            continue
        heading_cost = MAX_NON_LETHAL * max(ratio, 0.0)
        # Ties go to the lowest heading index: the result does not depend on the search order.
        if heading_cost < best or (heading_cost == best and k < best_heading):
            best = heading_cost
            best_tilt = tilt
            best_clearance = clearance
            best_heading = k
    if best_heading >= 0:
        return best, best_tilt, best_clearance, best_heading
    return (LETHAL if all_lethal else np.nan), np.nan, np.nan, -1


@numba.njit(cache=True)
def _evaluate(
    wheel_top, wheel_step, body_top, known, pad, width,
    wheel_offsets, body_offsets, body_xy, suspension, joint_low, joint_high,
    bottom_z, min_clearance, max_tilt, max_step, slack, min_known_body, min_known_wheels, tolerance,
    row_parity, col_parity, cost, tilt_out, clearance_out, heading_out,
):  # fmt: skip
    """Two passes: cells on even rows and columns, then the others — interpolated from their two or
    four even neighbours when those are all rated, non-lethal and within ``tolerance`` of each other,
    rated exactly otherwise (near hazards, unknown terrain and cost edges)."""
    rows, cols = cost.shape
    heights = np.empty(wheel_offsets.shape[1])
    # "Even" cells are even in the map frame (row + row_parity), so that a window of the map gets the
    # same coarse cells as the whole map.
    for r in range(row_parity % 2, rows, 2):
        previous = 0
        for c in range(col_parity % 2, cols, 2):
            if not known[r, c]:
                continue
            result = _rate_cell(
                r, c, previous, wheel_top, wheel_step, body_top, pad, width,
                wheel_offsets, body_offsets, body_xy, suspension, joint_low, joint_high,
                bottom_z, min_clearance, max_tilt, max_step, slack, min_known_body, min_known_wheels,
                heights,
            )  # fmt: skip
            cost[r, c], tilt_out[r, c], clearance_out[r, c], heading_out[r, c] = result
            if result[3] >= 0:
                previous = result[3]
    for r in range(rows):
        previous = 0
        even_row = (r + row_parity) % 2 == 0
        for c in range((col_parity + 1) % 2 if even_row else 0, cols, 2 if even_row else 1):
            if not known[r, c]:
                continue
            # Even neighbours: left/right on even rows, up/down on even columns, diagonal otherwise.
            smooth = True
            low, high = np.inf, -np.inf
            n = 0
            total_cost = 0.0
            total_tilt = 0.0
            total_clearance = 0.0
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if (nr + row_parity) % 2 or (nc + col_parity) % 2 or (dr == 0 and dc == 0):
                        continue
                    if (even_row and dr != 0) or ((c + col_parity) % 2 == 0 and dc != 0):
                        continue
                    if nr < 0 or nr >= rows or nc < 0 or nc >= cols:
                        smooth = False
                        continue
                    value = cost[nr, nc]
                    if not (value < LETHAL):  # unknown or lethal
                        smooth = False
                        continue
                    low, high = min(low, value), max(high, value)
                    total_cost += value
                    total_tilt += tilt_out[nr, nc]
                    total_clearance += clearance_out[nr, nc]
                    n += 1
            if smooth and n > 0 and high - low <= tolerance:
                cost[r, c] = total_cost / n
                tilt_out[r, c] = total_tilt / n
                clearance_out[r, c] = total_clearance / n
                continue
            result = _rate_cell(
                r, c, previous, wheel_top, wheel_step, body_top, pad, width,
                wheel_offsets, body_offsets, body_xy, suspension, joint_low, joint_high,
                bottom_z, min_clearance, max_tilt, max_step, slack, min_known_body, min_known_wheels,
                heights,
            )  # fmt: skip
            cost[r, c], tilt_out[r, c], clearance_out[r, c], heading_out[r, c] = result
            if result[3] >= 0:
                previous = result[3]


def plane_exact_suspension(
    geometry: ClearanceModel, headings: np.ndarray, wheel_offsets: np.ndarray, resolution: float
) -> np.ndarray:
    """(H, rows, N) suspension matrices for wheel heights read at the cells nearest to the wheels.

    Rounding a wheel to its cell moves it by up to half a cell, which on a slope biases the heights the
    suspension sees. For heading k the heights h' read at the rounded positions are mapped back to the
    nominal ones by h = h' + (B − B'_k)·pinv(B'_k)·h', with B and B'_k the [1, x, y] design matrices of
    the nominal and rounded positions: exact on any plane, unchanged residuals otherwise."""
    nominal = np.column_stack([np.ones(len(geometry.wheels)), geometry.wheels])
    matrices = []
    for k, heading in enumerate(headings):
        dx, dy = wheel_offsets[k, :, 1] * resolution, wheel_offsets[k, :, 0] * resolution
        body_x, body_y = Pose2D(0.0, 0.0, heading).to_child(dx, dy)  # rounded wheels in the body frame
        rounded = np.column_stack([np.ones(len(dx)), body_x, body_y])
        correction = np.eye(len(dx)) + (nominal - rounded) @ np.linalg.pinv(rounded)
        matrices.append(geometry.suspension @ correction)
    return np.ascontiguousarray(matrices)


def evaluate(
    wheel_top: np.ndarray,
    wheel_step: np.ndarray,
    body_top: np.ndarray,
    known: np.ndarray,
    geometry: ClearanceModel,
    resolution: float,
    headings: np.ndarray,
    min_known_body: float = 0.5,
    min_known_wheels: int = 3,
    refine_tolerance: float = 20.0,
    parity: tuple[int, int] = (0, 0),
) -> dict[str, np.ndarray]:
    """Run the check on every known cell. Inputs are (rows, cols) maps: ``wheel_top`` the highest
    terrain under a wheel patch centred on the cell, ``wheel_step`` the step height there, ``body_top``
    the highest terrain of a belly patch centred there (NaN unknown). Returns float32 layers ``cost``
    (0…100, NaN unknown), ``tilt`` [rad], ``clearance`` [m] and ``heading`` [rad] of the best heading."""
    wheel_offsets = np.rint(heading_offsets(geometry.wheels, headings, resolution)).astype(np.int64)
    body_offsets = np.rint(heading_offsets(geometry.body_samples, headings, resolution)).astype(np.int64)
    suspension = plane_exact_suspension(geometry, headings, wheel_offsets, resolution)
    pad = int(max(np.abs(wheel_offsets).max(), np.abs(body_offsets).max())) + 2
    # Padded with unknown cells so that no lookup leaves the arrays, flattened so that a lookup is one
    # offset from the centre cell.
    padded = [
        np.pad(a.astype(np.float64), pad, constant_values=np.nan).ravel()
        for a in (wheel_top, wheel_step, body_top)
    ]
    width = known.shape[1] + 2 * pad
    wheel_flat = wheel_offsets[..., 0] * width + wheel_offsets[..., 1]
    body_flat = body_offsets[..., 0] * width + body_offsets[..., 1]
    out = {
        name: np.full(known.shape, np.nan, np.float32) for name in ("cost", "tilt", "clearance", "heading")
    }
    _evaluate(
        *padded, known, pad, width,
        wheel_flat, body_flat, geometry.body_samples,
        suspension, np.tan(geometry.joint_low), np.tan(geometry.joint_high),
        geometry.bottom_z, geometry.min_clearance, geometry.max_tilt, geometry.max_step,
        resolution, min_known_body, min_known_wheels, refine_tolerance,
        int(parity[0]) % 2, int(parity[1]) % 2, out["cost"], out["tilt"], out["clearance"], out["heading"],
    )  # fmt: skip
    heading = out["heading"]
    rated = heading >= 0
    heading[rated] = headings[heading[rated].astype(np.int64)]
    heading[~rated] = np.nan  # interpolated cells have no single heading
    return out
