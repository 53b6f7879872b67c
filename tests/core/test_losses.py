from __future__ import annotations

import math

import pytest
import torch

from morph3d.core.losses import L2Loss, WingLoss, l2_loss, wing_loss

W, EPS = 10.0, 2.0
C = W - W * math.log(1 + W / EPS)


def _single(x: float) -> float:
    pred = torch.tensor([[x]], dtype=torch.float64)
    return float(wing_loss(pred, torch.zeros_like(pred)))


@pytest.mark.parametrize("x", [0.0, 0.5, -3.0, 9.99])
def test_log_branch(x: float) -> None:
    assert _single(x) == pytest.approx(W * math.log(1 + abs(x) / EPS), rel=1e-12)


@pytest.mark.parametrize("x", [10.01, -25.0, 400.0])
def test_linear_branch(x: float) -> None:
    assert _single(x) == pytest.approx(abs(x) - C, rel=1e-12)


def test_continuous_at_the_joint() -> None:
    assert C == pytest.approx(W - W * math.log(6.0))
    below, at, above = _single(W - 1e-9), _single(W), _single(W + 1e-9)
    assert below == pytest.approx(at, abs=1e-7) and above == pytest.approx(at, abs=1e-7)
    assert at == pytest.approx(W * math.log(1 + W / EPS))


def test_sum_over_coordinates_and_reductions() -> None:
    pred = torch.tensor([[[1.0, 2.0], [12.0, 0.0]], [[0.0, 0.0], [0.0, -4.0]]], dtype=torch.float64)
    target = torch.zeros_like(pred)
    per_face = wing_loss(pred, target, reduction="none")
    expected_0 = W * math.log(1.5) + W * math.log(2.0) + (12.0 - C)
    expected_1 = W * math.log(3.0)
    torch.testing.assert_close(
        per_face, torch.tensor([expected_0, expected_1], dtype=torch.float64)
    )
    torch.testing.assert_close(wing_loss(pred, target, reduction="sum"), per_face.sum())
    torch.testing.assert_close(wing_loss(pred, target), per_face.mean())
    torch.testing.assert_close(WingLoss(reduction="none")(pred, target), per_face)
    torch.testing.assert_close(l2_loss(pred, target, "none"), torch.tensor([74.5, 8.0]).double())
    torch.testing.assert_close(L2Loss()(pred, target), torch.tensor(41.25).double())


def test_gradcheck_float64() -> None:
    torch.manual_seed(0)
    # Differences on both branches, away from the kinks at 0 and |x| = w.
    offsets = torch.tensor([0.7, -3.1, 15.0, -22.0, 4.4, 30.0], dtype=torch.float64)
    pred = offsets.reshape(1, 3, 2).repeat(2, 1, 1).requires_grad_()
    target = torch.zeros(2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, t: wing_loss(p, t), (pred, target))
    assert torch.autograd.gradcheck(lambda p, t: l2_loss(p, t), (pred, target))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="differ"):
        wing_loss(torch.zeros(2, 68, 2), torch.zeros(2, 68, 3))
    with pytest.raises(ValueError, match="reduction"):
        wing_loss(torch.zeros(2, 3), torch.zeros(2, 3), reduction="max")  # type: ignore[arg-type]
