"""The compiled network and refiner stages against the numpy path, kernel by kernel and whole,
on a real photo with the shipped networks."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from morph3d.core.blendshapes import BLENDSHAPE_NAMES, solve_blendshapes
from morph3d.core.crop import crop_to_image, image_to_crop
from morph3d.inference.compiled import (
    CompiledFaces,
    CompiledStage,
    feature_frames,
    feature_inputs,
    fit_faces,
    image_landmarks,
    image_meshes,
    network_inputs,
    place_faces,
)
from morph3d.inference.eyes import (
    BROWS_FEATURE,
    EYES_FEATURE,
    brow_frames,
    crops_to_eye_input,
    eye_crops,
    eye_frames,
    fit_eye_blendshapes,
    read_features,
)
from morph3d.io.image import crop_image, crops_to_input, read_image
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    return Reconstructor(TRACKING_RECONSTRUCTOR)


@pytest.fixture(scope="module")
def stage(reconstructor: Reconstructor) -> CompiledStage:
    predictor = reconstructor.predictor
    assert reconstructor.eyes is not None and reconstructor.brows is not None
    faces = CompiledFaces(reconstructor.model, reconstructor.eyes, reconstructor.brows)
    return CompiledStage(faces, predictor.predictor)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """A photo with two faces and their crop boxes."""
    rgb = read_image(shared_data / "photos" / "two_people.jpg")
    detector = Reconstructor(TRACKING_RECONSTRUCTOR).detector
    boxes = np.stack([detector.crop_box(d.box) for d in detector.detect(rgb)])
    assert len(boxes) == 2
    return rgb, boxes


def test_network_inputs_are_the_crops_and_their_mirrors(photo) -> None:
    rgb, boxes = photo
    crops = np.stack([crop_image(rgb, box, 120) for box in boxes])
    plain, mirrored = network_inputs(crops)
    np.testing.assert_array_equal(plain, crops_to_input(crops))
    np.testing.assert_array_equal(mirrored, crops_to_input(crops[:, :, ::-1]))


def test_faces_are_placed_as_numpy_places_them(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    crops = np.stack([crop_image(rgb, box, 120) for box in boxes])
    flip = reconstructor.predictor
    plain = flip.predictor.predict(crops)  # type: ignore[attr-defined]
    flipped = flip.predictor.predict(crops[:, :, ::-1])  # type: ignore[attr-defined]
    rows = stage.faces.rows
    params, landmarks, frames = place_faces(plain, flipped, *stage._mirror, boxes, *rows)
    expected = (plain + flip.mirror(flipped)) / 2  # type: ignore[attr-defined]
    np.testing.assert_allclose(params, expected, rtol=1e-8, atol=1e-9)
    decoded = crop_to_image(reconstructor.model.landmarks(expected), boxes)
    np.testing.assert_allclose(landmarks, decoded, atol=1e-8)
    np.testing.assert_allclose(frames[:, :2], eye_frames(decoded), atol=1e-8)
    np.testing.assert_allclose(frames[:, 2:], brow_frames(decoded), atol=1e-8)
    np.testing.assert_allclose(feature_frames(landmarks), frames, atol=1e-12)
    np.testing.assert_allclose(feature_frames(landmarks[..., :2].copy()), frames, atol=1e-12)


def test_feature_crops_match_opencv_to_rounding(reconstructor, photo) -> None:
    rgb, boxes = photo
    _, landmarks, _ = reconstructor.predict(rgb, boxes)
    frames = np.concatenate([eye_frames(landmarks), brow_frames(landmarks)], axis=1)
    eyes, brows = feature_inputs(rgb, frames)
    expected = crops_to_eye_input(eye_crops(rgb, frames.reshape(-1, 3, 2))).reshape(2, 4, 32, 32)
    both = np.stack([eyes[:, 0].reshape(2, 2, 32, 32), brows[:, 0].reshape(2, 2, 32, 32)], axis=1)
    # OpenCV rounds to 8-bit colour, then to 8-bit grey: under one grey level of a crop's spread
    difference = np.abs(both.reshape(2, 4, 32, 32) - expected)
    assert difference.mean() < 0.01 and difference.max() < 0.1


def test_the_fit_is_the_numpy_fit(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    model = reconstructor.model
    params, landmarks, _ = reconstructor.predict(rgb, boxes)
    frames = np.concatenate([eye_frames(landmarks), brow_frames(landmarks)], axis=1)
    rng = np.random.default_rng(0)  # what the refiners might read: their outputs moved a little
    eyes = reconstructor.eyes.run(
        crops_to_eye_input(eye_crops(rgb, frames[:, :2].reshape(-1, 3, 2)))
    )
    brows = reconstructor.brows.run(
        crops_to_eye_input(eye_crops(rgb, frames[:, 2:].reshape(-1, 3, 2)))
    )
    for shift in (0.0, 0.03, 0.08):
        eye_out = eyes + rng.normal(scale=shift, size=eyes.shape)
        brow_out = brows + rng.normal(scale=shift, size=brows.shape)
        weights, fitted = fit_faces(
            eye_out.astype(np.float64), brow_out.astype(np.float64), frames, params, boxes,
            *stage.faces.rows,
        )  # fmt: skip
        readers = [
            (partial(_given, eye_out), EYES_FEATURE),
            (partial(_given, brow_out), BROWS_FEATURE),
        ]
        read = read_features(rgb, landmarks, readers)
        lids, brow_points = (image_to_crop(points[..., :2], boxes) for points in read)
        expected = solve_blendshapes(model, params, lids, brow_points)
        np.testing.assert_allclose(weights, expected, atol=1e-8)
        decoded = crop_to_image(model.landmarks(params, expected), boxes)
        np.testing.assert_allclose(fitted, decoded, atol=1e-6)
    assert model.blendshape_names == BLENDSHAPE_NAMES


def _given(outputs: np.ndarray, _: np.ndarray) -> np.ndarray:
    """A refiner that reads ``outputs`` whatever its crops."""
    return outputs


def test_the_stage_finds_the_faces_numpy_finds(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    params, landmarks, crops, weights = stage.run(rgb, boxes)
    expected_params, expected_landmarks, expected_crops = reconstructor.predict(rgb, boxes)
    model, eyes, brows = reconstructor.model, reconstructor.eyes, reconstructor.brows
    _, expected_weights = fit_eye_blendshapes(
        model, eyes, rgb, expected_params, expected_landmarks, boxes, brows
    )
    expected = crop_to_image(
        reconstructor.model.landmarks(expected_params, expected_weights), boxes
    )
    np.testing.assert_array_equal(crops, expected_crops)
    np.testing.assert_allclose(params, expected_params, atol=1e-5)
    # the eye and brow crops differ by rounding: the refined points by a fraction of a pixel
    assert np.abs(landmarks - expected).max() < 0.5
    assert np.abs(weights - expected_weights).max() < 0.1
    mirrored = stage.run(
        cv2.flip(rgb, 1),
        boxes[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [rgb.shape[1], 0, rgb.shape[1], 0],
    )
    assert np.isfinite(mirrored[1]).all()


def test_warm_up_compiles_what_a_frame_calls(stage) -> None:
    stage.warm_up()  # a grey picture: every kernel runs once, without a face to find
    kernels = (network_inputs, place_faces, feature_frames, feature_inputs, fit_faces)
    for compiled in (*kernels, image_landmarks, image_meshes):
        assert compiled.signatures  # type: ignore[attr-defined]


def test_a_network_of_one_run_runs_the_crop_and_its_mirror_together(stage, photo) -> None:
    from dataclasses import replace

    rgb, boxes = photo
    two_threads = Reconstructor(replace(TRACKING_RECONSTRUCTOR, threads=2))
    network = two_threads.predictor.predictor  # type: ignore[attr-defined]
    assert network.runs == 1 and stage.network.runs == 2
    single = CompiledStage(stage.faces, network)
    for mine, theirs in zip(single.run(rgb, boxes), stage.run(rgb, boxes), strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-9)


def test_the_features_of_given_landmarks_are_the_stages(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    params, landmarks, _, weights = stage.run(rgb, boxes)
    unfitted = crop_to_image(reconstructor.model.landmarks(params), boxes)
    again, fitted = stage.faces.fit(rgb, params, boxes, unfitted)
    np.testing.assert_allclose(again, weights, atol=1e-12)
    np.testing.assert_allclose(fitted, landmarks, atol=1e-9)
    with pytest.raises(ValueError, match="landmarks or"):
        stage.faces.fit(rgb, params, boxes)


def test_the_mouth_coefficients_are_numpys(reconstructor, stage, photo) -> None:
    from morph3d.core.mouth import mouth_coefficients

    rgb, boxes = photo
    params = stage.run(rgb, boxes)[0]
    for face in params:
        expected = mouth_coefficients(reconstructor.model, face)
        found = stage.faces.mouth_coefficients(face)
        assert found.keys() == expected.keys()
        np.testing.assert_allclose(list(found.values()), list(expected.values()), atol=1e-9)


def test_the_features_need_the_models_blendshapes(reconstructor) -> None:
    import dataclasses

    renamed = dataclasses.replace(
        reconstructor.model, blendshape_names=list(reversed(BLENDSHAPE_NAMES))
    )
    with pytest.raises(ValueError, match="blendshapes"):
        CompiledFaces(renamed, reconstructor.eyes, reconstructor.brows)


def test_meshes_are_the_models_decode_in_the_image(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    model = reconstructor.model
    params, _, _, weights = stage.run(rgb, boxes)
    expected = crop_to_image(model.decode(params, weights)[:, : model.n_surface], boxes)
    found = stage.faces.meshes(params, weights, boxes)
    assert found.shape == expected.shape and found.dtype == np.float64
    np.testing.assert_allclose(found, expected, atol=1e-4)  # summed in float32, as numpy does
    bare = stage.faces.meshes(params, np.zeros_like(weights), boxes)
    plain = crop_to_image(model.decode(params)[:, : model.n_surface], boxes)
    np.testing.assert_allclose(bare, plain, atol=1e-4)
    assert np.abs(bare - found).max() > 0.01  # the blendshapes moved the eyes and brows


def test_image_landmarks_are_the_models(reconstructor, stage, photo) -> None:
    rgb, boxes = photo
    params = stage.run(rgb, boxes)[0]
    expected = crop_to_image(reconstructor.model.landmarks(params), boxes)
    np.testing.assert_allclose(stage.faces.landmarks(params, boxes), expected, atol=1e-9)
