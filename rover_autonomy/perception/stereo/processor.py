"""The stereo pipeline: an image pair and its calibration in, disparity and a point cloud out.

check encodings and sizes -> grey -> (optional) rectification from CameraInfo -> disparity
(``matcher``) -> triangulation in the left optical frame (``points``). Every rejection raises
``StereoInputError`` with a message naming the problem, so the node can report it and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from rover_autonomy.perception.camera import CameraCalibration, StereoGeometry, StereoInputError
from rover_autonomy.perception.images import to_grey_pair
from rover_autonomy.perception.rectify import Rectifier
from rover_autonomy.perception.stereo.matcher import DisparityMatcher, MatcherParams
from rover_autonomy.perception.stereo.points import CloudParams, disparity_to_points


@dataclass(frozen=True)
class StereoParams:
    matcher: MatcherParams = field(default_factory=MatcherParams)
    cloud: CloudParams = field(default_factory=CloudParams)
    baseline: float = 0.0  # [m] used when the right P carries no baseline (Tx = 0); 0: none
    rectify: bool = False  # the images are raw: rectify them with the CameraInfo D, R, P

    def validate(self) -> None:
        self.matcher.validate()
        self.cloud.validate()
        if not np.isfinite(self.baseline) or self.baseline < 0.0:
            raise ValueError(f"baseline must be >= 0, got {self.baseline}")


@dataclass(frozen=True)
class StereoResult:
    disparity: np.ndarray  # (H, W) float32 [px] of the left image, NaN where invalid
    points: np.ndarray  # (N, 4) float32 x, y, z [m] in the left optical frame, intensity [0, 255]
    geometry: StereoGeometry
    valid_window: tuple[int, int, int, int]  # x, y, width, height [px]
    min_disparity: float  # [px] searched range
    max_disparity: float  # [px]


class StereoProcessor:
    """Holds the matcher and the rectification maps between pairs; ``process`` is deterministic."""

    def __init__(self, params: StereoParams | None = None):
        self._rectifier = Rectifier()
        self.configure(params or StereoParams())

    def configure(self, params: StereoParams) -> None:
        """Apply new parameters (validated first: on error the old ones stay)."""
        params.validate()
        if not hasattr(self, "params") or params.matcher != self.params.matcher:
            self._matcher = DisparityMatcher(params.matcher)
        self.params = params

    def update(self, **changes) -> None:
        """Change parameters by name (matcher, cloud or top-level field names)."""
        groups = {"matcher": {}, "cloud": {}, "top": {}}
        for name, value in changes.items():
            if name in MatcherParams.__dataclass_fields__:
                groups["matcher"][name] = value
            elif name in CloudParams.__dataclass_fields__:
                groups["cloud"][name] = value
            elif name in ("baseline", "rectify"):
                groups["top"][name] = value
            else:
                raise ValueError(f"unknown stereo parameter {name!r}")
        p = self.params
        self.configure(
            replace(
                p,
                matcher=replace(p.matcher, **groups["matcher"]),
                cloud=replace(p.cloud, **groups["cloud"]),
                **groups["top"],
            )
        )

    def process(
        self,
        left: np.ndarray,
        right: np.ndarray,
        left_encoding: str,
        right_encoding: str,
        left_calibration: CameraCalibration,
        right_calibration: CameraCalibration,
    ) -> StereoResult:
        """Disparity and points of one pair; raises StereoInputError on input it cannot use."""
        geometry = StereoGeometry.from_calibrations(left_calibration, right_calibration, self.params.baseline)
        grey_left, grey_right = to_grey_pair(left, right, left_encoding, right_encoding)
        height, width = grey_left.shape
        if (width, height) != (geometry.width, geometry.height):
            raise StereoInputError(
                f"images are {width}x{height} but camera_info says {geometry.width}x{geometry.height}"
            )
        if self.params.rectify:
            grey_left = self._rectifier.rectify(grey_left, left_calibration, "left")
            grey_right = self._rectifier.rectify(grey_right, right_calibration, "right")
        disparity = self._matcher.compute(grey_left, grey_right)
        points = disparity_to_points(disparity, grey_left, geometry, self.params.cloud)
        m = self.params.matcher
        return StereoResult(
            disparity=disparity,
            points=points,
            geometry=geometry,
            valid_window=self._matcher.valid_window(width, height),
            min_disparity=float(m.min_disparity),
            max_disparity=float(m.max_disparity),
        )
