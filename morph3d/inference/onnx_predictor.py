"""Running the exported regressor with ONNX Runtime: numpy in, numpy out, no torch (layer 2)."""

from __future__ import annotations

import os

import numpy as np

from morph3d.io.image import crops_to_input
from morph3d.paths import require_file

__all__ = ["OnnxPredictor", "physical_cores"]

_CREATE = "morph3d export (or use the shipped assets/models/*.onnx)"


def physical_cores() -> int:
    """Number of physical CPU cores (logical cores when that cannot be told)."""
    try:
        with open("/proc/cpuinfo") as stream:
            pairs = set()
            physical = core = None
            for line in stream:
                if line.startswith("physical id"):
                    physical = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                    pairs.add((physical, core))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


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
        import onnxruntime

        resolved = require_file(path, _CREATE)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or physical_cores()
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(resolved), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[2])

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        (params,) = self.session.run(None, {self.input_name: crops_to_input(crops)})
        return params.astype(np.float64)
