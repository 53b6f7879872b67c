"""Compositing a premultiplied RGBA layer over a frame."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["composite"]


def composite(frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """``frame * (1 - alpha) + colour`` for a premultiplied RGBA ``layer``; returns a new frame.

    Only the rectangle where ``layer`` has any alpha is touched. The arithmetic is OpenCV's on
    the uint8 pixels, each result rounded to the nearest integer and saturated at 255: the
    values of the same sum in floating point, rounded, at about half the time (the dog's
    448x288 window: 2.4 -> 1.4 ms, session 19).
    """
    out = frame.copy()
    alpha = layer[..., 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return out
    columns = np.flatnonzero(alpha.any(axis=0))
    window = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    part = layer[window]
    clear = cv2.cvtColor(np.ascontiguousarray(255 - part[..., 3]), cv2.COLOR_GRAY2RGB)
    kept = cv2.multiply(np.ascontiguousarray(frame[window]), clear, scale=1 / 255)
    out[window] = cv2.add(kept, np.ascontiguousarray(part[..., :3]))
    return out
