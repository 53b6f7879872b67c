"""The regressor's output whitening."""

from __future__ import annotations

import numpy as np
import torch

from morph3d.inference.network import Regressor


def test_rewhiten_keeps_the_predictions() -> None:
    torch.manual_seed(0)
    network = Regressor(0.5).eval()
    torch.nn.init.normal_(network.backbone.fc.weight, std=0.01)
    torch.nn.init.normal_(network.backbone.fc.bias)
    rng = np.random.default_rng(0)
    network.set_statistics(rng.normal(size=62), rng.uniform(0.5, 2, 62))
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        before = network.denormalize(network(images))
        mean, std = rng.normal(size=62), rng.uniform(0.1, 5, 62)
        network.rewhiten(mean, std)
        after = network.denormalize(network(images))
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(network.param_std.numpy(), std, rtol=1e-6)
