"""Running a trained regressor on face crops with torch.

ONNX Runtime inference, which needs no torch, arrives with the reconstruction API.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from morph3d.core.model import MorphableModel
from morph3d.errors import ModelFormatError
from morph3d.inference.network import Regressor, to_input
from morph3d.paths import weights_path

__all__ = ["TorchPredictor", "load_regressor"]

# Input channels of conv5 (the last stage's width) identify the ShuffleNetV2 width.
_WIDTH_BY_CHANNELS = {192: 0.5, 464: 1.0, 704: 1.5, 976: 2.0}


def load_regressor(path: str | os.PathLike[str] | None = None) -> Regressor:
    """Load a :class:`Regressor` from a state dict (``weights_only``); the width is read off it.

    Raises:
        ModelNotFoundError: no weights at the path (or in the default places).
        ModelFormatError: the file is not a regressor state dict.
    """
    resolved = weights_path(path)
    try:
        state = torch.load(resolved, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError, EOFError, RuntimeError, ... from torch
        reason = f"torch cannot read it ({type(error).__name__})"
        raise ModelFormatError(resolved, reason) from error
    try:
        channels = int(state["backbone.conv5.0.weight"].shape[1])
        network = Regressor(_WIDTH_BY_CHANNELS[channels], int(state["backbone.fc.bias"].numel()))
        network.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as error:
        reason = f"not a morph3d regressor state dict ({type(error).__name__})"
        raise ModelFormatError(resolved, reason) from error
    return network.eval()


class TorchPredictor:
    """Predicts raw 3DMM parameters from face crops.

    Args:
        network: A regressor, or the path of its weights (default: the shipped x1.0 model).
        model: The morphable model.
        device: Torch device.
    """

    def __init__(
        self,
        network: Regressor | str | os.PathLike[str] | None,
        model: MorphableModel,
        device: str = "cpu",
    ) -> None:
        self.network = (network if isinstance(network, Regressor) else load_regressor(network)).to(
            device
        )
        self.model = model
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        self.network.eval()
        out = []
        for start in range(0, len(crops), batch_size):
            whitened = self.network(to_input(crops[start : start + batch_size]).to(self.device))
            out.append(self.network.denormalize(whitened.double()).cpu().numpy())
        if not out:
            return np.zeros((0, self.model.layout.size))
        return np.concatenate(out)
