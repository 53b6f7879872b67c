"""What every regressor runtime offers, and running one on boxes of images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from morph3d.core.crop import CROP_SIZE, jitter_boxes, params_to_crop, params_to_image, turn_params
from morph3d.io.image import crop_image

__all__ = ["ACCURATE_JITTER", "Predictor", "predict_boxes"]

#: The ``jitter`` of :func:`predict_boxes` for accuracy over speed: chosen among 0.02-0.08 on
#: held-out training faces, the AFLW-21 and 300W validation photos, never on the evaluation
#: faces (session 16; a 3 x 3 grid of crops gained little more there for 1.8x the runs).
ACCURATE_JITTER = 0.04


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
    jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each box out of its image and run the network on all of them in one batch.

    With ``jitter``, each face is also cut from its box moved by that fraction of the box's
    side left, right, up and down (:func:`~morph3d.core.crop.jitter_boxes`): the five
    predictions, each moved into the box's own crop frame, are averaged. A test-time ensemble
    for five times the network runs: the network's error depends on where the face sits in
    the crop, and part of it cancels.

    Args:
        predictor: The network.
        images: ``K`` images (the same one repeated for several faces of one picture).
        boxes: ``(K, 4)`` crop boxes in image pixels.
        size: Side of the network input.
        angles: ``(K,)`` degrees to turn each crop (counterclockwise, as seen,
            :func:`~morph3d.io.image.crop_image`), or None.
        jitter: Fraction of the box's side to move the four extra crops by (0: none).

    Returns:
        Raw parameters ``(K, 62)`` in each box's unturned crop frame
        (:func:`~morph3d.core.crop.turn_params` undoes the turns) and the ``(K, size, size, 3)``
        crops the network saw.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    turns = np.zeros(len(boxes)) if angles is None else np.asarray(angles, dtype=np.float64)
    if jitter < 0:
        raise ValueError(f"jitter must be 0 or more, got {jitter}")
    moved = jitter_boxes(boxes, jitter) if jitter > 0 else boxes[:, None]  # (K, copies, 4)
    copies = moved.shape[1]
    cut = moved.reshape(-1, 4)
    sources = [image for image in images for _ in range(copies)]
    turns = np.repeat(turns, copies)
    crops = np.stack([
        crop_image(image, box, size, angle=turn)
        for image, box, turn in zip(sources, cut, turns, strict=True)
    ])  # fmt: skip
    params = np.asarray(predictor.predict(crops), dtype=np.float64)
    if angles is not None:
        params = turn_params(params, cut, turns)
    if copies > 1:  # each jittered prediction into its box's own frame, then the mean
        own = np.repeat(boxes, copies, axis=0)
        params = params_to_crop(params_to_image(params, cut), own)
        params = params.reshape(len(boxes), copies, -1).mean(axis=1)
        crops = crops[::copies]
    return params, crops
