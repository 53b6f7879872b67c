from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from morph3d.inference.export import export_onnx
from morph3d.inference.network import Regressor
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.inference.session import physical_cores
from morph3d.inference.torch_predictor import TorchPredictor


def _random_network(model) -> Regressor:
    torch.manual_seed(0)
    network = Regressor(0.5)
    torch.nn.init.normal_(network.backbone.fc.weight, std=0.05)
    network.set_statistics(model.layout.mean, model.layout.std)
    return network.eval()


def test_onnx_matches_torch(real_model, tmp_path: Path) -> None:
    network = _random_network(real_model)
    path = export_onnx(network, tmp_path / "net.onnx")
    crops = np.random.default_rng(1).integers(0, 256, (5, 120, 120, 3), dtype=np.uint8)
    reference = TorchPredictor(network, real_model).predict(crops)
    exported = OnnxPredictor(path, threads=2).predict(crops)
    assert exported.shape == (5, 62)
    difference = np.abs(real_model.landmarks(reference) - real_model.landmarks(exported)).max()
    assert difference < 1e-3
    assert np.abs(reference - real_model.layout.mean).max() > 0  # not a constant network


def test_graph_computes_no_shapes(real_model, tmp_path: Path) -> None:
    import onnx
    from torchvision.models import shufflenetv2

    forward = shufflenetv2.InvertedResidual.forward
    path = export_onnx(_random_network(real_model), tmp_path / "net.onnx")
    operators = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert not operators & {"Shape", "Unsqueeze", "Div", "Mul", "Add", "Transpose"}, operators
    gathers = [node for node in onnx.load(str(path)).graph.node if node.op_type == "Gather"]
    constants = {tensor.name for tensor in onnx.load(str(path)).graph.initializer}
    assert gathers and all(node.input[1] in constants for node in gathers)  # the shuffles
    assert shufflenetv2.InvertedResidual.forward is forward  # torchvision is left as it was
    inputs = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert inputs[0].dim_param == "batch"  # the batch stays free


def test_runtime_needs_no_torch(real_model, tmp_path: Path) -> None:
    path = export_onnx(_random_network(real_model), tmp_path / "net.onnx")
    code = (
        "import sys, json, numpy as np;"
        "from morph3d.inference.onnx_predictor import OnnxPredictor;"
        f"p = OnnxPredictor({str(path)!r}).predict(np.zeros((1, 120, 120, 3), np.uint8));"
        "print(json.dumps(['torch' in sys.modules, p.shape[1]]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout) == [False, 62]
    assert physical_cores() >= 1
