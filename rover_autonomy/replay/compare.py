"""Figures of a replay: outputs against the bag's recording, against expected outputs, against each other.

* Odometry against recorded ground truth: both tracks are expressed relative to their pose at the
  first replayed odometry stamp (the replay starts its odometry there, whatever the mission had
  integrated before), truth interpolated at the odometry stamps; final, RMS and max position error
  [m] and the final error as a percentage of the distance travelled (drift).
* Costmaps and plans against the recorded ones, matched by stamp: cells that differ, plan lengths.
* Regression against committed expected outputs with :data:`TOLERANCES` (different OpenCV/numpy
  builds may change the last bits of a result, so committed figures are compared with tolerances).
* Fingerprints: per topic, a SHA-256 over the sequence of messages in canonical CDR (re-serialised
  by ``rosbags``, so that padding bytes left uninitialised by a middleware do not count) — two
  replays are bit-identical when their fingerprints are equal.

Pure: rosbags dataclasses and numpy, no ROS import.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rover_autonomy.geometry import Pose2D, quaternion_to_yaw
from rover_autonomy.replay.bag import TYPESTORE, Bag

# What committed expected outputs hold and regression compares.
REGRESSION_TOPICS = ("odom", "terrain/costmap", "plan")

# Regression tolerances against committed expected outputs (docs/replay.md explains them).
TOLERANCES = {
    "odom_position_m": 1e-3,  # max distance between expected and replayed pose at the same stamp
    "odom_yaw_rad": 1e-3,
    "costmap_cells_fraction": 0.005,  # share of cells whose cost differs, per costmap
    "plan_length_fraction": 0.02,  # relative difference of a plan's length
    "plan_end_m": 0.10,  # distance between the plans' final poses
    "count_fraction": 0.0,  # outputs missing or extra, as a share of the expected count
}


# -- message extraction ----------------------------------------------------------------------------


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def poses(bag: Bag, topic: str) -> np.ndarray:
    """(N, 5) array of stamp [s], x, y, z [m], yaw [rad] from a topic of nav_msgs/Odometry."""
    rows = []
    for message in bag.messages({topic}):
        msg = bag.deserialize(message)
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        rows.append((_stamp(msg) * 1e-9, p.x, p.y, p.z, quaternion_to_yaw((q.x, q.y, q.z, q.w))))
    return np.array(rows, dtype=float).reshape(-1, 5)


@dataclass
class Grid:
    stamp_ns: int
    resolution: float
    origin: tuple[float, float]
    cells: np.ndarray  # (height, width) int8


def grids(bag: Bag, topic: str) -> list[Grid]:
    result = []
    for message in bag.messages({topic}):
        msg = bag.deserialize(message)
        info = msg.info
        cells = np.asarray(msg.data, dtype=np.int8)
        if cells.size != info.width * info.height:
            continue  # malformed grid: not comparable
        result.append(
            Grid(
                _stamp(msg),
                float(info.resolution),
                (float(info.origin.position.x), float(info.origin.position.y)),
                cells.reshape(info.height, info.width),
            )
        )
    return result


def paths(bag: Bag, topic: str) -> list[tuple[int, np.ndarray]]:
    """(stamp [ns], (N, 2) xy [m]) per nav_msgs/Path."""
    result = []
    for message in bag.messages({topic}):
        msg = bag.deserialize(message)
        xy = np.array([(p.pose.position.x, p.pose.position.y) for p in msg.poses], dtype=float).reshape(-1, 2)
        result.append((_stamp(msg), xy))
    return result


def path_length(xy: np.ndarray) -> float:
    return float(np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1))) if len(xy) > 1 else 0.0


# -- odometry --------------------------------------------------------------------------------------


def _relative(track: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Positions of ``track`` (N, 5) in the frame of the pose ``origin`` (x, y, z, yaw)."""
    x, y = Pose2D(origin[0], origin[1], origin[3]).to_child(track[:, 1], track[:, 2])
    return np.column_stack((x, y, track[:, 3] - origin[2]))


def _interpolate(track: np.ndarray, times: np.ndarray) -> np.ndarray:
    yaw = np.unwrap(track[:, 4])
    columns = [np.interp(times, track[:, 0], track[:, i]) for i in (1, 2, 3)]
    return np.column_stack((times, *columns, np.interp(times, track[:, 0], yaw)))


def odometry_vs_truth(odom: np.ndarray, truth: np.ndarray) -> dict:
    """Position errors of an odometry track against ground truth over the stamps both cover."""
    if len(odom) == 0 or len(truth) < 2:
        return {"samples": 0, "note": "no odometry" if len(odom) == 0 else "no ground truth"}
    inside = (odom[:, 0] >= truth[0, 0]) & (odom[:, 0] <= truth[-1, 0])
    odom = odom[inside]
    if len(odom) == 0:
        return {"samples": 0, "note": "odometry and ground truth do not overlap in time"}
    truth_at = _interpolate(truth, odom[:, 0])
    est = _relative(odom, odom[0, 1:])
    ref = _relative(truth_at, truth_at[0, 1:])
    errors = np.linalg.norm(est - ref, axis=1)
    distance = float(np.sum(np.linalg.norm(np.diff(ref[:, :2], axis=0), axis=1)))
    return {
        "samples": len(odom),
        "duration_s": float(odom[-1, 0] - odom[0, 0]),
        "distance_m": distance,
        "final_error_m": float(errors[-1]),
        "rms_error_m": float(np.sqrt(np.mean(errors**2))),
        "max_error_m": float(errors.max()),
        "drift_pct": float(100.0 * errors[-1] / distance) if distance > 0 else None,
    }


def odometry_vs_odometry(replayed: np.ndarray, recorded: np.ndarray) -> dict:
    """Largest pose difference at the stamps both tracks share (each relative to its first shared pose)."""
    common, ia, ib = np.intersect1d(replayed[:, 0], recorded[:, 0], return_indices=True)
    if len(common) == 0:
        return {"matched": 0}
    a, b = replayed[ia], recorded[ib]
    position = np.linalg.norm(_relative(a, a[0, 1:]) - _relative(b, b[0, 1:]), axis=1)
    return {"matched": len(common), "max_position_diff_m": float(position.max())}


# -- costmaps and plans ----------------------------------------------------------------------------


def grid_difference(a: Grid, b: Grid) -> dict:
    if a.cells.shape != b.cells.shape or a.resolution != b.resolution or a.origin != b.origin:
        return {
            "geometry_differs": True,
            "shape": [list(a.cells.shape), list(b.cells.shape)],
            "origin": [list(a.origin), list(b.origin)],
        }
    differ = a.cells != b.cells
    known_both = (a.cells >= 0) & (b.cells >= 0)
    delta = np.abs(a.cells.astype(int) - b.cells.astype(int))[known_both]
    return {
        "geometry_differs": False,
        "cells": int(a.cells.size),
        "cells_differing": int(differ.sum()),
        "fraction_differing": float(differ.mean()) if differ.size else 0.0,
        "known_in_one_only": int(((a.cells >= 0) != (b.cells >= 0)).sum()),
        "max_cost_difference": int(delta.max()) if delta.size else 0,
    }


def costmaps_vs(replayed: list[Grid], recorded: list[Grid]) -> dict:
    by_stamp = {g.stamp_ns: g for g in recorded}
    pairs = [(g, by_stamp[g.stamp_ns]) for g in replayed if g.stamp_ns in by_stamp]
    result: dict = {"replayed": len(replayed), "recorded": len(recorded), "matched": len(pairs)}
    if pairs:
        diffs = [grid_difference(a, b) for a, b in pairs]
        comparable = [d for d in diffs if not d["geometry_differs"]]
        result["geometry_differs"] = len(diffs) - len(comparable)
        result["max_cells_differing"] = max((d["cells_differing"] for d in comparable), default=None)
        result["final"] = diffs[-1]
    return result


def plans_vs(replayed: list[tuple[int, np.ndarray]], recorded: list[tuple[int, np.ndarray]]) -> dict:
    lengths = [path_length(xy) for _, xy in replayed]
    by_stamp = {stamp: xy for stamp, xy in recorded}
    matched = [(path_length(xy), path_length(by_stamp[s])) for s, xy in replayed if s in by_stamp]
    return {
        "replayed": len(replayed),
        "recorded": len(recorded),
        "lengths_m": [round(x, 4) for x in lengths],
        "recorded_lengths_m": [round(path_length(xy), 4) for _, xy in recorded],
        "matched": len(matched),
        "max_length_diff_m": max((abs(a - b) for a, b in matched), default=None),
    }


# -- fingerprints and regression -------------------------------------------------------------------


def canonical(message, bag: Bag) -> bytes:
    """CDR re-serialised by rosbags: equal for equal contents whatever the padding bytes held."""
    return bytes(TYPESTORE.serialize_cdr(bag.deserialize(message), message.msgtype))


def fingerprints(bag: Bag, topics: list[str]) -> dict[str, dict]:
    """Per topic: message count and SHA-256 of the sequence (stamp order) of canonical messages."""
    result = {}
    for topic in topics:
        digest, count = hashlib.sha256(), 0
        for message in bag.messages({topic}) if topic in bag.topics else ():
            data = canonical(message, bag)
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
            count += 1
        result[topic] = {"count": count, "sha256": digest.hexdigest()}
    return result


def regression(expected: Bag, actual: Bag, tolerances: dict | None = None) -> dict:
    """Replayed outputs against committed expected ones: per topic figures, the failures named."""
    tol = {**TOLERANCES, **(tolerances or {})}
    failures: list[str] = []
    result: dict = {"tolerances": tol}

    def counts(topic: str, n_expected: int, n_actual: int) -> None:
        if n_expected and abs(n_actual - n_expected) > tol["count_fraction"] * n_expected:
            failures.append(f"{topic}: {n_actual} messages, expected {n_expected}")
        elif not n_expected and n_actual:
            failures.append(f"{topic}: {n_actual} messages, expected none")

    if "odom" in expected.topics:
        e, a = poses(expected, "odom"), poses(actual, "odom") if "odom" in actual.topics else np.zeros((0, 5))
        counts("odom", len(e), len(a))
        common, ie, ia = np.intersect1d(e[:, 0], a[:, 0], return_indices=True)
        position = np.linalg.norm(e[ie, 1:4] - a[ia, 1:4], axis=1) if len(common) else np.zeros(0)
        yaw = np.abs(np.angle(np.exp(1j * (e[ie, 4] - a[ia, 4])))) if len(common) else np.zeros(0)
        result["odom"] = {
            "expected": len(e),
            "actual": len(a),
            "max_position_diff_m": float(position.max()) if position.size else None,
            "max_yaw_diff_rad": float(yaw.max()) if yaw.size else None,
        }
        if position.size and position.max() > tol["odom_position_m"]:
            failures.append(f"odom: position differs by up to {position.max():.4g} m")
        if yaw.size and yaw.max() > tol["odom_yaw_rad"]:
            failures.append(f"odom: yaw differs by up to {yaw.max():.4g} rad")

    if "terrain/costmap" in expected.topics:
        e = grids(expected, "terrain/costmap")
        a = grids(actual, "terrain/costmap") if "terrain/costmap" in actual.topics else []
        counts("terrain/costmap", len(e), len(a))
        by_stamp = {g.stamp_ns: g for g in a}
        worst = 0.0
        for g in e:
            other = by_stamp.get(g.stamp_ns)
            if other is None:
                continue
            diff = grid_difference(g, other)
            if diff["geometry_differs"]:
                failures.append(f"terrain/costmap at {g.stamp_ns * 1e-9:.3f} s: geometry differs")
                continue
            worst = max(worst, diff["fraction_differing"])
        result["terrain/costmap"] = {"expected": len(e), "actual": len(a), "max_fraction_differing": worst}
        if worst > tol["costmap_cells_fraction"]:
            failures.append(f"terrain/costmap: up to {100 * worst:.2f} % of cells differ")

    if "plan" in expected.topics:
        e = paths(expected, "plan")
        a = paths(actual, "plan") if "plan" in actual.topics else []
        counts("plan", len(e), len(a))
        by_stamp = dict(a)
        worst_length, worst_end = 0.0, 0.0
        for stamp, xy in e:
            other = by_stamp.get(stamp)
            if other is None or not len(xy) or not len(other):
                continue
            reference = max(path_length(xy), 1e-9)
            worst_length = max(worst_length, abs(path_length(other) - path_length(xy)) / reference)
            worst_end = max(worst_end, float(np.linalg.norm(other[-1] - xy[-1])))
        result["plan"] = {
            "expected": len(e),
            "actual": len(a),
            "max_length_fraction": worst_length,
            "max_end_diff_m": worst_end,
        }
        if worst_length > tol["plan_length_fraction"]:
            failures.append(f"plan: lengths differ by up to {100 * worst_length:.2f} %")
        if worst_end > tol["plan_end_m"]:
            failures.append(f"plan: final poses differ by up to {worst_end:.3f} m")

    result["passed"] = not failures
    result["failures"] = failures
    return result
