"""The simulation engine: rover + world in MuJoCo, traction forces, actuator ramps, sensor samples.

One fixed physics step (``timestep``) at a time. Before each step the drive and steering set-points
move towards the commanded values at the model's wheel acceleration and steering rate limits, and
the terramechanics forces of every wheel contact (from the normal loads and wheel motion of the
previous step) are written to ``xfrc_applied``. Sim time is kept as an integer number of
nanoseconds: stamps never drift by rounding. Every output is a pure function of the world, the rover
model, the configuration (including the seed) and the commands given at each step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np
from numba import njit

from rover_autonomy.geometry import yaw_to_quaternion
from rover_autonomy.rover_model import RoverModel
from rover_autonomy.sim import rover_mjcf
from rover_autonomy.sim.scene import ROVER_PREFIX, SimWorld, WorldError, compose
from rover_autonomy.sim.sensors import ImuModel, ImuSample, StereoRenderer
from rover_autonomy.sim.terramechanics import ROCK_FRICTION, V_EPS, WheelGeometry, rock_force, soil_force


class CommandError(ValueError):
    """A wheel or steering command is malformed (length, NaN/inf, absurd magnitude)."""


ABSURD_FACTOR = 2.0
LOAD_CAP_FACTOR = 2.5  # wheel load used for traction, at most this multiple of the static share [-]  # commands beyond this multiple of a limit are refused, not clamped


@dataclass(frozen=True)
class SimConfig:
    timestep: float = 0.005  # [s] physics step (divides the IMU and camera periods)
    seed: int = 0  # IMU noise
    settle_time: float = 4.0  # [s] longest drop-and-settle before time 0
    settle_speed: float = 0.005  # [m/s] body speed below which the rover counts as settled
    spawn_height: float = 0.05  # [m] drop height of the wheels above the ground at the start
    cameras: bool = False
    shadows: bool = False
    multisamples: int = 0  # off-screen MSAA samples: 4x costs about 2x render time on software GL
    solver_iterations: int = 30


@dataclass(frozen=True)
class Contact:
    part: str  # rover part: chassis, mast, camera_head, rocker_left, ..., wheel_front_left
    other: str  # the world geom touched
    position: np.ndarray  # (3,) [m] in map
    wheel: bool


@dataclass(frozen=True)
class GroundTruth:
    position: np.ndarray  # (3,) base_link origin in map [m]
    quaternion: np.ndarray  # (4,) x, y, z, w
    linear: np.ndarray  # (3,) [m/s] in base_link
    angular: np.ndarray  # (3,) [rad/s] in base_link


@njit(cache=True)
def _cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


@njit(cache=True)
def _unit(v):
    norm = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return v / max(norm, 1e-12)


@njit(cache=True)
def _traction_kernel(
    geom, frame, pos, efc_address, efc_force, wheel_of_geom, soil_geom, wheel_body, xpos, xmat, xipos,
    cvel, com, drive_rate, radius, width, soil, mu_rock, v_eps, load_cap, xfrc, slip, load,
):  # fmt: skip
    """Soil or rock force of every wheel contact, written to xfrc; per-wheel slip and load.

    For each contact: normal n (into the wheel), heading t = axle × n, side direction n × t; hub velocity
    and contact-point velocity from the body's spatial velocity (cvel, about the rover's centre of
    mass). The force acts at the contact point on the wheel body; the load it uses is capped at
    ``load_cap`` [N]. A wheel's slip is the load-weighted
    mean over its soil contacts, or kinematic from its hub velocity when it has none.
    """
    n_wheels = wheel_body.shape[0]
    slip_sum = np.zeros(n_wheels)
    for w in range(n_wheels):
        xfrc[wheel_body[w], :] = 0.0
        load[w] = 0.0
    for i in range(geom.shape[0]):
        g1, g2 = geom[i, 0], geom[i, 1]
        w1, w2 = wheel_of_geom[g1], wheel_of_geom[g2]
        if (w1 < 0 and w2 < 0) or efc_address[i] < 0:
            continue
        wheel, other, sign = (w1, g2, -1.0) if w1 >= 0 else (w2, g1, 1.0)
        b = wheel_body[wheel]
        normal = sign * frame[i, :3]
        axle = np.array([xmat[b, 1], xmat[b, 4], xmat[b, 7]])
        t_long = _unit(_cross(axle, normal))
        t_lat = _cross(normal, t_long)
        omega, centre = cvel[b, :3], xpos[b]
        v_hub = cvel[b, 3:] + _cross(omega, centre - com)
        v_point = v_hub + _cross(omega, pos[i] - centre)
        v_long, v_lat = v_hub @ t_long, v_hub @ t_lat
        p_long, p_lat = v_point @ t_long, v_point @ t_lat
        f_normal = min(max(efc_force[efc_address[i]], 0.0), load_cap)
        if soil_geom[other]:
            f_long, f_lat, s = soil_force(
                f_normal, v_long - p_long, v_long, v_lat, soil, radius, width, v_eps
            )
            slip_sum[wheel] += s * f_normal
        else:
            f_long, f_lat = rock_force(f_normal, p_long, p_lat, mu_rock, v_eps)
        load[wheel] += f_normal
        force = f_long * t_long + f_lat * t_lat
        torque = _cross(pos[i] - xipos[b], force)
        xfrc[b, :3] += force
        xfrc[b, 3:] += torque
    up = np.array([0.0, 0.0, 1.0])
    for w in range(n_wheels):
        if slip_sum[w] != 0.0 and load[w] > 1e-9:
            slip[w] = slip_sum[w] / load[w]
        else:
            b = wheel_body[w]
            axle = np.array([xmat[b, 1], xmat[b, 4], xmat[b, 7]])
            v_hub = cvel[b, 3:] + _cross(cvel[b, :3], xpos[b] - com)
            rim = drive_rate[w] * radius
            ground = v_hub @ _unit(_cross(axle, up))
            slip[w] = (rim - ground) / max(abs(rim), abs(ground), v_eps)


class RoverSim:
    """The rover in a world, stepped at a fixed timestep."""

    def __init__(self, world: SimWorld, model: RoverModel, config: SimConfig | None = None):
        self.world = world
        self.rover = model
        self.config = config = config or SimConfig()
        spec = compose(world, rover_mjcf.build_rover_spec(model))
        spec.option.timestep = config.timestep
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.iterations = config.solver_iterations
        # Sleeping lets MuJoCo skip the static world's geoms in kinematics (thousands of rocks cost
        # more than the rover otherwise); the rover itself never sleeps (rover_mjcf).
        spec.option.enableflags |= mujoco.mjtEnableBit.mjENBL_SLEEP
        spec.visual.global_.offwidth = max(model.stereo.width, 640)
        spec.visual.global_.offheight = max(model.stereo.height, 480)
        spec.visual.quality.offsamples = config.multisamples
        spec.visual.map.znear = model.stereo.near_clip
        spec.visual.map.zfar = model.stereo.far_clip
        self.spec = spec
        try:
            self.model = spec.compile()
        except ValueError as err:  # a corrupt scene: missing asset files, bad values
            raise WorldError(
                f"world {world.name}: cannot compile the scene ({str(err).splitlines()[0]})"
            ) from err
        m = self.model
        m.vis.map.znear = model.stereo.near_clip / m.stat.extent
        m.vis.map.zfar = model.stereo.far_clip / m.stat.extent
        self.data = mujoco.MjData(m)
        self.step_ns = round(config.timestep * 1e9)
        self.steps = 0
        self.wheel = WheelGeometry(model.wheel_radius, model.wheel_width)
        # Contact force spikes (a wheel striking a rock) are not passed on to the explicit traction
        # forces: beyond a few times its static share they would make them numerically stiff.
        self.load_cap = LOAD_CAP_FACTOR * model.total_mass * world.gravity / len(model.wheels)
        self._index(m, model)
        self.drive_target = np.zeros(len(model.wheels))
        self.steer_target = np.zeros(len(model.steerable_wheels))
        self.drive_setpoint = np.zeros_like(self.drive_target)
        self.steer_setpoint = np.zeros_like(self.steer_target)
        self.wheel_slip = np.zeros(len(model.wheels))
        self.wheel_load = np.zeros(len(model.wheels))
        self.imu = ImuModel(model.imu, np.random.default_rng(config.seed))
        self.renderer: StereoRenderer | None = None
        if config.cameras:
            cameras = tuple(ROVER_PREFIX + rover_mjcf.camera_name(s) for s in ("left", "right"))
            static = np.flatnonzero(~self.rover_geom & ~self.soil_geom & (m.geom_bodyid == 0))
            self.renderer = StereoRenderer(m, model.stereo, cameras, config.shadows, static)
        self._place_at_start()
        self._start_position = self.data.xpos[self.base_body].copy()
        self._light_positions = self.data.light_xpos.copy()
        self.settle()

    # -- model indices -------------------------------------------------------------------------
    def _id(self, kind, name: str) -> int:
        index = mujoco.mj_name2id(self.model, kind, ROVER_PREFIX + name)
        if index < 0:
            raise KeyError(f"rover model lacks {kind.name} {name!r}")
        return index

    def _index(self, m: mujoco.MjModel, rover: RoverModel) -> None:
        J, B, G, A = (
            mujoco.mjtObj.mjOBJ_JOINT,
            mujoco.mjtObj.mjOBJ_BODY,
            mujoco.mjtObj.mjOBJ_GEOM,
            mujoco.mjtObj.mjOBJ_ACTUATOR,
        )
        self.base_body = self._id(B, "base_link")
        self.root_qpos = m.jnt_qposadr[self._id(J, "root")]
        self.root_dof = m.jnt_dofadr[self._id(J, "root")]
        drive = [self._id(J, n) for n in rover.drive_joints]
        steer = [self._id(J, n) for n in rover.steer_joints]
        susp = [self._id(J, n) for n in rover.suspension_joints]
        self.drive_qpos, self.drive_qvel = m.jnt_qposadr[drive], m.jnt_dofadr[drive]
        self.steer_qpos = m.jnt_qposadr[steer]
        self.susp_qpos = m.jnt_qposadr[susp]
        self.joint_names = rover.drive_joints + rover.steer_joints + rover.suspension_joints
        joints = drive + steer + susp
        self.joint_qpos, self.joint_dof = m.jnt_qposadr[joints], m.jnt_dofadr[joints]
        self.drive_act = np.array([self._id(A, n) for n in rover.drive_joints])
        self.steer_act = np.array([self._id(A, n) for n in rover.steer_joints])
        self.wheel_body = np.array([self._id(B, f"wheel_{w.name}") for w in rover.wheels])
        self.wheel_of_geom = np.full(m.ngeom, -1)
        for i, w in enumerate(rover.wheels):
            self.wheel_of_geom[self._id(G, f"wheel_{w.name}")] = i
        rover_root = self.base_body
        self.rover_geom = m.body_rootid[m.geom_bodyid] == rover_root
        self.soil_geom = (m.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD) & ~self.rover_geom
        self.gyro_adr = m.sensor_adr[self._id(mujoco.mjtObj.mjOBJ_SENSOR, "imu_gyro")]
        self.accel_adr = m.sensor_adr[self._id(mujoco.mjtObj.mjOBJ_SENSOR, "imu_accel")]
        self.geom_names = [mujoco.mj_id2name(m, G, i) or f"geom_{i}" for i in range(m.ngeom)]
        base_geoms = {"chassis", "mast", "camera_head"}
        self.part_names = []
        for i in range(m.ngeom):
            name = self.geom_names[i].removeprefix(ROVER_PREFIX)
            body = (mujoco.mj_id2name(m, B, m.geom_bodyid[i]) or "").removeprefix(ROVER_PREFIX)
            self.part_names.append(name if name in base_geoms else body)

    # -- spawn ---------------------------------------------------------------------------------
    def ground_height(self, x: float, y: float) -> float:
        """Height of the world's ground (height fields and rocks) under (x, y) [m]."""
        geomid = np.zeros(1, np.int32)
        top = 1e4
        group = None
        hit = mujoco.mj_ray(
            self.model,
            self.data,
            np.array([x, y, top]),
            np.array([0.0, 0.0, -1.0]),
            group,
            1,
            self.base_body,
            geomid,
        )
        if hit < 0:
            raise ValueError(f"no ground under the start position ({x:.2f}, {y:.2f})")
        return top - hit

    def _place_at_start(self) -> None:
        x, y, yaw = self.world.start
        d = self.data
        mujoco.mj_forward(self.model, d)
        radius = math.hypot(*np.ptp(self.rover.nominal_wheel_centres()[:, :2], axis=0)) / 2
        ground = max(
            self.ground_height(x + dx, y + dy)
            for dx, dy in [(0, 0)]
            + [(radius * math.cos(a), radius * math.sin(a)) for a in np.linspace(0, 6, 8)]
        )
        q = self.root_qpos
        d.qpos[q : q + 3] = [x, y, ground + self.config.spawn_height]
        d.qpos[q + 3 : q + 7] = np.roll(yaw_to_quaternion(yaw), 1)  # MuJoCo's order: w, x, y, z
        d.qvel[:] = 0.0
        mujoco.mj_forward(self.model, d)

    def settle(self) -> float:
        """Let the rover drop and come to rest with the wheels held; sim time restarts at 0."""
        limit = int(self.config.settle_time / self.config.timestep)
        calm = 0
        for i in range(limit):
            self.step()
            speed = float(np.linalg.norm(self.data.qvel[self.root_dof : self.root_dof + 3]))
            calm = calm + 1 if speed < self.config.settle_speed and i * self.config.timestep > 0.3 else 0
            if calm >= int(0.2 / self.config.timestep):
                break
        settled_for = self.steps * self.config.timestep
        self.steps = 0
        self.data.time = 0.0
        self.imu.sample(0)  # discard the settling readings
        return settled_for

    # -- commands ------------------------------------------------------------------------------
    def command_drive(self, rates) -> None:
        """Wheel rates [rad/s] in the model's drive order; raises CommandError when malformed."""
        self.drive_target = self._checked(
            rates, len(self.drive_target), -self.rover.wheel_max_rate, self.rover.wheel_max_rate, "drive"
        )

    def command_steer(self, angles) -> None:
        """Steering angles [rad] in the model's steer order; raises CommandError when malformed."""
        st = self.rover.steering
        self.steer_target = self._checked(angles, len(self.steer_target), st.min_angle, st.max_angle, "steer")

    def stop(self) -> None:
        """Wheels to zero rate; steering holds where it is."""
        self.drive_target = np.zeros_like(self.drive_target)

    @staticmethod
    def _checked(values, size: int, lo: float, hi: float, what: str) -> np.ndarray:
        array = np.asarray(values, dtype=float).reshape(-1)
        if array.size != size:
            raise CommandError(f"{what} command has {array.size} values, expected {size}")
        if not np.all(np.isfinite(array)):
            raise CommandError(f"{what} command contains NaN or infinite values: {array.tolist()}")
        span = max(abs(lo), abs(hi))
        if np.any(np.abs(array) > ABSURD_FACTOR * span):
            raise CommandError(
                f"{what} command {array.tolist()} is beyond {ABSURD_FACTOR}x the limit {span:g}"
            )
        return np.clip(array, lo, hi)

    # -- stepping ------------------------------------------------------------------------------
    @property
    def time_ns(self) -> int:
        return self.steps * self.step_ns

    def step(self, count: int = 1) -> None:
        m, d, dt = self.model, self.data, self.config.timestep
        for _ in range(count):
            # Set-points ramp at the wheel acceleration and steering rate limits (np.clip is slow here).
            accel = self.rover.wheel_max_accel * dt
            self.drive_setpoint += np.minimum(
                np.maximum(self.drive_target - self.drive_setpoint, -accel), accel
            )
            turn = self.rover.steering.max_rate * dt
            self.steer_setpoint += np.minimum(
                np.maximum(self.steer_target - self.steer_setpoint, -turn), turn
            )
            d.ctrl[self.drive_act] = self.drive_setpoint
            d.ctrl[self.steer_act] = self.steer_setpoint
            self._apply_traction()
            mujoco.mj_step(m, d)
            self.imu.accumulate(
                d.sensordata[self.gyro_adr : self.gyro_adr + 3],
                d.sensordata[self.accel_adr : self.accel_adr + 3],
            )
            self.steps += 1

    def _apply_traction(self) -> None:
        """Terramechanics forces of the wheel contacts found in the last step (see .terramechanics)."""
        d = self.data
        contact = d.contact
        _traction_kernel(
            contact.geom,
            contact.frame,
            contact.pos,
            contact.efc_address,
            d.efc_force,
            self.wheel_of_geom,
            self.soil_geom,
            self.wheel_body,
            d.xpos,
            d.xmat,
            d.xipos,
            d.cvel,
            d.subtree_com[self.base_body],
            d.qvel[self.drive_qvel],
            self.wheel.radius,
            self.wheel.width,
            self.world.soil.params,
            ROCK_FRICTION,
            V_EPS,
            self.load_cap,
            d.xfrc_applied,
            self.wheel_slip,
            self.wheel_load,
        )

    # -- outputs -------------------------------------------------------------------------------
    def ground_truth(self) -> GroundTruth:
        d, b = self.data, self.base_body
        rotation = d.xmat[b].reshape(3, 3)
        q = d.xquat[b]
        cvel = d.cvel[b]
        linear_world = cvel[3:] + np.cross(cvel[:3], d.xpos[b] - d.subtree_com[b])
        return GroundTruth(
            position=d.xpos[b].copy(),
            quaternion=np.array([q[1], q[2], q[3], q[0]]),
            linear=rotation.T @ linear_world,
            angular=rotation.T @ cvel[:3],
        )

    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Joint names (drive, steer, suspension, as in the rover model), positions [rad], rates [rad/s]."""
        d = self.data
        return self.joint_names, d.qpos[self.joint_qpos].copy(), d.qvel[self.joint_dof].copy()

    def imu_sample(self) -> ImuSample:
        """The IMU sample of the period ending now (call once per IMU period)."""
        return self.imu.sample(self.time_ns)

    def contacts(self) -> list[Contact]:
        d = self.data
        out = []
        for i in range(d.ncon):
            c = d.contact[i]
            g1, g2 = int(c.geom[0]), int(c.geom[1])
            if self.rover_geom[g1] == self.rover_geom[g2]:
                continue
            mine, other = (g1, g2) if self.rover_geom[g1] else (g2, g1)
            out.append(
                Contact(
                    self.part_names[mine], self.geom_names[other], c.pos.copy(), self.wheel_of_geom[mine] >= 0
                )
            )
        return out

    def render_stereo(self) -> tuple[np.ndarray, np.ndarray]:
        if self.renderer is None:
            raise RuntimeError("cameras are disabled in this simulator")
        self._follow_with_lights()
        return self.renderer.render_pair(self.data)

    def render_depth(self, side: str = "left") -> np.ndarray:
        if self.renderer is None:
            raise RuntimeError("cameras are disabled in this simulator")
        self._follow_with_lights()
        return self.renderer.render_depth(self.data, side)

    def _follow_with_lights(self) -> None:
        """Directional lights travel with the rover: their shadow maps cover only ±reach around them."""
        if not self.config.shadows or self.model.nlight == 0:
            return
        world_lights = self.model.light_bodyid == 0
        shift = self.data.xpos[self.base_body] - self._start_position
        shift[2] = 0.0
        self.data.light_xpos[world_lights] = self._light_positions[world_lights] + shift

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
