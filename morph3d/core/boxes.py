"""Axis-aligned boxes ``x0, y0, x1, y1`` in pixels: areas and overlaps."""

from __future__ import annotations

import numpy as np

__all__ = ["box_area", "box_coverage", "box_iou", "is_nested"]


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(..., 4)`` boxes; an inverted box has area 0."""
    boxes = np.asarray(boxes, dtype=np.float64)
    width = np.clip(boxes[..., 2] - boxes[..., 0], 0, None)
    return width * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def _intersection(box: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    box = np.asarray(box, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    return width * height, boxes


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` box with ``(N, 4)`` boxes.

    Returns:
        ``(N,)`` overlaps in [0, 1] (0 for boxes that do not meet).
    """
    overlap, boxes = _intersection(box, boxes)
    union = box_area(box) + box_area(boxes) - overlap
    return overlap / np.maximum(union, 1e-12)


def box_coverage(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The share of one ``(4,)`` box's area that lies inside each of ``(N, 4)`` boxes.

    Returns:
        ``(N,)`` shares in [0, 1] (1: ``box`` lies wholly inside; 0 for an empty ``box``).
    """
    overlap, _ = _intersection(box, boxes)
    return overlap / np.maximum(box_area(box), 1e-12)


def is_nested(
    inner: np.ndarray, outer: np.ndarray, max_area: float = 0.6, min_coverage: float = 0.8
) -> bool:
    """Whether ``inner`` sits inside ``outer`` as a smaller box: at least ``min_coverage`` of it
    inside, at under ``max_area`` of ``outer``'s area (a track shrunk into a face, or a detection
    of a part of a face)."""
    area = float(box_area(inner))
    if area >= max_area * float(box_area(outer)):
        return False
    return float(box_coverage(inner, np.asarray(outer)[None])[0]) >= min_coverage
