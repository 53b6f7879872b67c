from __future__ import annotations

import numpy as np
import pytest
import torch

from morph3d.core.params import ParamLayout


def test_slices_cover_62_in_order() -> None:
    layout = ParamLayout()
    assert layout.size == 62
    assert (layout.pose, layout.shape, layout.expression) == (
        slice(0, 12),
        slice(12, 52),
        slice(52, 62),
    )
    assert layout.coefficients == slice(12, 62)


def test_normalize_round_trip_numpy_and_torch(tiny_model) -> None:
    layout = tiny_model.layout
    raw = layout.denormalize(np.random.default_rng(0).normal(size=(3, 62)))
    np.testing.assert_allclose(layout.denormalize(layout.normalize(raw)), raw, rtol=1e-12)
    np.testing.assert_allclose(layout.normalize(layout.mean), np.zeros(62), atol=1e-12)
    tensor = torch.from_numpy(raw)
    back = layout.denormalize(layout.normalize(tensor))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float64
    torch.testing.assert_close(back, tensor, rtol=1e-12, atol=0)


def test_pose_matrix_is_row_major() -> None:
    params = np.arange(62.0)[None]
    matrix = ParamLayout().pose_matrix(params)
    assert matrix.shape == (1, 3, 4)
    assert matrix[0, 1, 0] == 4 and matrix[0, 2, 3] == 11


def test_errors() -> None:
    with pytest.raises(ValueError, match="62 entries"):
        ParamLayout(mean=np.zeros(61), std=np.ones(62))
    with pytest.raises(ValueError, match="positive"):
        ParamLayout(mean=np.zeros(62), std=np.zeros(62))
    with pytest.raises(ValueError, match="no statistics"):
        ParamLayout().normalize(np.zeros(62))
    with pytest.raises(ValueError, match="62 parameters"):
        ParamLayout(mean=np.zeros(62), std=np.ones(62)).normalize(np.zeros(60))
