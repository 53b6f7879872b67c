"""The parameters of a face's mirror image: exact on a model closed under mirroring, within a
pixel on the real one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from morph3d.core.landmarks68 import MIRROR
from morph3d.core.mirror import ParamMirror, vertex_mirror
from morph3d.core.model import MorphableModel

from ..conftest import make_tiny_model

FLIP = np.array([-1.0, 1.0, 1.0])


def _mirrored_points(points: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Crop-frame points of the crop flipped left to right (``x -> 121 - x``, rows swapped)."""
    return points[..., perm, :] * FLIP + [121.0, 0.0, 0.0]


def _symmetric_model() -> MorphableModel:
    """The tiny model made mirror-symmetric: its grid already is (x about 0); the landmarks
    and every basis column are symmetrised, half the columns even and half odd."""
    model = make_tiny_model()
    perm = vertex_mirror(model)

    def reflect(field: np.ndarray) -> np.ndarray:  # (N, 3, ...) -> its mirror image
        return np.einsum("i,ni...->ni...", FLIP, field[perm])

    mean = model.mean.astype(np.float64)
    mean = (mean + reflect(mean)) / 2
    bases = []
    for basis in (model.shape_basis, model.expression_basis):
        basis = basis.astype(np.float64)
        even, odd = (basis + reflect(basis)) / 2, (basis - reflect(basis)) / 2
        half = basis.shape[2] // 2
        bases.append(np.concatenate([even[..., :half], odd[..., half:]], axis=2))
    return dataclasses.replace(
        model,
        mean=mean.astype(np.float32),
        shape_basis=bases[0].astype(np.float32),
        expression_basis=bases[1].astype(np.float32),
    )


@pytest.mark.unit
def test_vertex_mirror_is_an_involution_that_reverses_the_grid(tiny_model) -> None:
    perm = vertex_mirror(tiny_model)
    np.testing.assert_array_equal(perm[perm], np.arange(tiny_model.n_vertices))
    np.testing.assert_array_equal(perm[tiny_model.grid], tiny_model.grid[:, ::-1])
    np.testing.assert_array_equal(
        perm[tiny_model.landmark_indices], tiny_model.landmark_indices[MIRROR]
    )
    no_grid = dataclasses.replace(tiny_model, grid=np.zeros((0, 0), dtype=np.int64))
    with pytest.raises(ValueError, match="no vertex grid"):
        vertex_mirror(no_grid)


@pytest.mark.unit
def test_mirror_is_exact_on_a_symmetric_model() -> None:
    model = _symmetric_model()
    mirror = ParamMirror(model)
    assert mirror.residual < 1e-5  # float32 bases
    rng = np.random.default_rng(3)
    params = model.layout.denormalize(rng.standard_normal((4, 62)))
    mirrored = mirror(params)
    expected = _mirrored_points(model.decode(params), vertex_mirror(model))
    scale = np.ptp(expected[..., 0])
    np.testing.assert_allclose(model.decode(mirrored), expected, atol=1e-6 * scale)
    pose, coefficients = model.layout.pose, model.layout.coefficients
    np.testing.assert_allclose(mirror(mirrored)[:, pose], params[:, pose], rtol=1e-12)
    # Even columns keep their coefficient, odd ones change its sign (coefficients ~1 here;
    # float32 bases and the ridge leave 1e-5).
    signs = np.r_[np.ones(20), -np.ones(20), np.ones(5), -np.ones(5)]
    np.testing.assert_allclose(
        mirrored[:, coefficients], params[:, coefficients] * signs, atol=1e-4
    )
    np.testing.assert_allclose(
        mirror(mirrored)[:, coefficients], params[:, coefficients], atol=1e-4
    )


def test_mirror_of_the_real_model_moves_landmarks_to_their_mirror(
    real_model: MorphableModel,
) -> None:
    mirror = ParamMirror(real_model)
    assert mirror.residual < 0.15  # the bases are close to closed under mirroring
    rng = np.random.default_rng(0)
    params = real_model.layout.denormalize(rng.standard_normal((20, 62)) * 0.7)
    mirrored = mirror(params)
    expected = real_model.landmarks(params)[:, MIRROR] * FLIP + [121.0, 0.0, 0.0]
    error = np.linalg.norm(real_model.landmarks(mirrored) - expected, axis=-1)
    assert error.max() < 1.0, error.max()  # pixels of the 120 crop
    surface = slice(0, real_model.n_surface)
    moved = _mirrored_points(real_model.decode(params), vertex_mirror(real_model))[:, surface]
    assert np.median(np.abs(real_model.decode(mirrored)[:, surface] - moved)) < 0.2
    twice = real_model.landmarks(mirror(mirrored))
    assert np.abs(twice - real_model.landmarks(params)).max() < 1.0


@pytest.mark.unit
def test_the_affine_map_is_the_map_term_by_term(tiny_model) -> None:
    mirror = ParamMirror(tiny_model)
    params = np.random.default_rng(3).normal(size=(4, tiny_model.layout.size))
    np.testing.assert_allclose(mirror(params), mirror._mirror(params), atol=1e-10)
    with pytest.raises(ValueError, match="parameters"):
        mirror(params[:, :10])
