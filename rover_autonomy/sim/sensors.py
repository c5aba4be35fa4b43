"""Simulated sensors: the MuJoCo-rendered stereo pair and the IMU error model.

Stereo: both cameras are MuJoCo cameras on the rover placed from the rover model's stereo mount
(``StereoMount.camera_to_base``), with fovy = the model's vertical field of view, so the rendered
images are rectified pinhole images whose K is exactly ``StereoMount.intrinsics()`` (principal point at
((W − 1)/2, (H − 1)/2), pixel centres at integer coordinates) and whose right projection carries
P[0, 3] = −f·B. Rendering is headless through EGL or OSMesa (``MUJOCO_GL``).

IMU: MuJoCo's gyro and accelerometer at the IMU site (specific force, so gravity reads +g upwards),
averaged over each sample period as an integrating MEMS IMU does, plus a turn-on bias drawn once
per axis (σ = ``*_bias_sigma``), white noise of the model's noise density (σ = N·√rate) and
saturation at the model's range. All random numbers come from one seeded generator.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from rover_autonomy.rover_model import ImuMount, StereoMount

GL_PACKAGES = {"egl": "libegl-mesa0", "osmesa": "libosmesa6", "glfw": "libglfw3"}


class RenderError(RuntimeError):
    """No usable OpenGL backend for off-screen rendering."""


def gl_backend() -> str:
    """The GL backend MuJoCo chose when it was imported (egl, osmesa or glfw)."""
    import mujoco

    module = getattr(getattr(mujoco, "GLContext", None), "__module__", "")
    return (
        module.rsplit(".", 1)[-1]
        if module.startswith("mujoco.")
        else os.environ.get("MUJOCO_GL", "glfw").lower()
    )


def gl_hint() -> str:
    backend = gl_backend()
    package = GL_PACKAGES.get(backend, "libegl-mesa0")
    return (
        f"MuJoCo cannot render off-screen with MUJOCO_GL={backend}: install the Debian package {package}, "
        "or use MUJOCO_GL=egl (libegl-mesa0) or MUJOCO_GL=osmesa (libosmesa6), or turn the cameras off"
    )


def projection_matrices(stereo: StereoMount) -> tuple[np.ndarray, np.ndarray]:
    """3x4 projection matrices (left, right) of the rectified pair; right P[0, 3] = −f·B [px·m]."""
    k = stereo.intrinsics()
    left = np.hstack([k, np.zeros((3, 1))])
    right = left.copy()
    right[0, 3] = -stereo.focal_px * stereo.baseline
    return left, right


@dataclass(frozen=True)
class ImuSample:
    stamp_ns: int
    angular_velocity: np.ndarray  # (3,) [rad/s] in the IMU frame
    linear_acceleration: np.ndarray  # (3,) [m/s^2] specific force in the IMU frame


class ImuModel:
    """Averages true readings over a sample period and adds bias, white noise and saturation."""

    def __init__(self, mount: ImuMount, rng: np.random.Generator):
        self.mount = mount
        self.rng = rng
        self.gyro_bias = rng.normal(0.0, mount.gyro_bias_sigma, 3)
        self.accel_bias = rng.normal(0.0, mount.accel_bias_sigma, 3)
        self.gyro_sigma = mount.gyro_noise_density * np.sqrt(mount.rate)
        self.accel_sigma = mount.accel_noise_density * np.sqrt(mount.rate)
        self._sum = np.zeros(6)
        self._count = 0

    def accumulate(self, gyro: np.ndarray, accel: np.ndarray) -> None:
        self._sum[:3] += gyro
        self._sum[3:] += accel
        self._count += 1

    def sample(self, stamp_ns: int) -> ImuSample:
        """The sample of the period that ends now; starts the next period."""
        mean = self._sum / max(self._count, 1)
        self._sum[:] = 0.0
        self._count = 0
        gyro = mean[:3] + self.gyro_bias + self.rng.normal(0.0, self.gyro_sigma, 3)
        accel = mean[3:] + self.accel_bias + self.rng.normal(0.0, self.accel_sigma, 3)
        gyro = np.clip(gyro, -self.mount.gyro_range, self.mount.gyro_range)
        accel = np.clip(accel, -self.mount.accel_range, self.mount.accel_range)
        return ImuSample(stamp_ns, gyro, accel)


class StereoRenderer:
    """Renders the left/right (and optionally depth) images of the rover's stereo cameras."""

    CULLED_GROUP = 5  # geom group hidden from the cameras: static geoms behind or beyond the view

    def __init__(
        self, model, stereo: StereoMount, cameras: tuple[str, str], shadows: bool = False, static_geoms=None
    ):
        import mujoco

        self.model = model
        self.stereo = stereo
        self.cameras = cameras
        self._camera_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) for c in cameras]
        # Static geoms (rocks) are culled per frame: software GL pays for every mesh it is given.
        self._static = np.asarray(static_geoms if static_geoms is not None else [], dtype=int)
        self._groups = model.geom_group[self._static].copy()
        try:
            self._renderer = mujoco.Renderer(model, height=stereo.height, width=stereo.width)
        except Exception as err:  # GL errors come as several types depending on the backend
            raise RenderError(gl_hint()) from err
        self._options = mujoco.MjvOption()
        self._options.geomgroup[self.CULLED_GROUP] = 0
        self._shadows = shadows
        self._depth = False

    def _render(self, data, camera: str) -> np.ndarray:
        import mujoco

        self._renderer.update_scene(data, camera=camera, scene_option=self._options)
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self._shadows
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        return self._renderer.render()

    def _cull(self, data) -> None:
        """Hide static geoms wholly outside both cameras' view frustum (sides, behind, beyond the far plane)."""
        if self._static.size == 0:
            return
        left, right = self._camera_ids
        centre = (data.cam_xpos[left] + data.cam_xpos[right]) / 2
        axes = data.cam_xmat[left].reshape(3, 3)  # columns: right, up, backwards (MuJoCo cameras)
        offset = data.geom_xpos[self._static] - centre
        radius = self.model.geom_rbound[self._static] + self.stereo.baseline / 2
        ahead = -(offset @ axes[:, 2])
        half_w, half_h = math.tan(self.stereo.hfov / 2), math.tan(self.stereo.vfov / 2)
        # A sphere is outside a frustum side plane when its centre lies beyond it by more than radius.
        beside = np.abs(offset @ axes[:, 0]) - ahead * half_w > radius * math.hypot(1.0, half_w)
        above = np.abs(offset @ axes[:, 1]) - ahead * half_h > radius * math.hypot(1.0, half_h)
        far = ahead > self.model.vis.map.zfar * self.model.stat.extent + radius  # GL clips depth, not range
        hidden = (ahead < -radius) | beside | above | far
        self.model.geom_group[self._static] = np.where(hidden, self.CULLED_GROUP, self._groups)

    def render_pair(self, data) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB images of the left and right camera."""
        self._cull(data)
        if self._depth:
            self._renderer.disable_depth_rendering()
            self._depth = False
        return self._render(data, self.cameras[0]).copy(), self._render(data, self.cameras[1]).copy()

    def render_depth(self, data, side: str = "left") -> np.ndarray:
        """(H, W) float32 depth along the optical axis [m] of one camera."""
        self._cull(data)
        if not self._depth:
            self._renderer.enable_depth_rendering()
            self._depth = True
        return self._render(data, self.cameras[0 if side == "left" else 1]).copy()

    def close(self) -> None:
        self._renderer.close()
