"""Embedded MuJoCo simulator of the rocker-bogie rover (core: MuJoCo + numpy, no ROS).

* :mod:`.rover_mjcf` builds the rover as an MJCF model (``mujoco.MjSpec``) from ``config/rover.yaml``;
* :mod:`.scene` composes it with a world's MJCF scene (or a generated test terrain);
* :mod:`.terramechanics` is the wheel–soil traction and slip model;
* :mod:`.sensors` renders the stereo pair and models the IMU;
* :mod:`.engine` steps the physics and produces every sensor sample;
* :mod:`.lockstep` decides when the simulator may advance past a camera frame;
* :mod:`.parameters` is the spec table of, and :mod:`.node` the ROS node ``rover_sim``, :mod:`.cli` the ``rover-autonomy sim`` command.
"""

import os

# Headless rendering by default; MuJoCo reads this when it is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")
