"""Faces shrunk to other faces' sizes: the photo, the carried landmarks, the draw."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from morph3d.core.metrics import eye_aperture, landmark_box_size
from morph3d.evaluation.shrink import shrink_faces
from morph3d.io.datasets import AnnotatedFace
from morph3d.io.image import read_image, write_image

pytestmark = pytest.mark.unit


def _face(tmp_path: Path) -> AnnotatedFace:
    rng = np.random.default_rng(1)
    landmarks = rng.uniform(60, 260, (68, 2))
    landmarks[0], landmarks[1] = (60, 60), (260, 260)  # a 200 px landmark box
    image = np.zeros((320, 400, 3), np.uint8)
    cv2.circle(image, (200, 120), 16, (255, 255, 255), -1)  # a marker on point 2
    landmarks[2] = (200, 120)
    path = write_image(tmp_path / "photo.png", image)
    return AnnotatedFace("photo.pts", path, landmarks, yaw=12.0)


def test_a_face_shrinks_to_the_drawn_size_with_its_landmarks(tmp_path: Path) -> None:
    face = _face(tmp_path)
    before = face.image_path.read_bytes()
    (small,) = shrink_faces([face], [50.0], tmp_path / "small")
    image = read_image(small.image_path)
    assert image.shape == (80, 100, 3)  # a quarter of 320 x 400
    assert landmark_box_size(small.landmarks) == pytest.approx(50.0, abs=0.01)
    # the marker's centre of brightness lands on the carried point
    grey = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: grey.shape[0], : grey.shape[1]]
    centre = np.array([(grey * xs).sum(), (grey * ys).sum()]) / grey.sum()
    np.testing.assert_allclose(centre, small.landmarks[2], atol=0.1)
    # a ratio such as the eye aperture is the full-size annotation's
    np.testing.assert_allclose(eye_aperture(small.landmarks), eye_aperture(face.landmarks))
    assert (small.name, small.yaw) == (face.name, face.yaw)
    assert face.image_path.read_bytes() == before  # the input is never written


def test_rounded_landmarks_are_whole_pixels_and_the_draw_is_seeded(tmp_path: Path) -> None:
    face = _face(tmp_path)
    (small,) = shrink_faces([face], [37.0], tmp_path / "a", rounded=True)
    np.testing.assert_array_equal(small.landmarks, np.round(small.landmarks))
    # a face already smaller than the drawn size keeps its size
    (same,) = shrink_faces([face], [900.0], tmp_path / "b")
    assert read_image(same.image_path).shape == (320, 400, 3)
    draws = [
        landmark_box_size(f.landmarks)
        for f in shrink_faces([face] * 6, [30.0, 60.0, 90.0], tmp_path / "c", seed=4)
    ]
    again = [
        landmark_box_size(f.landmarks)
        for f in shrink_faces([face] * 6, [30.0, 60.0, 90.0], tmp_path / "d", seed=4)
    ]
    np.testing.assert_allclose(draws, again)
    with pytest.raises(ValueError, match="positive size"):
        shrink_faces([face], [], tmp_path / "e")
