"""Running the exported regressor with ONNX Runtime: numpy in, numpy out, no torch."""

from __future__ import annotations

import os

import numpy as np

from morph3d.inference.session import create_session
from morph3d.io.image import crops_to_input

__all__ = ["OnnxPredictor"]

_CREATE = "morph3d export (or use the shipped assets/models/*.onnx)"


class OnnxPredictor:
    """Predicts raw 3DMM parameters from face crops with ONNX Runtime.

    Args:
        path: An ``.onnx`` file written by :func:`morph3d.inference.export.export_onnx`.
        threads: Intra-op threads (default: the physical cores).
        spin: Let idle worker threads spin for the next run (lower latency, busier cores).
    """

    def __init__(
        self, path: str | os.PathLike[str], threads: int | None = None, spin: bool = True
    ) -> None:
        self.session = create_session(path, _CREATE, threads, spin)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[2])

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        (params,) = self.session.run(None, {self.input_name: crops_to_input(crops)})
        return params.astype(np.float64)
