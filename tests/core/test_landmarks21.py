from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.core.crop import crop_to_image
from morph3d.core.landmarks21 import (
    AFLW21_FROM_68,
    FITTED_21,
    MIRROR_21,
    sparse_nme,
    to_aflw21,
)
from morph3d.io.aflw21 import read_aflw21


@pytest.mark.unit
def test_weights_and_mirror() -> None:
    assert AFLW21_FROM_68.shape == (21, 68)
    np.testing.assert_allclose(AFLW21_FROM_68.sum(axis=1), FITTED_21.astype(float))
    assert not FITTED_21[12] and not FITTED_21[16] and FITTED_21.sum() == 19
    np.testing.assert_array_equal(MIRROR_21[MIRROR_21], np.arange(21))


@pytest.mark.unit
def test_to_aflw21_numpy_and_torch() -> None:
    landmarks = np.random.default_rng(0).normal(size=(3, 68, 2))
    points = to_aflw21(landmarks)
    assert np.all(np.isnan(points[:, [12, 16]])) and np.all(np.isfinite(points[:, FITTED_21]))
    np.testing.assert_allclose(points[:, 20], landmarks[:, 8])
    np.testing.assert_allclose(points[:, 7], landmarks[:, [37, 38, 40, 41]].mean(axis=1))
    tensor = torch.tensor(landmarks, requires_grad=True)
    out = to_aflw21(tensor)
    torch.testing.assert_close(out[:, FITTED_21], torch.tensor(points[:, FITTED_21]))
    assert torch.all(out[:, [12, 16]] == 0)
    out.sum().backward()
    assert tensor.grad is not None


@pytest.mark.unit
def test_sparse_nme_known_values() -> None:
    target = np.zeros((1, 21, 2))
    pred = target.copy()
    pred[0, 0] = [3.0, 4.0]  # 5 px off
    visible = np.zeros((1, 21), bool)
    visible[0, :2] = True
    np.testing.assert_allclose(sparse_nme(pred, target, visible, np.array([10.0])), [25.0])
    pred[0, 5] = 1e6  # not visible: ignored
    np.testing.assert_allclose(sparse_nme(pred, target, visible, np.array([10.0])), [25.0])


def _similarity_residual(source: np.ndarray, target: np.ndarray) -> float:
    """RMS residual after the best 2D similarity of ``source`` onto ``target`` (n, 2)."""
    a = source - source.mean(axis=0)
    b = target - target.mean(axis=0)
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = (s * [1.0, d]).sum() / (a**2).sum()
    return float(np.sqrt(((scale * a @ rotation - b) ** 2).sum(axis=1).mean()))


@pytest.mark.integration
def test_order_and_sides_agree_with_aflw(shared_data: Path, real_model) -> None:
    faces = read_aflw21(shared_data / "aflw21")
    frontal = (np.abs(faces.yaw_degrees) < 10) & faces.visible.all(axis=1)
    assert frontal.sum() > 1000
    annotated = faces.points[frontal].mean(axis=0)[FITTED_21].astype(np.float64)  # (19, 2)
    # The mean face, frontal, in crop pixels (y down), as the AFLW points are.
    # A frontal pose (identity rotation) at the statistics' scale and translation; the mean
    # pose matrix itself is narrower (an average of turned heads).
    params = real_model.layout.mean.copy()[None]
    pose = params[0, :12].reshape(3, 4)
    scale = np.linalg.norm(pose[1, :3])
    params[0, :12] = np.concatenate([scale * np.eye(3), pose[:, 3:]], axis=1).reshape(12)
    mean_face = crop_to_image(real_model.landmarks(params)[..., :2], np.array([0, 0, 120, 120.0]))
    mapped = to_aflw21(mean_face)[0][FITTED_21]
    residual = _similarity_residual(mapped, annotated)
    swapped = to_aflw21(mean_face)[0][MIRROR_21][FITTED_21]
    # A mirror (x -> -x) keeps a symmetric face symmetric: swap the labels without mirroring.
    wrong = _similarity_residual(swapped, annotated)
    assert residual < 2.5, residual
    assert wrong > 3 * residual, (residual, wrong)
