from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from morph3d.core.pose import angles_to_rotation, compose_pose, decompose_pose, rotation_to_angles

angle = st.floats(-179.0, 179.0)


@settings(max_examples=200, deadline=None)
@given(yaw=st.floats(-89.0, 89.0), pitch=angle, roll=angle)
def test_angles_round_trip(yaw: float, pitch: float, roll: float) -> None:
    angles = np.array([yaw, pitch, roll])
    rotation = angles_to_rotation(angles)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation_to_angles(rotation), angles, atol=1e-7)


def test_sign_conventions() -> None:
    nose = np.array([0.0, 0.0, 1.0])  # the nose points at the viewer (+z)
    assert (angles_to_rotation(np.array([30.0, 0, 0])) @ nose)[0] > 0  # yaw: toward +x
    assert (angles_to_rotation(np.array([0, 30.0, 0])) @ nose)[1] < 0  # pitch: nose down
    x_axis = angles_to_rotation(np.array([0, 0, 30.0])) @ np.array([1.0, 0, 0])
    assert x_axis[1] > 0  # roll: counter-clockwise in the y-up frame


def test_gimbal_lock_keeps_the_rotation() -> None:
    rotation = angles_to_rotation(np.array([90.0, 20.0, 10.0]))
    angles = rotation_to_angles(rotation)
    assert angles[0] == pytest.approx(90.0)
    assert angles[2] == 0.0
    np.testing.assert_allclose(angles_to_rotation(angles), rotation, atol=1e-6)


def test_pose_matrix_round_trip_batched() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform([-80, -60, -90], [80, 60, 90], size=(5, 7, 3))
    scale = rng.uniform(1e-4, 1e-3, size=(5, 7))
    translation = rng.normal(scale=50, size=(5, 7, 3))
    matrix = compose_pose(scale, angles_to_rotation(angles), translation)
    pose = decompose_pose(matrix)
    np.testing.assert_allclose(pose.scale, scale, rtol=1e-12)
    np.testing.assert_allclose(pose.translation, translation, atol=1e-12)
    np.testing.assert_allclose(pose.angles, angles, atol=1e-8)
    np.testing.assert_allclose(decompose_pose(matrix.reshape(5, 7, 12)).matrix, matrix, atol=1e-12)


def test_decompose_orthonormalizes_a_noisy_matrix() -> None:
    rotation = angles_to_rotation(np.array([20.0, -10.0, 5.0]))
    noisy = compose_pose(np.array(2e-4), rotation, np.zeros(3))
    noisy[:2, :3] += np.random.default_rng(3).normal(scale=2e-6, size=(2, 3))
    noisy[2, :3] = 0.0  # a useless third row: only the image rows count
    pose = decompose_pose(noisy)
    np.testing.assert_allclose(pose.rotation @ pose.rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(pose.angles, [20.0, -10.0, 5.0], atol=1.0)
    assert pose.scale == pytest.approx(2e-4, rel=0.02)


@pytest.mark.parametrize("yaw", [0.0, 50.0, -85.0])
def test_image_tilt_reads_the_lean_at_any_yaw(yaw: float) -> None:
    from morph3d.core.pose import image_tilt

    for lean in (-40.0, 0.0, 25.0):
        # A head turned by yaw, then leaned in the picture plane (about the viewing axis).
        plane = angles_to_rotation(np.array([0.0, 0.0, lean]))
        rotation = plane @ angles_to_rotation(np.array([yaw, 0.0, 0.0]))
        matrix = compose_pose(np.array(2e-3), rotation, np.array([60.0, 60.0, 0.0]))
        assert image_tilt(matrix) == pytest.approx(image_tilt(matrix.reshape(12)), abs=1e-12)
        assert abs(image_tilt(matrix)) == pytest.approx(abs(lean), abs=1e-6)
    leaning = compose_pose(
        np.array(1.0), angles_to_rotation(np.array([0.0, 0.0, 30.0])), np.zeros(3)
    )
    upright = compose_pose(np.array(1.0), np.eye(3), np.zeros(3))
    assert image_tilt(upright) == pytest.approx(0.0, abs=1e-12)
    assert abs(image_tilt(leaning)) == pytest.approx(30.0)


def test_turned_by_reads_the_absolute_yaw() -> None:
    from morph3d.core.pose import turned_by

    angles = np.array([[0.0, 50, 10], [29.5, 0, 0], [30.5, 5, 0], [-45.0, 0, 20], [85.0, -30, 0]])
    poses = compose_pose(np.full(5, 2e-3), angles_to_rotation(angles), np.zeros((5, 3)))
    np.testing.assert_array_equal(turned_by(poses, 30), [False, False, True, True, True])
    np.testing.assert_array_equal(turned_by(poses.reshape(5, 12), 0), [True] * 5)
    assert turned_by(poses[1], 20).shape == ()  # one pose, no batch


def test_yaw_degrees_is_the_decomposition_s_yaw_without_its_svd() -> None:
    from morph3d.core.pose import yaw_degrees

    rng = np.random.default_rng(7)
    angles = np.column_stack([rng.uniform(-89, 89, 200), rng.uniform(-60, 60, (200, 2))])
    poses = compose_pose(
        rng.uniform(1e-4, 1e-2, 200), angles_to_rotation(angles), np.ones((200, 3))
    )
    poses[:, :2, :3] *= 1 + 0.05 * rng.normal(size=(200, 2, 3))  # not quite a scaled rotation
    np.testing.assert_allclose(yaw_degrees(poses), decompose_pose(poses).angles[:, 0], atol=1e-9)
    np.testing.assert_allclose(yaw_degrees(poses.reshape(200, 12)), yaw_degrees(poses))
    exact = compose_pose(np.array(2e-3), angles_to_rotation(np.array([-35.0, 10, 5])), np.zeros(3))
    assert yaw_degrees(exact) == pytest.approx(-35.0)
    assert yaw_degrees(np.zeros((3, 4))) == 0.0  # a degenerate block: no turn to read
    with pytest.raises(ValueError, match="pose matrix"):
        yaw_degrees(np.zeros(7))
