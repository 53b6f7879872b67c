from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.inference.export import export_onnx
from morph3d.inference.network import Regressor
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.io.datasets import split_indices
from morph3d.training import quantize
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


def _input_scale(path: Path) -> float:
    """The int8 scale ONNX Runtime gave the network's input (its calibrated range)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    first = next(
        n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == graph.input[0].name
    )
    return float(values[first.input[1]])


def test_strided_calibration_sees_every_crop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flat grey crops first, full-range noise only in the second stride: a calibration that
    # stopped after its first stride would give the input a range near zero.
    source = _float_regressor(tmp_path / "net.onnx", seed=1)
    crops = np.full((16, 120, 120, 3), 128, dtype=np.uint8)
    crops[12:] = np.random.default_rng(0).integers(0, 256, (4, 120, 120, 3), dtype=np.uint8)
    one_pass = _input_scale(quantize_regressor(source, tmp_path / "one.onnx", crops))
    monkeypatch.setattr(quantize, "CALIBRATION_STRIDE", 8)
    assert quantize._strides(16) == {"CalibStridedMinMax": 8}
    assert quantize._strides(18) == {"CalibStridedMinMax": 6}  # whole strides only
    assert quantize._strides(17) == {}  # a prime count: one pass
    assert quantize._strides(8) == {}  # within one stride
    strided = _input_scale(quantize_regressor(source, tmp_path / "strided.onnx", crops))
    assert one_pass > 0.003  # the noise spans the input's [-1, 1]
    assert strided == pytest.approx(one_pass, rel=0.1)


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
