"""Parameters of the ``visual_odometry`` node: one spec table for declaration, validation and docs.

The tracking and motion parameters are the fields of :class:`VisualOdometryConfig`, with its defaults.
Pure Python: shared by the node and ``rover-autonomy params``.
"""

from __future__ import annotations

from dataclasses import fields

from rover_autonomy.parameters import ParamSpec
from rover_autonomy.perception.visual_odometry.estimator import VisualOdometryConfig

_V = VisualOdometryConfig()

NODE_NAME = "visual_odometry"
TITLE = (
    "visual_odometry: the left image and stereo/disparity -> visual_odometry/odom (slip-independent motion)"
)

PARAMETERS: tuple[ParamSpec, ...] = (
    # -- input and output --------------------------------------------------------------------------
    ParamSpec(
        "queue_size",
        5,
        "Images and disparities kept while waiting for the partner with the same stamp",
        range=(1, 100),
    ),
    ParamSpec(
        "odom_frame",
        "visual_odom",
        "Frame of the published pose: where visual odometry started (nobody publishes its TF)",
        read_only=True,
    ),
    ParamSpec("base_frame", "base_link", "Child frame of the published pose and twist", read_only=True),
    # -- features ------------------------------------------------------------------------------------
    ParamSpec("max_features", _V.max_features, "Corners detected per frame", range=(10, 10000)),
    ParamSpec(
        "min_feature_distance",
        _V.min_feature_distance,
        "Smallest distance between corners (spreads them over the image)",
        range=(1.0, 200.0),
        unit="px",
    ),
    ParamSpec(
        "corner_quality",
        _V.corner_quality,
        "Shi-Tomasi quality of a corner relative to the best corner of the frame",
        range=(1e-5, 1.0),
    ),
    ParamSpec(
        "max_disparity_spread",
        _V.max_disparity_spread,
        "Largest disparity range in the 3x3 around a corner (larger: a depth edge, not used)",
        range=(0.0, 100.0),
        unit="px",
    ),
    ParamSpec("min_depth", _V.min_depth, "Nearer corners are not used", range=(0.01, 1000.0), unit="m"),
    ParamSpec(
        "max_depth",
        _V.max_depth,
        "Farther corners are not used (a disparity error there is a large depth error)",
        range=(0.01, 1000.0),
        unit="m",
    ),
    ParamSpec(
        "footprint_margin",
        _V.footprint_margin,
        "Corners within this distance of the rover's footprint (chassis and wheels) are the rover itself",
        range=(0.0, 5.0),
        unit="m",
    ),
    # -- tracking ------------------------------------------------------------------------------------
    ParamSpec("track_window", _V.track_window, "Lucas-Kanade tracking window", range=(5, 101), unit="px"),
    ParamSpec(
        "pyramid_levels",
        _V.pyramid_levels,
        "Lucas-Kanade pyramid levels: tracks motions up to about 2^levels x window/2 pixels",
        range=(0, 8),
    ),
    ParamSpec(
        "max_track_error",
        _V.max_track_error,
        "Largest forward-backward tracking error of a kept track",
        range=(0.01, 10.0),
        unit="px",
    ),
    # -- motion --------------------------------------------------------------------------------------
    ParamSpec(
        "ransac_threshold",
        _V.ransac_threshold,
        "Reprojection error of a RANSAC inlier",
        range=(0.05, 20.0),
        unit="px",
    ),
    ParamSpec("ransac_iterations", _V.ransac_iterations, "RANSAC iterations per frame", range=(10, 100000)),
    ParamSpec(
        "min_inliers",
        _V.min_inliers,
        "Fewest inliers of a measured motion; fewer: the step is invalid",
        range=(6, 10000),
    ),
)

_CONFIG_FIELDS = {f.name for f in fields(VisualOdometryConfig)}


def config_from(values: dict) -> VisualOdometryConfig:
    """The core's configuration from parameter values by name (other names are ignored)."""
    return VisualOdometryConfig(**{k: v for k, v in values.items() if k in _CONFIG_FIELDS})


def check(values: dict) -> str | None:
    """Why this combination of values is inconsistent (e.g. min_depth >= max_depth), or None."""
    if values["min_inliers"] > values["max_features"]:
        return f"min_inliers {values['min_inliers']} exceeds max_features {values['max_features']}"
    try:
        config_from(values).validate()
    except ValueError as err:
        return str(err)
    return None
