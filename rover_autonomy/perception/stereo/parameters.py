"""Parameters of the ``stereo_processor`` node: one spec table for declaration, validation and docs.

Matcher names and meanings follow image_pipeline's stereo_image_proc (disparity_node), so existing
tuning carries over; the defaults are ours (tuned on Middlebury, see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import fields

from rover_autonomy.parameters import ParamSpec
from rover_autonomy.perception.stereo.matcher import MatcherParams
from rover_autonomy.perception.stereo.points import CloudParams
from rover_autonomy.perception.stereo.processor import StereoParams

_M = MatcherParams()
_C = CloudParams()

NODE_NAME = "stereo_processor"
TITLE = "stereo_processor: a rectified (or raw) stereo pair to stereo/disparity and stereo/points"

PARAMETERS: tuple[ParamSpec, ...] = (
    # -- input -------------------------------------------------------------------------------------
    ParamSpec(
        "approximate_sync",
        False,
        "Pair left and right images whose stamps differ by up to approximate_sync_tolerance_seconds "
        "(false: equal stamps only)",
    ),
    ParamSpec(
        "approximate_sync_tolerance_seconds",
        0.005,
        "Largest stamp difference of an approximate pair (the slop)",
        range=(0.0, 1.0),
        unit="s",
    ),
    ParamSpec(
        "queue_size",
        5,
        "Images kept per side while waiting for a partner",
        range=(1, 100),
    ),
    ParamSpec(
        "rectify",
        False,
        "The images are raw: rectify them with the camera_info D, R, P (for cameras without image_proc)",
    ),
    ParamSpec(
        "baseline",
        0.0,
        "Baseline used when the right camera_info P carries none (P[0,3] = 0, as Gazebo's cameras); "
        "0: reject such pairs",
        range=(0.0, 10.0),
        unit="m",
    ),
    # -- pre-filter ----------------------------------------------------------------------------------
    ParamSpec(
        "stereo_algorithm",
        _M.stereo_algorithm,
        "0: block matching (StereoBM), 1: semi-global (StereoSGBM)",
        range=(0, 1),
    ),
    ParamSpec(
        "sgbm_mode",
        _M.sgbm_mode,
        "SGBM variant: 0 SGBM (5 paths), 1 HH (8 paths, full image), 2 SGBM 3-way, 3 HH4",
        range=(0, 3),
    ),
    ParamSpec("full_dp", _M.full_dp, "Full 8-path dynamic programming (SGBM mode HH); overrides sgbm_mode"),
    ParamSpec(
        "prefilter_size",
        _M.prefilter_size,
        "Block matching: window of the normalising pre-filter",
        range=(5, 255),
        step=2,
        unit="px",
        advanced=True,
    ),
    ParamSpec("prefilter_cap", _M.prefilter_cap, "Clip of the pre-filtered image", range=(1, 63)),
    # -- correlation ---------------------------------------------------------------------------------
    ParamSpec(
        "correlation_window_size",
        _M.correlation_window_size,
        "Matching block (odd; block matching needs >= 5)",
        range=(1, 255),
        step=2,
        unit="px",
    ),
    ParamSpec(
        "min_disparity", _M.min_disparity, "Smallest searched disparity", range=(-1024, 1024), unit="px"
    ),
    ParamSpec(
        "disparity_range",
        _M.disparity_range,
        "Number of searched disparities (multiple of 16); the nearest depth is fx*B/(min_disparity+range-1)",
        range=(16, 1024),
        step=16,
        unit="px",
    ),
    ParamSpec(
        "P1",
        _M.P1,
        "SGBM penalty of a 1-px disparity change between neighbours (scales with the window area)",
        range=(0.0, 100000.0),
    ),
    ParamSpec("P2", _M.P2, "SGBM penalty of larger disparity changes; must exceed P1", range=(0.0, 400000.0)),
    # -- post-filter ---------------------------------------------------------------------------------
    ParamSpec(
        "uniqueness_ratio",
        _M.uniqueness_ratio,
        "Margin by which the best match cost must beat the second best",
        range=(0.0, 100.0),
        unit="%",
    ),
    ParamSpec(
        "texture_threshold",
        _M.texture_threshold,
        "Block matching: minimum texture in the window",
        range=(0, 10000),
        advanced=True,
    ),
    ParamSpec(
        "speckle_size",
        _M.speckle_size,
        "Disparity regions smaller than this are removed (0: off)",
        range=(0, 10000),
        unit="px",
    ),
    ParamSpec(
        "speckle_range",
        _M.speckle_range,
        "Disparity step that separates speckle regions",
        range=(0, 64),
        unit="px",
    ),
    ParamSpec(
        "disp12_max_diff",
        _M.disp12_max_diff,
        "OpenCV's built-in left-right check tolerance (-1: off)",
        range=(-1, 1024),
        unit="px",
    ),
    ParamSpec(
        "match_left_border",
        _M.match_left_border,
        "Pad the pair so the leftmost disparity_range columns are matched too (~10 % more matching time)",
    ),
    ParamSpec(
        "lr_check",
        _M.lr_check,
        "Full left-right consistency check: removes occlusions and mismatches, doubles matching time",
    ),
    ParamSpec(
        "lr_check_tolerance",
        _M.lr_check_tolerance,
        "Largest left-right disagreement kept",
        range=(0.0, 16.0),
        unit="px",
    ),
    # -- point cloud ---------------------------------------------------------------------------------
    ParamSpec("min_depth", _C.min_depth, "Nearer points are dropped", range=(0.0, 1000.0), unit="m"),
    ParamSpec("max_depth", _C.max_depth, "Farther points are dropped", range=(0.0, 1000.0), unit="m"),
    ParamSpec("point_stride", _C.point_stride, "Keep every n-th row and column in the cloud", range=(1, 16)),
    ParamSpec(
        "voxel_size",
        _C.voxel_size,
        "> 0: one point (the centroid) per voxel of this size",
        range=(0.0, 10.0),
        unit="m",
    ),
)

_MATCHER_FIELDS = {f.name for f in fields(MatcherParams)}
_CLOUD_FIELDS = {f.name for f in fields(CloudParams)}


def stereo_params(values: dict) -> StereoParams:
    """StereoParams from parameter values by name (other names, e.g. sync settings, are ignored)."""
    return StereoParams(
        matcher=MatcherParams(**{k: v for k, v in values.items() if k in _MATCHER_FIELDS}),
        cloud=CloudParams(**{k: v for k, v in values.items() if k in _CLOUD_FIELDS}),
        baseline=values.get("baseline", 0.0),
        rectify=values.get("rectify", False),
    )


def check(values: dict) -> str | None:
    """Why this combination of values is inconsistent (e.g. P2 <= P1), or None."""
    try:
        stereo_params(values).validate()
    except ValueError as err:
        return str(err)
    return None
