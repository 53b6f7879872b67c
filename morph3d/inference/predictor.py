"""What every regressor runtime offers, and running one on boxes of images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from morph3d.core.crop import CROP_SIZE, turn_params
from morph3d.io.image import crop_image

__all__ = ["Predictor", "predict_boxes"]


class Predictor(Protocol):
    """Anything that maps face crops to raw 3DMM parameters: :class:`OnnxPredictor` (ONNX
    Runtime, no torch) and :class:`TorchPredictor`."""

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64)."""
        ...


def predict_boxes(
    predictor: Predictor,
    images: Sequence[np.ndarray],
    boxes: np.ndarray,
    size: int = CROP_SIZE,
    angles: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each box out of its image and run the network on all of them in one batch.

    Args:
        predictor: The network.
        images: ``K`` images (the same one repeated for several faces of one picture).
        boxes: ``(K, 4)`` crop boxes in image pixels.
        size: Side of the network input.
        angles: ``(K,)`` degrees to turn each crop (counterclockwise, as seen,
            :func:`~morph3d.io.image.crop_image`), or None.

    Returns:
        Raw parameters ``(K, 62)`` in each box's unturned crop frame
        (:func:`~morph3d.core.crop.turn_params` undoes the turns) and the ``(K, size, size, 3)``
        crops the network saw.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    turns = np.zeros(len(boxes)) if angles is None else np.asarray(angles, dtype=np.float64)
    crops = np.stack([
        crop_image(image, box, size, angle=turn)
        for image, box, turn in zip(images, boxes, turns, strict=True)
    ])  # fmt: skip
    params = predictor.predict(crops)
    if angles is not None:
        params = turn_params(params, boxes, turns)
    return params, crops
