"""Stereo visual odometry: the rover's motion between consecutive frames from the left image and its
disparity — slip-independent, the reference wheel odometry lacks on sand and rocks (MER's VO role).

Frame to frame (the classic "3D-to-2D" scheme of Nistér et al. 2004 and libviso):

1. corners of the previous left image (Shi–Tomasi, spread by a minimum distance) with a valid,
   locally consistent disparity become 3D points in the previous optical frame;
2. they are tracked into the current left image with pyramidal Lucas–Kanade, kept only when tracking
   back lands within ``max_track_error`` of where they started;
3. the camera motion is the perspective-n-point solution of those 3D points against their tracked
   pixels, RANSAC for outliers (moving shadows, the rover's own parts), then Levenberg–Marquardt on the
   inliers; its covariance is ``σ² (JᵀJ)⁻¹`` of the reprojection residuals;
4. the camera motion is carried to ``base_link`` through the camera's mounting (from the rover model)
   and the covariance with it.

Points on the rover itself (inside its footprint in ``base_link``) and beyond ``max_depth`` (where a
disparity error is a large depth error) are not used. The chain of increments is the visual pose; a
frame whose motion cannot be measured keeps the pose and marks the increment invalid, so consumers
never integrate a motion nobody measured. Deterministic: OpenCV's RANSAC is seeded per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rover_autonomy.perception.camera import StereoGeometry


@dataclass(frozen=True)
class VisualOdometryConfig:
    max_features: int = 500  # corners detected per frame
    min_feature_distance: float = 12.0  # [px] between corners (spreads them over the image)
    corner_quality: float = 0.005  # [-] Shi–Tomasi quality relative to the best corner
    track_window: int = 21  # [px] Lucas–Kanade window
    pyramid_levels: int = 4  # Lucas–Kanade pyramid: motion up to ~2^levels × window/2 pixels
    max_track_error: float = 0.5  # [px] forward–backward tracking error
    max_disparity_spread: float = 1.0  # [px] disparity range in the 3x3 around a corner
    min_depth: float = 0.5  # [m]
    max_depth: float = 20.0  # [m]
    ransac_threshold: float = 1.0  # [px] reprojection error of an inlier
    ransac_iterations: int = 200
    min_inliers: int = 25  # fewer: the motion is not measured
    footprint_margin: float = 0.3  # [m] points this close to the rover's footprint are the rover

    def validate(self) -> None:
        if self.max_features < 10 or self.min_inliers < 6:
            raise ValueError("need max_features >= 10 and min_inliers >= 6")
        if not 0.0 < self.min_depth < self.max_depth:
            raise ValueError(f"need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}")
        if self.track_window < 5 or self.pyramid_levels < 0:
            raise ValueError("need track_window >= 5 and pyramid_levels >= 0")


@dataclass(frozen=True)
class VisualStep:
    """One frame's outcome."""

    stamp: float  # [s]
    valid: bool  # the motion since the previous frame was measured
    reason: str  # why not, when not valid ("" when valid; "first frame" for the first one)
    delta: np.ndarray  # (4, 4) base_link at this frame expressed in base_link at the previous frame
    covariance: np.ndarray  # (6, 6) of (x, y, z, roll, pitch, yaw) of ``delta``
    pose: np.ndarray  # (4, 4) the chained visual pose: base_link in the visual odometry frame
    tracked: int  # corners tracked from the previous frame (with depth)
    inliers: int  # of them consistent with the motion
    residual_px: float  # rms reprojection error of the inliers


def _rodrigues_matrix(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    transform = np.eye(4)
    transform[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))[0]
    transform[:3, 3] = np.ravel(tvec)
    return transform


def _rpy(rotation: np.ndarray) -> np.ndarray:
    """(roll, pitch, yaw) of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return np.array(
        [
            np.arctan2(rotation[2, 1], rotation[2, 2]),
            np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0)),
            np.arctan2(rotation[1, 0], rotation[0, 0]),
        ]
    )


class StereoVisualOdometry:
    """Feed ``process(stamp, left, disparity)`` frame after frame; it returns one VisualStep each."""

    def __init__(
        self,
        geometry: StereoGeometry,
        camera_to_base: np.ndarray,
        footprint: np.ndarray,
        config: VisualOdometryConfig | None = None,
    ):
        """``camera_to_base``: 4x4 left optical frame -> base_link; ``footprint``: (N, 2) [m] polygon
        of the rover in base_link (its bounding box, grown by the margin, masks the rover's parts)."""
        self.config = config or VisualOdometryConfig()
        self.config.validate()
        self.geometry = geometry
        self.camera_to_base = np.asarray(camera_to_base, dtype=np.float64)
        self.base_to_camera = np.linalg.inv(self.camera_to_base)
        footprint = np.asarray(footprint, dtype=np.float64)
        margin = self.config.footprint_margin
        self._rover_box = (footprint.min(axis=0) - margin, footprint.max(axis=0) + margin)
        self.K = np.array([[geometry.fx, 0.0, geometry.cx], [0.0, geometry.fy, geometry.cy], [0.0, 0.0, 1.0]])
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame and start the chain again at the identity."""
        self.pose = np.eye(4)
        self._previous: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None

    def skip(self, stamp: float, reason: str) -> VisualStep:
        """The step of a frame that could not be processed (``process`` raised): unmeasured, the pose
        stays, and the previous frame is forgotten — the failure may have struck before or after
        ``process`` kept this frame as the next one's reference, and a frame OpenCV refused is no
        reference either — so the next frame's step is unmeasured too: no motion across the failure."""
        self._previous = None
        return self._step(stamp, False, reason)

    # -- per frame ---------------------------------------------------------------------------------
    def process(self, stamp: float, left: np.ndarray, disparity: np.ndarray) -> VisualStep:
        """``left``: (H, W) uint8 rectified grey image; ``disparity``: (H, W) float [px], NaN or <= 0
        where invalid, already corrected for any principal-point offset (depth = fx·B / d)."""
        if left.ndim != 2 or left.dtype != np.uint8:
            raise ValueError(f"left image must be 2D uint8, got {left.dtype} {left.shape}")
        if disparity.shape != left.shape:
            raise ValueError(f"disparity is {disparity.shape}, the image {left.shape}")
        corners, points = self._corners_with_depth(left, disparity)
        previous, self._previous = self._previous, (stamp, left, corners, points)
        if previous is None:
            return self._step(stamp, False, "first frame")
        if stamp <= previous[0]:
            self._previous = None
            return self._step(stamp, False, f"stamp {stamp:.3f} s is not after {previous[0]:.3f} s")
        return self._measure(stamp, previous, left)

    def _step(self, stamp, valid, reason, delta=None, covariance=None, tracked=0, inliers=0, rms=np.nan):
        if delta is None:
            delta, covariance = np.eye(4), np.full((6, 6), np.nan)
        else:
            self.pose = self.pose @ delta
        return VisualStep(
            stamp, valid, reason, delta, covariance, self.pose.copy(), tracked, inliers, float(rms)
        )

    def _corners_with_depth(self, left: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) float32 corners and (N, 3) float64 points in the optical frame."""
        cfg, geo = self.config, self.geometry
        valid = np.isfinite(disparity) & (disparity > 0.0)
        d = np.where(valid, disparity, np.nan).astype(np.float32)
        # Local consistency: a corner on a depth edge mixes foreground and background.
        spread = cv2.dilate(np.nan_to_num(d, nan=-1e3), np.ones((3, 3))) - cv2.erode(
            np.nan_to_num(d, nan=1e3), np.ones((3, 3))
        )
        usable = valid & (spread <= cfg.max_disparity_spread)
        # The depth range as a disparity range: no per-pixel division.
        focal_baseline = geo.fx * geo.baseline
        depth_ok = (d >= focal_baseline / cfg.max_depth) & (d <= focal_baseline / cfg.min_depth)
        mask = (usable & depth_ok).astype(np.uint8) * 255
        found = cv2.goodFeaturesToTrack(
            left, cfg.max_features, cfg.corner_quality, cfg.min_feature_distance, mask=mask, blockSize=5
        )
        if found is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, 3))
        corners = found.reshape(-1, 2).astype(np.float32)
        cols, rows = np.round(corners[:, 0]).astype(int), np.round(corners[:, 1]).astype(int)
        z = geo.fx * geo.baseline / d[rows, cols].astype(np.float64)
        x = (corners[:, 0] - geo.cx) * z / geo.fx
        y = (corners[:, 1] - geo.cy) * z / geo.fy
        points = np.column_stack([x, y, z])
        in_base = points @ self.camera_to_base[:3, :3].T + self.camera_to_base[:3, 3]
        lo, hi = self._rover_box
        on_rover = np.all((in_base[:, :2] >= lo) & (in_base[:, :2] <= hi), axis=1)
        return corners[~on_rover], points[~on_rover]

    def _measure(self, stamp: float, previous, left: np.ndarray) -> VisualStep:
        cfg = self.config
        _, previous_image, corners, points = previous
        if len(corners) < cfg.min_inliers:
            return self._step(stamp, False, f"only {len(corners)} corners with depth in the previous frame")
        lk = dict(winSize=(cfg.track_window, cfg.track_window), maxLevel=cfg.pyramid_levels)
        ahead, status, _ = cv2.calcOpticalFlowPyrLK(previous_image, left, corners, None, **lk)
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(left, previous_image, ahead, None, **lk)
        error = np.linalg.norm(back - corners, axis=1)
        h, w = left.shape
        inside = (ahead[:, 0] >= 0) & (ahead[:, 0] < w) & (ahead[:, 1] >= 0) & (ahead[:, 1] < h)
        good = (status.ravel() == 1) & (status_back.ravel() == 1) & (error < cfg.max_track_error) & inside
        tracked = int(good.sum())
        if tracked < cfg.min_inliers:
            return self._step(stamp, False, f"only {tracked} corners tracked", tracked=tracked)
        object_points, image_points = points[good], ahead[good].astype(np.float64)
        cv2.setRNGSeed(0)  # RANSAC's sampling: the same frames give the same motion
        found, rvec, tvec, inliers = cv2.solvePnPRansac(
            object_points,
            image_points,
            self.K,
            None,
            iterationsCount=cfg.ransac_iterations,
            reprojectionError=cfg.ransac_threshold,
            confidence=0.999,
            flags=cv2.SOLVEPNP_EPNP,
        )
        count = 0 if inliers is None else len(inliers)
        if not found or count < cfg.min_inliers:
            return self._step(
                stamp, False, f"only {count} of {tracked} tracks agree on a motion", tracked=tracked
            )
        inliers = inliers.ravel()
        rvec, tvec = cv2.solvePnPRefineLM(
            object_points[inliers], image_points[inliers], self.K, None, rvec, tvec
        )
        projected, jacobian = cv2.projectPoints(object_points[inliers], rvec, tvec, self.K, None)
        residual = (projected.reshape(-1, 2) - image_points[inliers]).ravel()
        dof = max(residual.size - 6, 1)
        sigma2 = max(float(residual @ residual) / dof, 0.05**2)  # floor: never claim better than 0.05 px
        J = jacobian[:, :6]
        try:
            camera_covariance = sigma2 * np.linalg.inv(J.T @ J)
        except np.linalg.LinAlgError:
            return self._step(stamp, False, "degenerate geometry (points on a line?)", tracked=tracked)
        delta = self._base_delta(rvec, tvec)
        covariance = self._base_covariance(rvec, tvec, camera_covariance)
        rms = float(np.sqrt(np.mean(residual**2)))
        return self._step(stamp, True, "", delta, covariance, tracked, count, rms)

    def _base_delta(self, rvec, tvec) -> np.ndarray:
        # PnP gives previous-optical -> current-optical; the base motion is the inverse, seen from base.
        previous_to_current = _rodrigues_matrix(rvec, tvec)
        return self.camera_to_base @ np.linalg.inv(previous_to_current) @ self.base_to_camera

    def _base_covariance(self, rvec, tvec, camera_covariance: np.ndarray) -> np.ndarray:
        """First-order propagation through the mounting, by central differences (6 evaluations)."""
        base = np.concatenate([np.ravel(rvec), np.ravel(tvec)])

        def vector(parameters: np.ndarray) -> np.ndarray:
            delta = self._base_delta(parameters[:3], parameters[3:])
            return np.concatenate([delta[:3, 3], _rpy(delta[:3, :3])])

        jacobian = np.zeros((6, 6))
        for i in range(6):
            step = np.zeros(6)
            step[i] = 1e-6
            jacobian[:, i] = (vector(base + step) - vector(base - step)) / 2e-6
        return jacobian @ camera_covariance @ jacobian.T
