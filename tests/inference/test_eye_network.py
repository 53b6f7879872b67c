from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.inference.eye_network import export_eye_network, eye_network, load_eye_network
from morph3d.inference.eyes import EYE_SIZE


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_onnx_export_matches_torch(tmp_path: Path, width: float) -> None:
    import onnxruntime

    torch.manual_seed(0)
    network = eye_network(width=width).eval()
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


def test_width_scales_the_channels_and_load_reads_it_back(tmp_path: Path) -> None:
    half = eye_network(10, width=0.5)
    convolutions = [m.out_channels for m in half.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions == [8, 16, 32, 48]
    torch.save(half.state_dict(), tmp_path / "brows.pt")
    loaded = load_eye_network(tmp_path / "brows.pt")
    assert [m.out_channels for m in loaded.modules() if isinstance(m, torch.nn.Conv2d)] == [
        8,
        16,
        32,
        48,
    ]
    assert (
        sum(p.numel() for p in loaded.parameters())
        < sum(p.numel() for p in eye_network(10).parameters()) / 3
    )
