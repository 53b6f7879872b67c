from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from morph3d.core.crop import crop_box_from_landmarks
from morph3d.evaluation.accuracy import evaluate_faces
from morph3d.io.datasets import AnnotatedFace, find_faces


class MeanPredictor:
    """Predicts the same parameters for every crop."""

    def __init__(self, params: np.ndarray) -> None:
        self.params = params

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return np.tile(self.params, (len(crops), 1))


def test_hand_computed_nme(real_model, shared_data: Path) -> None:
    image = shared_data / "aflw2000_3d_samples" / "image00050.jpg"
    truth = np.zeros((68, 2))
    truth[:, 0] = np.linspace(150, 300, 68)  # a 150 x 100 box: sqrt(w h) = 122.47
    truth[:, 1] = np.linspace(150, 250, 68)
    face = AnnotatedFace("one", image, truth, yaw=40.0, silhouette_jaw=False)
    params = real_model.layout.mean
    result = evaluate_faces([face], MeanPredictor(params), real_model)
    # By hand: the mean face's landmarks, moved from the crop frame into the image.
    x0, y0, x1, _y1 = crop_box_from_landmarks(truth)
    crop_points = real_model.landmarks(params)
    scale = (x1 - x0) / 120
    u = x0 + (crop_points[:, 0] - 1) * scale
    v = y0 + (120 - crop_points[:, 1]) * scale
    distance = np.sqrt((u - truth[:, 0]) ** 2 + (v - truth[:, 1]) ** 2).mean()
    expected = 100 * distance / math.sqrt(150 * 100)
    assert result.nme[0] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(result.landmarks[0], np.stack([u, v], axis=1))
    report = result.summary(with_yaw_bins=True)
    assert report["count"] == 1 and report["yaw_bins"]["[30, 60)"]["count"] == 1
    assert report["nme_balanced"] == report["nme_mean"]
    assert len(report["per_image"]["one"]["landmarks"]) == 68


def test_unreadable_images_are_listed(real_model, shared_data: Path, tmp_path: Path) -> None:
    faces, _ = find_faces("mat", shared_data / "aflw2000_3d_samples")
    broken = dataclasses.replace(faces[0], name="broken", image_path=tmp_path / "x.jpg")
    result = evaluate_faces([*faces, broken], MeanPredictor(real_model.layout.mean), real_model)
    assert result.names == [f.name for f in faces]
    assert [f.name for f in result.failures] == ["broken"]
    assert "no image file" in result.failures[0].reason


def test_boxer_and_refinement(real_model, shared_data: Path) -> None:
    faces, _ = find_faces("mat", shared_data / "aflw2000_3d_samples")
    predictor = MeanPredictor(real_model.layout.mean)

    def only_first(face, image):
        return crop_box_from_landmarks(face.landmarks) if face is faces[0] else None

    result = evaluate_faces(faces, predictor, real_model, boxer=only_first)
    assert result.names == [faces[0].name]
    assert {f.reason for f in result.failures} == {"no face detected"}
    once = evaluate_faces(faces[:1], predictor, real_model)
    twice = evaluate_faces(faces[:1], predictor, real_model, refine=1)
    # Refining re-crops around the first prediction: a different crop, a different answer.
    assert not np.allclose(once.landmarks, twice.landmarks)


def test_refine_yaw_re_crops_only_the_turned_faces(real_model, shared_data: Path) -> None:
    from morph3d.core.pose import angles_to_rotation, compose_pose, decompose_pose

    faces, _ = find_faces("mat", shared_data / "aflw2000_3d_samples")
    frontal = np.array(real_model.layout.mean, dtype=np.float64)
    pose = decompose_pose(frontal[:12])
    turned = frontal.copy()  # the mean face turned by 45 degrees of yaw
    rotation = angles_to_rotation(np.array([45.0, 0.0, 0.0])) @ pose.rotation
    turned[:12] = compose_pose(pose.scale, rotation, pose.translation).reshape(12)
    for params, refined in ((frontal, False), (turned, True)):
        predictor = MeanPredictor(params)
        once = evaluate_faces(faces[:1], predictor, real_model).landmarks
        every = evaluate_faces(faces[:1], predictor, real_model, refine=1).landmarks
        gated = evaluate_faces(faces[:1], predictor, real_model, refine=1, refine_yaw=30).landmarks
        assert not np.allclose(once, every)  # a pass re-crops and predicts again
        np.testing.assert_array_equal(gated, every if refined else once)


def test_jitter_runs_five_crops_a_face(real_model, shared_data: Path) -> None:
    class Counting(MeanPredictor):
        seen = 0

        def predict(self, crops: np.ndarray) -> np.ndarray:
            Counting.seen += len(crops)
            return super().predict(crops)

    faces, _ = find_faces("mat", shared_data / "aflw2000_3d_samples")
    predictor = Counting(real_model.layout.mean)
    plain = evaluate_faces(faces[:2], predictor, real_model).landmarks
    assert Counting.seen == 2
    jittered = evaluate_faces(faces[:2], predictor, real_model, jitter=0.05).landmarks
    assert Counting.seen == 2 + 10
    # The same answer in every moved crop: moved back into the box, their mean is that answer.
    np.testing.assert_allclose(jittered, plain, atol=1e-9)
