"""Exporting the regressor to ONNX (torch).

The exported graph takes ``(B, 3, S, S)`` float32 input normalised as
:func:`morph3d.io.image.crops_to_input` does and returns ``(B, 62)`` **raw** parameters: the
network's output statistics are folded into its last layer, so ONNX Runtime needs nothing but
the file. ShuffleNetV2's channel split and shuffle are traced with their channel counts as
constants (only the batch stays free), so the graph computes no shapes at run time: torchvision's
blocks read them with ``size()``, which the tracer records as 300 ``Shape``, ``Gather``,
``Unsqueeze`` and ``Concat`` nodes run on every call. The shuffles are then written as channel
gathers (:func:`~morph3d.inference.shuffle.gather_shuffles`: the same numbers, fewer layout
changes in ONNX Runtime).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from morph3d.files import atomic_path
from morph3d.inference.network import Regressor

__all__ = ["export_onnx"]

INPUT_NAME = "crops"
OUTPUT_NAME = "params"


def _raw_output(network: Regressor) -> nn.Module:
    """A copy of the network's backbone whose last layer outputs raw parameters
    (``p = z * std + mean`` folded into its weights and bias)."""
    backbone = copy.deepcopy(network.backbone).eval()
    std, mean = network.param_std.double(), network.param_mean.double()
    with torch.no_grad():
        fc = backbone.fc
        fc.weight.copy_((fc.weight.double() * std[:, None]).to(fc.weight.dtype))
        fc.bias.copy_((fc.bias.double() * std + mean).to(fc.bias.dtype))
    return backbone


def _static_block_forward(block: Any, x: torch.Tensor) -> torch.Tensor:
    """torchvision's ``InvertedResidual.forward`` with the channel counts as Python ints."""
    if block.stride == 1:
        half = int(x.shape[1]) // 2
        out = torch.cat((x[:, :half], block.branch2(x[:, half:])), dim=1)
    else:
        out = torch.cat((block.branch1(x), block.branch2(x)), dim=1)
    channels, height, width = (int(size) for size in out.shape[1:])
    out = out.reshape(-1, 2, channels // 2, height, width).transpose(1, 2)
    return out.reshape(-1, channels, height, width)


@contextmanager
def _static_shapes() -> Iterator[None]:
    """While tracing: ShuffleNetV2 blocks with constant channel counts (see the module doc)."""
    from torchvision.models import shufflenetv2

    block = shufflenetv2.InvertedResidual
    original = block.forward
    block.forward = _static_block_forward
    try:
        with warnings.catch_warnings():  # int(size): constant by the architecture, on purpose
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            yield
    finally:
        block.forward = original


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
    import onnx

    from morph3d.inference.shuffle import gather_shuffles

    wrapped = _raw_output(network)
    example = torch.zeros(1, 3, input_size, input_size)
    with atomic_path(path) as temporary, torch.no_grad(), _static_shapes():
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
        graph = onnx.load(str(temporary))
        if gather_shuffles(graph):
            onnx.save(graph, str(temporary))
    return Path(path)
