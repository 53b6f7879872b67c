from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from morph3d.inference.eye_network import export_eye_network, eye_network, load_eye_network
from morph3d.inference.eyes import EYE_SIZE


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    import onnxruntime

    torch.manual_seed(0)
    network = eye_network().eval()
    torch.save(network.state_dict(), tmp_path / "eyes.pt")
    loaded = load_eye_network(tmp_path / "eyes.pt")
    path = export_eye_network(loaded, tmp_path / "eyes.onnx")
    batch = np.random.default_rng(0).normal(size=(3, 1, EYE_SIZE, EYE_SIZE)).astype(np.float32)
    with torch.no_grad():
        expected = network(torch.from_numpy(batch)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (points,) = session.run(None, {"eyes": batch})
    assert points.shape == (3, 12)
    np.testing.assert_allclose(points, expected, atol=1e-4)
