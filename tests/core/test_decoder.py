from __future__ import annotations

import numpy as np
import pytest
import torch

from morph3d.core.decoder import Decoder

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_numpy_decoder(tiny_model, random_params, device, dtype) -> None:
    decoder = Decoder(tiny_model).to(device=device, dtype=dtype)
    params = torch.from_numpy(random_params).to(device=device, dtype=dtype)
    vertices = decoder(params)
    landmarks = decoder.landmarks(params)
    assert vertices.shape == (4, tiny_model.n_vertices, 3) and vertices.dtype == dtype
    assert vertices.device.type == device
    expected = tiny_model.decode(random_params)
    tolerance = (
        {"rtol": 1e-10, "atol": 1e-9} if dtype == torch.float64 else {"rtol": 0, "atol": 1e-3}
    )
    np.testing.assert_allclose(vertices.cpu().numpy(), expected, **tolerance)
    # The same rows, decoded by a smaller matrix product: equal up to rounding.
    rows = vertices[:, decoder.landmark_indices]
    exact = {"rtol": 0, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 0, "atol": 1e-4}
    torch.testing.assert_close(landmarks, rows, **exact)


def test_gradcheck_float64(tiny_model) -> None:
    decoder = Decoder(tiny_model).double()
    whitened = torch.randn(2, 62, dtype=torch.float64, requires_grad=True)
    # Whitened inputs keep the Jacobian's columns at comparable scales for finite differences.
    assert torch.autograd.gradcheck(
        lambda z: decoder(tiny_model.layout.denormalize(z)), (whitened,)
    )
    assert torch.autograd.gradcheck(
        lambda z: decoder.landmarks(tiny_model.layout.denormalize(z)), (whitened,)
    )


def test_image_frame(tiny_model, random_params) -> None:
    decoder = Decoder(tiny_model).double()
    params = torch.from_numpy(random_params)
    boxes = torch.tensor([[0.0, 0.0, 120.0, 120.0]]).double().expand(4, 4)
    image = decoder.to_image(decoder.landmarks(params), boxes)
    crop = decoder.landmarks(params)
    torch.testing.assert_close(image[..., 0], crop[..., 0] - 1)
    torch.testing.assert_close(image[..., 1], 120 - crop[..., 1])


def test_rejects_bad_shapes(tiny_model) -> None:
    with pytest.raises(ValueError, match=r"\(B, 62\)"):
        Decoder(tiny_model)(torch.zeros(62))
