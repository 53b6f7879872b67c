"""The weights the project ships in assets/models: they load, export and predict faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from morph3d.evaluation.accuracy import evaluate_faces
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.inference.torch_predictor import TorchPredictor
from morph3d.io.datasets import find_faces, split_indices
from morph3d.paths import ASSETS_MODELS, DEFAULT_WEIGHTS

WEIGHTS = ASSETS_MODELS / DEFAULT_WEIGHTS

#: Every shipped regressor: the default (large poses) and the earlier 300W-only network.
REGRESSORS = [WEIGHTS, ASSETS_MODELS / "shufflenetv2_x1.pt"]


@pytest.mark.parametrize("weights", REGRESSORS, ids=lambda path: path.stem)
def test_card_describes_the_weights(weights: Path) -> None:
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["weights"] == weights.name
    assert card["val_nme_bbox"] <= 4.5
    assert weights.stat().st_size < 8_000_000 and weights.with_suffix(".onnx").is_file()


@pytest.fixture(scope="module")
def held_out(shared_data: Path):
    faces, _ = find_faces("300w", shared_data / "300w")
    _, val = split_indices([face.name for face in faces], 0.1)
    return [faces[i] for i in val[:24]]


@pytest.mark.parametrize("weights", REGRESSORS, ids=lambda path: path.stem)
def test_torch_and_onnx_predict_held_out_faces(real_model, held_out, weights: Path) -> None:
    torch_result = evaluate_faces(held_out, TorchPredictor(weights, real_model), real_model)
    onnx_result = evaluate_faces(held_out, OnnxPredictor(weights.with_suffix(".onnx")), real_model)
    assert np.median(torch_result.nme) < 6.0  # the shipped model finds the landmarks
    np.testing.assert_allclose(onnx_result.landmarks, torch_result.landmarks, atol=1e-2)


@pytest.mark.parametrize("weights", REGRESSORS, ids=lambda path: path.stem)
def test_int8_copy_keeps_the_accuracy(real_model, held_out, weights: Path) -> None:
    small = weights.with_name(f"{weights.stem}_int8.onnx")
    float_result = evaluate_faces(held_out, OnnxPredictor(weights.with_suffix(".onnx")), real_model)
    int8_result = evaluate_faces(held_out, OnnxPredictor(small), real_model)
    assert small.stat().st_size < 0.4 * weights.with_suffix(".onnx").stat().st_size
    assert abs(np.mean(int8_result.nme) - np.mean(float_result.nme)) < 0.1
    moved = np.linalg.norm(int8_result.landmarks - float_result.landmarks, axis=-1)
    # Pixels in the image: the same faces, slightly moved (the large-pose network's int8 copy
    # of 2026-12-05 evening moves them 0.67 px at the median, within 0.02 NME of its float).
    assert np.median(moved) < 0.75


def test_the_wide_specialist_finds_held_out_faces(real_model, held_out) -> None:
    # The 1.5x network ships as an int8 ONNX file only (the second large-pose specialist).
    wide = ASSETS_MODELS / "shufflenetv2_x1_5_lp_int8.onnx"
    card = json.loads((ASSETS_MODELS / "shufflenetv2_x1_5_lp.json").read_text())
    assert card["weights"] == wide.name and card["config"]["width"] == 1.5
    assert wide.stat().st_size < 4_000_000
    result = evaluate_faces(held_out, OnnxPredictor(wide), real_model)
    default = evaluate_faces(held_out, OnnxPredictor(WEIGHTS.with_suffix(".onnx")), real_model)
    assert np.median(result.nme) < 6.0
    assert np.mean(result.nme) < np.mean(default.nme) + 0.5  # as good as the default, near enough


@pytest.mark.parametrize(
    "name", ["shufflenetv2_x1_lp_int8.tflite", "shufflenetv2_x1_profile_int8.tflite"]
)
def test_litert_copies_keep_the_accuracy(real_model, held_out, name: str) -> None:
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert has no wheel for this platform")
    small = ASSETS_MODELS / name
    onnx = small.with_suffix(".onnx")  # ONNX Runtime's int8 copy of the same network
    litert_result = evaluate_faces(held_out, OnnxPredictor(small), real_model)
    onnx_result = evaluate_faces(held_out, OnnxPredictor(onnx), real_model)
    assert small.stat().st_size < 2_000_000
    assert abs(np.mean(litert_result.nme) - np.mean(onnx_result.nme)) < 0.1
    moved = np.linalg.norm(litert_result.landmarks - onnx_result.landmarks, axis=-1)
    assert np.median(moved) < 0.75  # pixels: two int8 copies of one network
