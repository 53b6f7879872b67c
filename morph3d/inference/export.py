"""Exporting the regressor to ONNX (torch).

The exported graph takes ``(B, 3, S, S)`` float32 input normalised as
:func:`morph3d.io.image.crops_to_input` does and returns ``(B, 62)`` **raw** parameters: the
network's output statistics are folded in, so ONNX Runtime needs nothing but the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from morph3d.files import atomic_path
from morph3d.inference.network import Regressor

__all__ = ["export_onnx"]

INPUT_NAME = "crops"
OUTPUT_NAME = "params"


class _RawOutput(nn.Module):
    def __init__(self, network: Regressor) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.denormalize(self.network(images))


def export_onnx(
    network: Regressor, path: str | os.PathLike[str], input_size: int = 120, opset: int = 17
) -> Path:
    """Write ``network`` (in eval mode, raw-parameter output) as an ONNX file, atomically.

    Args:
        network: The trained regressor.
        path: Output ``.onnx`` file.
        input_size: Side of the input crops in pixels.
        opset: ONNX opset version.

    Returns:
        The path written.
    """
    wrapped = _RawOutput(network).eval()
    example = torch.zeros(1, 3, input_size, input_size)
    with atomic_path(path) as temporary, torch.no_grad():
        torch.onnx.export(
            wrapped,
            (example,),
            str(temporary),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return Path(path)
