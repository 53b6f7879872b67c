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


def test_blendshapes_match_numpy_and_carry_gradients(real_model) -> None:
    decoder = Decoder(real_model).double()
    rng = np.random.default_rng(2)
    params = real_model.layout.mean + rng.normal(size=(3, 62)) * real_model.layout.std * 0.5
    weights = rng.uniform(0, 1, (3, len(real_model.blendshape_names)))
    vertices = decoder(torch.from_numpy(params), torch.from_numpy(weights))
    np.testing.assert_allclose(
        vertices.numpy(), real_model.decode(params, weights), rtol=1e-10, atol=1e-9
    )
    landmarks = decoder.landmarks(torch.from_numpy(params), torch.from_numpy(weights))
    np.testing.assert_allclose(
        landmarks.numpy(), real_model.landmarks(params, weights), rtol=1e-10, atol=1e-9
    )
    # a blink moves the eyelids of the decoded mesh, and the gradient reaches the coefficients
    blend = torch.from_numpy(weights).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda w: decoder.landmarks(torch.from_numpy(params), w), (blend,)
    )
    still = decoder.landmarks(torch.from_numpy(params))
    assert not torch.allclose(landmarks, still)
    with pytest.raises(ValueError, match="blendshapes must be"):
        decoder.landmarks(torch.from_numpy(params), torch.zeros(3, 2, dtype=torch.float64))


def test_a_model_without_blendshapes_ignores_them(tiny_model, random_params) -> None:
    decoder = Decoder(tiny_model).double()
    params = torch.from_numpy(random_params)
    torch.testing.assert_close(
        decoder(params, torch.zeros(4, 0, dtype=torch.float64)), decoder(params)
    )
