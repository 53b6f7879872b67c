"""Running the exported regressor with ONNX Runtime (or its LiteRT copy, a ``.tflite`` file,
through :class:`~morph3d.inference.litert.LiteRTSession`): numpy in, numpy out, no torch."""

from __future__ import annotations

import os
from functools import partial
from itertools import pairwise

import numpy as np

from morph3d.inference.session import concurrently, create_session
from morph3d.io.image import crops_to_input

__all__ = ["OnnxPredictor"]

_CREATE = "morph3d export (or use the shipped assets/models/*.onnx)"


class OnnxPredictor:
    """Predicts raw 3DMM parameters from face crops with ONNX Runtime (LiteRT for a ``.tflite``
    file).

    Args:
        path: An ``.onnx`` file written by :func:`morph3d.inference.export.export_onnx`, or a
            ``.tflite`` one by :func:`morph3d.inference.litert_export.export_litert`.
        threads: Intra-op threads (default: the physical cores).
        spin: Let idle worker threads spin for the next run (lower latency, busier cores).
        runs: Split a batch of crops into this many runs of the network at once
            (:func:`~morph3d.inference.session.concurrently`), e.g. a crop and its mirror on
            two cores with ``threads=1``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int | None = None,
        spin: bool = True,
        runs: int = 1,
    ) -> None:
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        self.session = create_session(path, _CREATE, threads, spin)
        self.runs = runs
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[2])

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        return self.run(crops_to_input(crops))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network on its ``(B, 3, S, S)`` float32 input
        (:func:`~morph3d.io.image.crops_to_input`) -> ``(B, 62)`` raw parameters (float64)."""
        if self.runs == 1 or len(batch) <= 1:  # one run
            params = self.session.run(None, {self.input_name: batch})[0]
            return np.asarray(params, dtype=np.float64)
        bounds = np.linspace(0, len(batch), min(self.runs, max(len(batch), 1)) + 1).astype(int)
        parts = [batch[start:stop] for start, stop in pairwise(bounds)]
        outputs = concurrently(
            [partial(self.session.run, None, {self.input_name: part}) for part in parts]
        )
        return np.concatenate([params for params, *_ in outputs]).astype(np.float64)
