# rover_autonomy on ROS 2 Jazzy (Ubuntu 24.04), for x86_64 and arm64 rover boards.
#
#   docker build -t rover_autonomy .                                        # this machine's architecture
#   docker buildx build --platform linux/amd64,linux/arm64 -t rover_autonomy .   # both (the ros images are multi-arch)
#   docker build --build-arg WITH_GAZEBO=1 -t rover_autonomy:gazebo .       # adds Gazebo Harmonic (ros_gz)
#   docker run --rm -it --network host rover_autonomy                       # rover.launch.py (hardware profile)
#
# ROS dependencies come from rosdep (package.xml). The pinned Python dependencies (requirements.txt)
# go into a virtual environment that sees the system's site-packages: Ubuntu 24.04 marks its Python
# "externally managed" (PEP 668), so pip may not write into it, and the venv still sees rclpy and the
# message packages of /opt/ros. colcon runs inside the venv, so the console scripts use its Python.
ARG ROS_DISTRO=jazzy
FROM ros:${ROS_DISTRO}
ARG ROS_DISTRO
ARG WITH_GAZEBO=0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/rover_venv

# System and ROS dependencies first: this layer is rebuilt only when package.xml changes.
WORKDIR /ws/src/rover_autonomy
COPY package.xml ./
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3-pip python3-venv python3-colcon-common-extensions \
      libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libusb-1.0-0 \
      ros-${ROS_DISTRO}-image-proc \
 && rosdep update --rosdistro "${ROS_DISTRO}" \
 && rosdep install --from-paths . --ignore-src --rosdistro "${ROS_DISTRO}" -y \
 && if [ "${WITH_GAZEBO}" = 1 ]; then \
      apt-get install -y --no-install-recommends \
        ros-${ROS_DISTRO}-ros-gz ros-${ROS_DISTRO}-gz-ros2-control ros-${ROS_DISTRO}-ros2-controllers; \
    fi \
 && rm -rf /var/lib/apt/lists/*

# Pinned Python dependencies (wheels exist for x86_64 and aarch64).
COPY requirements.txt ./
RUN python3 -m venv --system-site-packages "${VIRTUAL_ENV}" \
 && touch "${VIRTUAL_ENV}/COLCON_IGNORE" \
 && "${VIRTUAL_ENV}/bin/pip" install -r requirements.txt

# The package itself.
COPY . .
RUN source "/opt/ros/${ROS_DISTRO}/setup.bash" \
 && source "${VIRTUAL_ENV}/bin/activate" \
 && cd /ws \
 && python -m colcon build --packages-select rover_autonomy --event-handlers console_direct+ \
 && rm -rf build log

# Every shell and `docker run` command sees ROS, the venv and the built package.
RUN sed -i "\$i source ${VIRTUAL_ENV}/bin/activate\nsource /ws/install/setup.bash" /ros_entrypoint.sh \
 && printf 'source /opt/ros/%s/setup.bash\nsource %s/bin/activate\nsource /ws/install/setup.bash\n' \
      "${ROS_DISTRO}" "${VIRTUAL_ENV}" >> /root/.bashrc
WORKDIR /ws
CMD ["ros2", "launch", "rover_autonomy", "rover.launch.py"]
