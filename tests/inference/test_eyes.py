"""Eye frames and crops (geometry), and the shipped eyelid refiner on held-out faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from morph3d.inference.eyes import (
    EYE_SCALE,
    EyeRefiner,
    eye_crops,
    eye_frames,
    from_eye_frame,
    to_eye_frame,
)


def _landmarks() -> np.ndarray:
    points = np.zeros((68, 2))
    points[36], points[39] = [100, 200], [140, 200]  # right eye (image left), 40 px wide
    points[45], points[42] = [250, 210], [210, 210]  # left eye
    return points


def test_frames_mirror_the_left_eye_and_round_trip() -> None:
    right, left = eye_frames(_landmarks())
    np.testing.assert_allclose(right[0], [120, 200])
    np.testing.assert_allclose(right[1], [EYE_SCALE * 40, 0])  # outer -> inner: to the right
    np.testing.assert_allclose(right[2], [0, EYE_SCALE * 40])  # down the face
    np.testing.assert_allclose(left[1], [-EYE_SCALE * 40, 0])  # outer -> inner: to the left
    np.testing.assert_allclose(left[2], [0, EYE_SCALE * 40])  # still down: a mirror image
    points = np.random.default_rng(0).uniform(90, 260, size=(6, 2))
    for frame in (right, left):
        np.testing.assert_allclose(from_eye_frame(to_eye_frame(points, frame), frame), points)
    # the corners sit at -0.25 and +0.25 of the crop side in both frames
    np.testing.assert_allclose(to_eye_frame(_landmarks()[[45, 42]], left), [[-0.25, 0], [0.25, 0]])


def test_crops_sample_where_the_frame_says() -> None:
    grey = np.zeros((400, 400), np.uint8)
    cv2.circle(grey, (130, 190), 2, 255, -1)  # a dot up and right of the right eye's centre
    right, left = eye_frames(_landmarks())
    crops = eye_crops(grey, np.stack([right, left]), size=32)
    v, u = np.unravel_index(np.argmax(crops[0]), crops[0].shape)
    expected = (to_eye_frame(np.array([[130.0, 190.0]]), right)[0] + 0.5) * 32 - 0.5
    assert abs(u - expected[0]) <= 1 and abs(v - expected[1]) <= 1
    assert crops[1].max() == 0  # the dot is not near the left eye


@pytest.fixture(scope="module")
def held_out(shared_data: Path):
    from morph3d.io.datasets import find_faces, split_indices

    faces, _ = find_faces("300w", shared_data / "300w")
    _, val = split_indices([face.name for face in faces], 0.1)
    return [faces[k] for k in val]


def test_refiner_reads_closed_eyes_the_mesh_cannot(held_out) -> None:
    from morph3d.core.crop import crop_box_from_landmarks
    from morph3d.core.metrics import eye_aperture
    from morph3d.io.image import read_image
    from morph3d.pipeline.reconstructor import Reconstructor

    reconstructor, refiner = Reconstructor(), EyeRefiner()
    truth, mesh, refined = [], [], []
    for face in held_out:
        rgb = read_image(face.image_path)
        _, predicted, _ = reconstructor.predict(rgb, crop_box_from_landmarks(face.landmarks)[None])
        better = refiner.refine(rgb, predicted)
        truth.append(eye_aperture(face.landmarks))
        mesh.append(eye_aperture(predicted[0]))
        refined.append(eye_aperture(better[0]))
    truth, mesh, refined = (np.concatenate(x) for x in (truth, mesh, refined))
    # the mesh's eye opening barely follows the annotation; the refiner's does
    assert np.corrcoef(refined, truth)[0, 1] > 0.6 > np.corrcoef(mesh, truth)[0, 1]
    assert np.abs(refined - truth).mean() < 0.7 * np.abs(mesh - truth).mean()
    closed = truth < 0.12
    assert closed.sum() >= 4 and refined[closed].mean() < mesh[closed].mean() - 0.08
