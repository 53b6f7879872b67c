"""Helpers that let a small function take numpy arrays or torch tensors alike.

They never import torch: a tensor can only be passed in once torch is loaded, so its module is
found through ``type(x)``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np


def is_tensor(x: Any) -> bool:
    """True if ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def like(x: Any, values: Any) -> Any:
    """Return ``values`` as the same kind of array as ``x`` (dtype and device too for tensors)."""
    if is_tensor(x):
        torch = sys.modules["torch"]
        return torch.as_tensor(np.asarray(values), dtype=x.dtype, device=x.device)
    return np.asarray(values, dtype=np.result_type(x, np.float32))


def stack(arrays: Sequence[Any], axis: int = -1) -> Any:
    """``np.stack`` or ``torch.stack``, whichever fits the first array."""
    if is_tensor(arrays[0]):
        return sys.modules["torch"].stack(list(arrays), dim=axis)
    return np.stack(arrays, axis=axis)


def amin(x: Any, axis: int) -> Any:
    """Minimum along an axis for numpy arrays and torch tensors alike."""
    return x.amin(dim=axis) if is_tensor(x) else np.min(x, axis=axis)


def amax(x: Any, axis: int) -> Any:
    """Maximum along an axis for numpy arrays and torch tensors alike."""
    return x.amax(dim=axis) if is_tensor(x) else np.max(x, axis=axis)
