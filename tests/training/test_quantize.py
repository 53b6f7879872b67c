from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.inference.export import export_onnx
from morph3d.inference.network import Regressor
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.io.datasets import split_indices
from morph3d.training.quantize import calibration_crops, quantize_regressor
from morph3d.training.targets import write_targets

from ..conftest import make_tiny_model, make_tiny_targets


@pytest.fixture(scope="module")
def targets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quantize")
    return write_targets(folder / "tiny.h5", make_tiny_targets(make_tiny_model(), count=40))


def test_calibration_crops_are_training_crop_boxes(targets_file: Path) -> None:
    import h5py

    with h5py.File(targets_file) as targets:
        images = targets["image"][:]
        names = [n.decode() for n in targets["name"][:]]
    train, val = split_indices(names, 0.25)
    assert len(val) > 0
    crops = calibration_crops([targets_file], count=12, val_fraction=0.25)
    assert crops.shape == (12, 120, 120, 3) and crops.dtype == np.uint8
    middles = images[:, 60:180, 60:180]  # the crop box is the middle half of the stored image
    sources = [int(np.flatnonzero((middles == crop).all(axis=(1, 2, 3)))[0]) for crop in crops]
    assert len(set(sources)) == 12 and set(sources) <= set(train.tolist())
    # Two files share the count, and the draw is fixed by the seed.
    both = calibration_crops([targets_file, targets_file], count=10, val_fraction=0.25)
    assert len(both) == 10
    np.testing.assert_array_equal(crops, calibration_crops([targets_file], 12, 0.25))


def _float_regressor(path: Path, seed: int) -> Path:
    """A random x0.5 regressor with a head large enough to vary, exported to ONNX."""
    torch.manual_seed(seed)
    network = Regressor(0.5)
    torch.nn.init.normal_(network.backbone.fc.weight, std=0.05)
    network.set_statistics(np.linspace(-2, 60, 62), np.linspace(0.01, 5, 62))
    return export_onnx(network.eval(), path)


def test_int8_copy_predicts_like_the_float_network(targets_file: Path, tmp_path: Path) -> None:
    import onnx

    source = _float_regressor(tmp_path / "net.onnx", seed=0)
    crops = calibration_crops([targets_file], count=16)
    small = quantize_regressor(source, tmp_path / "net_int8.onnx", crops)
    operators = [node.op_type for node in onnx.load(str(small)).graph.node]
    assert "QuantizeLinear" in operators and operators.count("Gemm") == 1  # the head stays float
    assert small.stat().st_size < 0.6 * source.stat().st_size  # the float head is 1/4 of x0.5
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
    faces = np.random.default_rng(3).integers(0, 256, (8, 120, 120, 3), dtype=np.uint8)
    reference = OnnxPredictor(source).predict(faces)
    quantized = OnnxPredictor(small).predict(faces)
    scale = reference.std(axis=0) + 1e-12
    varied = reference.std(axis=0) > 1e-6
    error = np.abs(quantized - reference)[:, varied] / scale[varied]
    assert np.median(error) < 0.25  # within a quarter of the spread the network produces
    np.testing.assert_allclose(quantized[:, ~varied], reference[:, ~varied], atol=1e-3)


def test_quantize_best_keeps_the_copy_that_moves_landmarks_least(
    targets_file: Path, tmp_path: Path
) -> None:
    from morph3d.training.quantize import quantize_best

    source = _float_regressor(tmp_path / "net.onnx", seed=1)
    crops = calibration_crops([targets_file], count=16)
    held = calibration_crops([targets_file], count=6, val_fraction=0.25, validation=True)
    model = make_tiny_model()
    out, moves = quantize_best(
        source, tmp_path / "net_int8.onnx", crops, held, model.landmarks, (90.0, 99.99)
    )
    assert set(moves) == {90.0, 99.99} and moves[90.0] != moves[99.99]
    reference = model.landmarks(OnnxPredictor(source).predict(held))[..., :2]
    kept = model.landmarks(OnnxPredictor(out).predict(held))[..., :2]
    move = float(np.linalg.norm(kept - reference, axis=-1).mean())
    assert move == pytest.approx(min(moves.values()), rel=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "net_int8.onnx"]
