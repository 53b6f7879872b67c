"""The eyelid refiner's network: a small CNN and its ONNX export.

:func:`eye_network` maps ``(B, 1, EYE_SIZE, EYE_SIZE)`` grey eye crops (as
:func:`morph3d.inference.eyes.crops_to_eye_input` makes them) to ``(B, 12)``: the eye's six
landmarks in its eye frame (:mod:`morph3d.inference.eyes`), ``x0, y0, x1, y1, ...``. The shipped
``assets/models/eyes.onnx`` is this network, run by :class:`morph3d.inference.eyes.EyeRefiner`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from morph3d.files import atomic_path
from morph3d.inference.eyes import EYE_SIZE

__all__ = ["export_eye_network", "eye_network", "load_eye_network"]


#: The channels of the four convolutions and the hidden layer at width 1.
_CHANNELS = (16, 32, 64, 96, 128)


def eye_network(outputs: int = 12, width: float = 1.0) -> nn.Module:
    """A new (randomly initialised) eyelid CNN: ``(B, 1, 32, 32)`` -> ``(B, outputs)`` (12 for
    the six eye points, 10 for the five brow points).

    Args:
        outputs: Two per point.
        width: Channels of every layer over those of width 1 (16, 32, 64, 96 and 128 hidden);
            at 0.5 the network needs a quarter of the multiply-adds.
    """
    c1, c2, c3, c4, hidden = (max(1, round(c * width)) for c in _CHANNELS)

    def block(a: int, b: int) -> list[nn.Module]:
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, c1), nn.MaxPool2d(2),
        *block(c1, c2), nn.MaxPool2d(2),
        *block(c2, c3), nn.MaxPool2d(2),
        *block(c3, c4),
        nn.Flatten(),
        nn.Linear(c4 * 4 * 4, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


def load_eye_network(path: str | os.PathLike[str]) -> nn.Module:
    """The eyelid (or brow) CNN with a saved state dict, in eval mode (its width read off the
    first convolution's channels)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    width = int(state["0.weight"].shape[0]) / _CHANNELS[0]
    network = eye_network(int(state[list(state)[-1]].shape[0]), width)  # the last layer's bias
    network.load_state_dict(state)
    return network.eval()


def export_eye_network(network: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the network as ONNX (input ``eyes`` ``(batch, 1, 32, 32)``, output ``points``).

    Args:
        network: An :func:`eye_network`, put in eval mode here.
        path: The ``.onnx`` file, written atomically.

    Returns:
        ``path``.
    """
    network.eval()
    with atomic_path(Path(path)) as temporary:
        torch.onnx.export(
            network, (torch.zeros(2, 1, EYE_SIZE, EYE_SIZE),), str(temporary),
            input_names=["eyes"], output_names=["points"],
            dynamic_axes={"eyes": {0: "batch"}, "points": {0: "batch"}}, dynamo=False,
        )  # fmt: skip
    return Path(path)
