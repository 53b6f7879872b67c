"""The detector interface: detections, the box-to-crop calibration, non-maximum suppression.

Every detector takes an RGB uint8 image of any size and returns :class:`Detection` s sorted by
score (an image without a face gives an empty list), and carries its own
:class:`CropCalibration`: where, relative to its boxes, the network's training crop lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from morph3d.core.boxes import box_area

__all__ = [
    "CropCalibration",
    "Detection",
    "FaceDetector",
    "check_image",
    "non_maximum_suppression",
]


@dataclass(frozen=True)
class Detection:
    """A detected face.

    Attributes:
        box: ``(4,)`` ``x0, y0, x1, y1`` in image pixels.
        score: Confidence in [0, 1].
        keypoints: ``(5, 2)`` eyes, nose tip, mouth corners (YuNet), else None.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None = None

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(box_area(self.box))


@dataclass(frozen=True)
class CropCalibration:
    """How a detector's boxes map to the network's square crop box.

    The crop is centred at ``(cx + dx * w, cy + dy * h)`` for a box of centre ``(cx, cy)`` and
    size ``w x h``, and its side is ``k * sqrt(w * h)``. Each backend's values are medians
    measured by ``scripts/measure_detector_crop.py`` on annotated faces.
    """

    dx: float
    dy: float
    k: float

    def crop_box(self, box: np.ndarray) -> np.ndarray:
        """The ``(4,)`` crop box for a ``(4,)`` detector box (both image pixels), comparable to
        :func:`morph3d.core.crop.crop_box_from_landmarks`."""
        x0, y0, x1, y1 = np.asarray(box, dtype=np.float64)
        width, height = x1 - x0, y1 - y0
        centre_x = (x0 + x1) / 2 + self.dx * width
        centre_y = (y0 + y1) / 2 + self.dy * height
        half = self.k * np.sqrt(max(width * height, 0.0)) / 2
        return np.array([centre_x - half, centre_y - half, centre_x + half, centre_y + half])

    def box_for_crop(self, crop_box: np.ndarray) -> np.ndarray:
        """The square box of this detector's convention that :meth:`crop_box` maps to
        ``crop_box`` (its inverse, for square boxes), so another detector's faces can be
        handed on as if this one had found them."""
        x0, y0, x1, y1 = np.asarray(crop_box, dtype=np.float64)
        side = (x1 - x0) / self.k
        centre_x = (x0 + x1) / 2 - self.dx * side
        centre_y = (y0 + y1) / 2 - self.dy * side
        half = side / 2
        return np.array([centre_x - half, centre_y - half, centre_x + half, centre_y + half])


class FaceDetector(Protocol):
    """Anything that finds faces in an RGB image and knows where its crops go."""

    calibration: CropCalibration

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first."""
        ...

    def crop_box(self, box: np.ndarray) -> np.ndarray:
        """The network's crop box for one of this detector's boxes."""
        ...


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as an array, if it is an ``(H, W, 3)`` uint8 RGB image.

    Raises:
        ValueError: any other shape or type.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return image


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first.

    Args:
        boxes: ``(N, 4)`` ``x0, y0, x1, y1``.
        scores: ``(N,)`` scores.
        iou: Boxes overlapping a kept box by more than this intersection-over-union go.
    """
    order = np.argsort(-scores)
    areas = box_area(boxes)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        union = areas[best] + areas[rest] - overlap
        order = rest[overlap <= iou * np.maximum(union, 1e-12)]
    return np.asarray(keep, dtype=np.int64)
