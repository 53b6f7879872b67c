"""Compositing a premultiplied RGBA layer over a frame."""

from __future__ import annotations

import numpy as np

__all__ = ["composite"]


def composite(frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """``frame * (1 - alpha) + colour`` for a premultiplied RGBA ``layer``; returns a new frame.

    Only the rectangle where ``layer`` has any alpha is touched.
    """
    out = frame.copy()
    alpha = layer[..., 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return out
    columns = np.flatnonzero(alpha.any(axis=0))
    window = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    part = layer[window].astype(np.float32)
    weight = part[..., 3:] / 255.0
    blended = frame[window].astype(np.float32) * (1.0 - weight) + part[..., :3]
    out[window] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
