"""Landmark fields spread over the grid: the pieces on known values, and the real model's
grid now moving with its expression."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.model import MorphableModel
from morph3d.core.surface_fields import (
    SpreadConfig,
    grid_laplacian,
    landmark_weights,
    spread_to_surface,
)

from ..conftest import make_tiny_model


@pytest.mark.unit
def test_grid_laplacian_counts_neighbours() -> None:
    grid = np.arange(12).reshape(3, 4)
    laplacian = grid_laplacian(grid, 13)  # vertex 12 is in no grid node
    np.testing.assert_allclose(laplacian.sum(axis=1), 0.0)
    np.testing.assert_array_equal(laplacian, laplacian.T)
    assert laplacian[0, 0] == 2 and laplacian[1, 1] == 3 and laplacian[5, 5] == 4
    assert laplacian[5, 1] == laplacian[5, 4] == laplacian[5, 6] == laplacian[5, 9] == -1
    assert laplacian[5, 0] == 0 and not laplacian[12].any()


@pytest.mark.unit
def test_landmark_weights_interpolate() -> None:
    surface = make_tiny_model().mean[:30].astype(np.float64)
    points = np.stack([surface[7], (surface[7] + surface[8]) / 2])
    weights = landmark_weights(surface, points, neighbours=4)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert weights[0, 7] > 0.999  # on a vertex: that vertex
    assert weights[1, 7] == pytest.approx(weights[1, 8])  # halfway: both alike
    assert np.count_nonzero(weights[1]) == 4


@pytest.mark.unit
def test_spreading_reproduces_known_fields_and_fades_away() -> None:
    model = make_tiny_model(rows=30, columns=30)
    surface = model.mean[:900].astype(np.float64)
    near = model.grid[:4, :4].reshape(-1)  # the fields are known in one corner only
    points = surface[near]
    constant = np.broadcast_to([1.0, -2.0, 0.5], (len(near), 3))[..., None]
    spread = spread_to_surface(surface, model.grid, points, constant)
    np.testing.assert_allclose(spread[near, :, 0], constant[..., 0], atol=0.05)
    far = model.grid[-1, -1]
    # Motion fades over about sqrt(stretching / decay) = 10 grid steps: 36 away, nearly gone.
    assert np.abs(spread[far]).max() < 0.1 * np.abs(spread[near]).max()
    # Fields add: spreading is linear in them.
    both = spread_to_surface(surface, model.grid, points, np.concatenate([constant, -constant], 2))
    np.testing.assert_allclose(both[..., 1], -spread[..., 0], atol=1e-9)
    with pytest.raises(ValueError, match="every surface vertex"):
        spread_to_surface(surface, model.grid[:, :-1], points, constant)


def test_the_real_grid_moves_with_the_expression(real_model: MorphableModel) -> None:
    n = real_model.n_surface
    surface, places = real_model.mean[:n].astype(np.float64), real_model.mean[n:]
    weights = landmark_weights(surface, places.astype(np.float64), SpreadConfig().neighbours)
    rng = np.random.default_rng(1)
    params = np.repeat(real_model.layout.mean[None], 8, axis=0)
    moved = params.copy()
    moved[:, 52:] += rng.standard_normal((8, 10)) * 2 * real_model.layout.std[52:]
    before, after = real_model.decode(params), real_model.decode(moved)
    landmark_motion = (after - before)[:, n:]  # (8, 68, 3) crop pixels
    surface_motion = np.einsum("kn,fnc->fkc", weights, (after - before)[:, :n])
    outer = slice(0, 60)  # the inner lips meet on the closed grid: their mean moves
    error = np.linalg.norm(surface_motion[:, outer] - landmark_motion[:, outer], axis=-1)
    size = np.linalg.norm(landmark_motion[:, outer], axis=-1)
    assert size.max() > 2.0  # the expressions move the landmarks by pixels
    assert np.median(error) < 0.1 * np.median(size) and error.max() < 0.3 * size.max()
