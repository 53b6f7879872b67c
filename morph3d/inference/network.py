"""The coefficient regressor: torchvision's ShuffleNetV2 with a 62-output head.

It maps a face crop to *whitened* parameters ``z = (p - mean) / std``. The statistics are the
network's own buffers, measured on its training targets under augmentation (see
:func:`morph3d.training.trainer.target_statistics`), and travel with its weights: the 300W-LP
statistics of the model file describe differently cropped, anisotropically scaled faces, and
whitening with them leaves some outputs 40 pixels per unit and others 0.03. Input: ``(B, 3, S, S)``
float RGB scaled by :func:`to_input` (``(pixel - 127.5) / 128``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision import models

from morph3d.io.image import crops_to_input

__all__ = ["WIDTHS", "Regressor", "to_input"]

#: ShuffleNetV2 widths torchvision offers, and their constructors.
WIDTHS = {
    0.5: models.shufflenet_v2_x0_5,
    1.0: models.shufflenet_v2_x1_0,
    1.5: models.shufflenet_v2_x1_5,
    2.0: models.shufflenet_v2_x2_0,
}


class Regressor(nn.Module):
    """ShuffleNetV2 regressing whitened 3DMM parameters from a face crop.

    Args:
        width: The ShuffleNetV2 width multiplier (0.5, 1.0, 1.5 or 2.0).
        n_params: Outputs (62).

    The last layer starts at zero, so an untrained network predicts the mean parameters.
    No pretrained weights are used (none can be downloaded).
    """

    param_mean: torch.Tensor
    param_std: torch.Tensor

    def __init__(self, width: float = 1.0, n_params: int = 62) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {sorted(WIDTHS)}, got {width}")
        self.width = float(width)
        self.backbone = WIDTHS[width](weights=None, num_classes=n_params)
        nn.init.zeros_(self.backbone.fc.weight)
        nn.init.zeros_(self.backbone.fc.bias)
        self.register_buffer("param_mean", torch.zeros(n_params))
        self.register_buffer("param_std", torch.ones(n_params))

    def set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set the statistics that whiten the outputs (``(62,)`` each, raw parameter units)."""
        self.param_mean.copy_(torch.as_tensor(mean, dtype=self.param_mean.dtype))
        self.param_std.copy_(torch.as_tensor(std, dtype=self.param_std.dtype))

    @torch.no_grad()
    def rewhiten(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Switch to new output statistics without changing what the network predicts.

        The last layer is re-expressed so that ``denormalize(forward(x))`` stays the same raw
        parameters: with ``p = z * s + m`` before and ``p = z' * s' + m'`` after,
        ``z' = (z * s + m - m') / s'``, which is again linear in the features. Used to start a
        training run from trained weights on data with other statistics.

        Args:
            mean: ``(62,)`` new mean, raw parameter units.
            std: ``(62,)`` new standard deviation (positive).
        """
        new_mean = torch.as_tensor(mean, dtype=self.param_mean.dtype)
        new_std = torch.as_tensor(std, dtype=self.param_std.dtype)
        if not bool((new_std > 0).all()):
            raise ValueError("the new standard deviations must be positive")
        fc = self.backbone.fc
        ratio = (self.param_std / new_std).to(fc.weight.dtype)
        fc.weight.mul_(ratio[:, None])
        fc.bias.copy_((fc.bias * self.param_std + self.param_mean - new_mean) / new_std)
        self.set_statistics(mean, std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised crops -> ``(B, 62)`` whitened parameters."""
        return self.backbone(images)

    def denormalize(self, whitened: torch.Tensor) -> torch.Tensor:
        """``(B, 62)`` whitened outputs -> raw parameters, with the network's statistics."""
        return whitened * self.param_std.to(whitened.dtype) + self.param_mean.to(whitened.dtype)


def to_input(crops: np.ndarray) -> torch.Tensor:
    """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 3, S, S)`` float32 tensor
    (see :func:`morph3d.io.image.crops_to_input`).
    """
    return torch.from_numpy(crops_to_input(crops))
