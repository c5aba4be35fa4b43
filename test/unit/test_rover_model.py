"""The rover model: loading, validation errors that name the field, suspension geometry."""

import copy
import math

import numpy as np
import pytest
import yaml

from rover_autonomy.resources import config_path
from rover_autonomy.rover_model import RoverModelError, load_rover_model, parse_rover_model


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(config_path("rover.yaml").read_text())


def test_default_model_loads_with_consistent_joint_order(raw):
    model = load_rover_model()
    assert model.drive_joints == [f"drive_{w['name']}" for w in raw["wheels"]["layout"]]
    assert model.steer_joints == [f"steer_{w['name']}" for w in raw["wheels"]["layout"] if w["steerable"]]
    assert model.suspension_joints == ["rocker_left", "rocker_right", "bogie_left", "bogie_right"]
    assert model.total_mass == pytest.approx(198.0)
    # Nominal contact points lie on the ground plane and are centred on base_link.
    contacts = model.contact_points()
    assert np.allclose(contacts[:, 2], 0.0)
    assert np.allclose(contacts[:, :2].mean(axis=0), 0.0)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("wheels", "radius"), "abc", "wheels.radius: expected a finite number"),
        (("wheels", "radius"), -0.1, "wheels.radius: -0.1 is below"),
        (("wheels", "layout", 2, "x"), None, "wheels.layout[2].x: expected a finite number"),
        (("wheels", "layout", 0, "mount"), "nowhere", "wheels.layout[0].mount: unknown suspension link"),
        (("stereo", "position"), [0, 1], "stereo.position: expected a list of 3"),
        (("limits", "max_tilt_deg"), 90, "limits.max_tilt_deg: 90 is above"),
        (("suspension", "differential"), "yes", "suspension.differential: expected true or false"),
    ],
)
def test_invalid_fields_are_named(raw, path, value, message):
    data = copy.deepcopy(raw)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(RoverModelError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rover_model(data)


def test_missing_section_and_bad_files(raw, tmp_path):
    data = copy.deepcopy(raw)
    del data["imu"]
    with pytest.raises(RoverModelError, match="imu: missing"):
        parse_rover_model(data)
    with pytest.raises(RoverModelError, match="cannot read"):
        load_rover_model(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("wheels: [unclosed")
    with pytest.raises(RoverModelError, match="not valid YAML"):
        load_rover_model(broken)


def test_bogie_rotation_moves_its_wheels_about_the_pivot():
    model = load_rover_model()
    nominal = model.wheel_centres()
    tilted = model.wheel_centres({"bogie_left": 0.2})
    i_mid, i_rear = model.wheel_names.index("middle_left"), model.wheel_names.index("rear_left")
    pivot = np.array(model.bogies[0].pivot)
    for i in (i_mid, i_rear):
        # Distance to the pivot is preserved, and the middle wheel (ahead of the pivot) goes down.
        assert np.linalg.norm(tilted[i] - pivot) == pytest.approx(np.linalg.norm(nominal[i] - pivot))
    assert tilted[i_mid, 2] < nominal[i_mid, 2]
    assert tilted[i_rear, 2] > nominal[i_rear, 2]
    # Wheels on the other side do not move.
    right = [i for i, w in enumerate(model.wheels) if w.y < 0]
    assert np.allclose(tilted[right], nominal[right])


def test_differential_mirrors_the_rockers():
    model = load_rover_model()
    both = model.wheel_centres({"rocker_left": 0.1, "rocker_right": -0.1})
    implied = model.wheel_centres({"rocker_left": 0.1})
    assert np.allclose(both, implied)
    front_left = model.wheel_names.index("front_left")
    assert implied[front_left, 2] < model.wheel_radius  # front goes down for a positive angle


def test_stereo_mount_geometry():
    model = load_rover_model()
    stereo = model.stereo
    assert stereo.focal_px == pytest.approx(320 / math.tan(math.radians(35)))
    left, right = stereo.camera_to_base("left"), stereo.camera_to_base("right")
    assert np.linalg.norm(left[:3, 3] - right[:3, 3]) == pytest.approx(stereo.baseline)
    # Optical z axis points forward and 25 deg down; optical x (image right) points to -y.
    z_axis = left[:3, 2]
    assert z_axis[0] > 0 and math.degrees(math.asin(-z_axis[2])) == pytest.approx(25.0, abs=0.1)
    assert left[:3, 0] == pytest.approx([0.0, -1.0, 0.0])
    assert left[1, 3] > right[1, 3]
