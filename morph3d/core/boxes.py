"""Axis-aligned boxes ``x0, y0, x1, y1`` in pixels: areas and overlaps."""

from __future__ import annotations

import numpy as np

__all__ = ["box_area", "box_iou"]


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(..., 4)`` boxes; an inverted box has area 0."""
    boxes = np.asarray(boxes, dtype=np.float64)
    width = np.clip(boxes[..., 2] - boxes[..., 0], 0, None)
    return width * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` box with ``(N, 4)`` boxes.

    Returns:
        ``(N,)`` overlaps in [0, 1] (0 for boxes that do not meet).
    """
    box = np.asarray(box, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    overlap = width * height
    union = box_area(box) + box_area(boxes) - overlap
    return overlap / np.maximum(union, 1e-12)
