"""The torch side of the LiteRT export: batch norms folded, ReLU outputs' clip levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from morph3d.inference.litert_export import clip_levels, folded_convolutions, relu_levels
from morph3d.inference.network import Regressor
from morph3d.io.image import crops_to_input


@pytest.fixture(scope="module")
def network() -> Regressor:
    torch.manual_seed(0)
    made = Regressor(0.5)
    with torch.no_grad():  # batch norms with statistics of their own
        for module in made.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return made.eval()


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (6, 120, 120, 3), dtype=np.uint8)


def test_every_convolution_is_folded_with_its_batch_norm(network: Regressor, crops) -> None:
    folded = folded_convolutions(network)
    backbone = network.backbone
    # conv1, 3 stages of (1 + 2 branch-1 + 3 branch-2 convolutions per first block, 3 after), conv5
    blocks = [len(getattr(backbone, stage)) for stage in ("stage2", "stage3", "stage4")]
    assert len(folded) == 2 + sum(5 + 3 * (count - 1) for count in blocks)
    x = torch.from_numpy(crops_to_input(crops))
    weights, bias, relu = folded["conv1.0"]
    assert relu and weights.shape == (backbone.conv1[0].out_channels, 3, 3, 3)
    with torch.no_grad():
        expected = backbone.conv1(x)
        got = F.relu(F.conv2d(x.double(), torch.from_numpy(weights), torch.from_numpy(bias),
                              stride=2, padding=1))  # fmt: skip
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)
    assert not folded["stage2.0.branch1.0"][2]  # the depthwise convolutions have no ReLU
    assert not folded["stage2.1.branch2.3"][2]
    assert folded["stage2.1.branch2.5"][2]


def test_clip_levels_are_the_percentiles_of_the_relu_outputs(network, crops) -> None:
    levels = clip_levels(network, crops, 99.0)
    relus = {name for name, (_, _, relu) in folded_convolutions(network).items() if relu}
    assert set(levels) == relus
    with torch.no_grad():
        first = network.backbone.conv1(torch.from_numpy(crops_to_input(crops)))
    assert levels["conv1.0"] == pytest.approx(float(np.percentile(first.numpy(), 99.0)), rel=1e-6)
    assert all(level > 0 for level in levels.values())


def test_relu_levels_follow_a_sequential_network() -> None:
    from morph3d.inference.eye_network import eye_network

    torch.manual_seed(0)
    network = eye_network().eval()
    inputs = np.random.default_rng(2).standard_normal((8, 1, 32, 32)).astype(np.float32)
    levels = relu_levels(network, inputs, 99.0)
    assert len(levels) == sum(isinstance(m, torch.nn.ReLU) for m in network) == 5
    with torch.no_grad():
        first = network[:3](torch.from_numpy(inputs)).numpy()  # conv, batch norm, ReLU
    assert levels[0] == pytest.approx(float(np.percentile(first, 99.0)), rel=1e-6)
