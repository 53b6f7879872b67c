"""What every regressor runtime offers."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Predictor"]


class Predictor(Protocol):
    """Anything that maps face crops to raw 3DMM parameters: :class:`OnnxPredictor` (ONNX
    Runtime, no torch) and :class:`TorchPredictor`."""

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        ...
