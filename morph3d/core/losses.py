"""Landmark losses (torch).

Both losses take landmark coordinates in crop pixels, sum the per-coordinate loss over every
coordinate of a face, and then reduce over the batch.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

__all__ = ["L2Loss", "WingLoss", "l2_loss", "wing_loss"]

Reduction = Literal["mean", "sum", "none"]


def _reduce(per_face: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return per_face.mean()
    if reduction == "sum":
        return per_face.sum()
    if reduction == "none":
        return per_face
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if pred.ndim < 2:
        raise ValueError(f"expected a batch (B, ...), got {tuple(pred.shape)}")


def wing_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    width: float = 10.0,
    curvature: float = 2.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Wing loss (Feng et al., CVPR 2018) on landmark coordinates.

    For each coordinate difference ``x = pred - target`` (crop pixels), with ``w = width`` and
    ``eps = curvature``::

        wing(x) = w * ln(1 + |x| / eps)    if |x| < w
                = |x| - C                   otherwise,   C = w - w * ln(1 + w / eps)

    ``C`` makes the two branches meet at ``|x| = w``. The loss of a face is the sum over all of
    its coordinates.

    Args:
        pred: ``(B, 68, 2|3)`` predicted landmarks (any ``(B, ...)`` shape).
        target: Same shape as ``pred``.
        width: ``w``, the half-width of the logarithmic part, in pixels.
        curvature: ``eps``, the curvature of the logarithmic part.
        reduction: ``"mean"`` over faces, ``"sum"``, or ``"none"`` for ``(B,)``.

    Returns:
        The reduced loss (a scalar), or ``(B,)`` per-face losses with ``reduction="none"``.
    """
    _check(pred, target)
    if width <= 0 or curvature <= 0:
        raise ValueError("width and curvature must be positive")
    distance = (pred - target).abs()
    joint = width - width * math.log1p(width / curvature)
    loss = torch.where(
        distance < width, width * torch.log1p(distance / curvature), distance - joint
    )
    return _reduce(loss.flatten(1).sum(dim=1), reduction)


def l2_loss(
    pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Plain L2 landmark loss, ``0.5 * x**2`` summed over the coordinates of a face.

    Args:
        pred: ``(B, 68, 2|3)`` predicted landmarks (any ``(B, ...)`` shape).
        target: Same shape as ``pred``.
        reduction: ``"mean"`` over faces, ``"sum"``, or ``"none"`` for ``(B,)``.
    """
    _check(pred, target)
    return _reduce(0.5 * (pred - target).square().flatten(1).sum(dim=1), reduction)


class WingLoss(nn.Module):
    """Module form of :func:`wing_loss`."""

    def __init__(
        self, width: float = 10.0, curvature: float = 2.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        self.width = width
        self.curvature = curvature
        self.reduction: Reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """See :func:`wing_loss`."""
        return wing_loss(pred, target, self.width, self.curvature, self.reduction)


class L2Loss(nn.Module):
    """Module form of :func:`l2_loss`."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction: Reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """See :func:`l2_loss`."""
        return l2_loss(pred, target, self.reduction)
