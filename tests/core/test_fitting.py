from __future__ import annotations

import numpy as np
import pytest
import torch

from morph3d.core.fitting import FitConfig, LandmarkFitter, _rodrigues
from morph3d.core.pose import angles_to_rotation, compose_pose, decompose_pose


def synthetic_faces(model, count: int, seed: int = 0, max_yaw: float = 70.0):
    """Parameters drawn from the model's statistics under random poses, and their landmarks."""
    rng = np.random.default_rng(seed)
    layout = model.layout
    params = np.tile(layout.mean, (count, 1))
    z = np.clip(rng.normal(size=(count, 50)), -2.5, 2.5)
    params[:, 12:] = layout.mean[12:] + layout.std[12:] * z
    base = decompose_pose(layout.mean[:12])
    angles = np.stack(
        [
            rng.uniform(-max_yaw, max_yaw, count),
            rng.uniform(-20, 20, count),
            rng.uniform(-20, 20, count),
        ],
        axis=1,
    )
    shift = np.c_[rng.normal(0, 3, (count, 2)), np.zeros(count)]
    params[:, :12] = compose_pose(
        base.scale * rng.uniform(0.9, 1.1, count),
        angles_to_rotation(angles) @ base.rotation,
        base.translation + shift,
    ).reshape(count, 12)
    return params, model.landmarks(params)


@pytest.mark.parametrize(("noise", "tolerance"), [(0.0, 0.5), (0.5, 0.5)])
def test_recovers_synthetic_faces(real_model, noise: float, tolerance: float) -> None:
    params, truth = synthetic_faces(real_model, 48)
    rng = np.random.default_rng(1)
    observed = truth[..., :2] + rng.normal(0, noise, truth[..., :2].shape)
    result = LandmarkFitter(real_model).fit(observed, silhouette_jaw=np.zeros(48, dtype=bool))
    error = np.linalg.norm(result.model_landmarks[..., :2] - truth[..., :2], axis=-1).mean(axis=1)
    assert error.max() < tolerance, error.max()
    assert result.within_3std.all()
    # Fixed landmarks: the fitted (marched) landmarks are the model's landmarks.
    np.testing.assert_allclose(result.landmarks, result.model_landmarks, atol=1e-4)
    yaw_error = (
        decompose_pose(result.params[:, :12]).angles[:, 0]
        - decompose_pose(params[:, :12]).angles[:, 0]
    )
    assert np.abs(yaw_error).max() < 3.0


def test_robust_to_a_few_wild_points(real_model) -> None:
    _, truth = synthetic_faces(real_model, 16, seed=3, max_yaw=30)
    observed = truth[..., :2].copy()
    observed[:, [5, 30, 60]] += 25.0  # three landmarks 25 px off
    fit = LandmarkFitter(real_model).fit(observed, silhouette_jaw=np.zeros(16, dtype=bool))
    clean = np.delete(np.arange(68), [5, 30, 60])
    error = np.linalg.norm(fit.model_landmarks[:, clean, :2] - truth[:, clean, :2], axis=-1)
    assert error.mean() < 1.0


def _jaw_depth(model, params: np.ndarray) -> np.ndarray:
    """``(B, 17)`` depths of the jaw landmark vertices in the model's own frame."""
    frontal = params.copy()
    frontal[:, :12] = np.c_[np.eye(3), np.zeros(3)].reshape(12)
    return model.landmarks(frontal)[:, :17, 2]


def test_the_jaw_depth_prior_pulls_the_unseen_depth_to_the_mean(real_model) -> None:
    params, truth = synthetic_faces(real_model, 24, seed=5, max_yaw=5)
    mean = _jaw_depth(real_model, real_model.layout.mean[None])
    spread, error = [], []
    for weight in (0.0, 10.0):
        config = FitConfig(jaw_depth_prior=weight)
        fit = LandmarkFitter(real_model, config).fit(
            truth[..., :2], silhouette_jaw=np.zeros(24, dtype=bool)
        )
        spread.append(np.abs(_jaw_depth(real_model, fit.params) - mean).mean())
        error.append(float(fit.error.mean()))
    truth_spread = np.abs(_jaw_depth(real_model, params) - mean).mean()
    # Frontal 2D points leave the jaw's depth free: the prior takes it most of the way home
    # at little cost in the 2D fit.
    assert spread[1] < 0.5 * min(spread[0], truth_spread), (spread, truth_spread)
    assert error[1] < error[0] + 0.5, error


def test_coefficients_respect_the_bound(tiny_model) -> None:
    rng = np.random.default_rng(0)
    targets = rng.uniform(20, 100, size=(6, 68, 2))  # noise: nothing a face explains
    result = LandmarkFitter(tiny_model, FitConfig(marching=False)).fit(targets)
    z = tiny_model.layout.normalize(result.params)[:, 12:]
    assert np.abs(z).max() <= 3.0 + 1e-9 and result.within_3std.all()


def test_analytic_jacobian_matches_autograd(tiny_model) -> None:
    fitter = LandmarkFitter(tiny_model, FitConfig(marching=False))
    torch.manual_seed(0)
    rotation = _rodrigues(torch.tensor([[0.3, -0.5, 0.2]], dtype=torch.float64))
    scale = torch.tensor([2e-4], dtype=torch.float64)
    shift = torch.tensor([[60.0, 55.0]], dtype=torch.float64)
    z = torch.randn(1, 50, dtype=torch.float64)
    target = torch.zeros(1, 68, 2, dtype=torch.float64)
    mean, basis = fitter._assemble(1, None)

    def residuals(theta: torch.Tensor) -> torch.Tensor:
        turned = rotation @ _rodrigues(theta[None, :3] + 1e-30)
        return fitter._residuals(
            turned,
            scale * torch.exp(theta[3]),
            shift + theta[4:6],
            z + theta[6:],
            mean,
            basis,
            target,
        )[1][0]

    numeric = torch.autograd.functional.jacobian(residuals, torch.zeros(56, dtype=torch.float64))
    points, _ = fitter._residuals(rotation, scale, shift, z, mean, basis, target)
    analytic = fitter._jacobian(rotation, scale, points, basis)[0]
    torch.testing.assert_close(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_rejects_bad_targets(tiny_model) -> None:
    fitter = LandmarkFitter(tiny_model, FitConfig(marching=False))
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        fitter.fit(np.zeros((2, 67, 2)))
    bad = np.full((1, 68, 2), 50.0)
    bad[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitter.fit(bad)
