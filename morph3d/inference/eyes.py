"""Eyelid refinement: the 3DMM cannot close its eyes, so a small network re-reads the eyelids.

The 10 expression components of the morphable model move the eye opening of the mean face by at
most ±10 % at ±3 standard deviations: blinks cannot show in landmarks sampled from the mesh. The
eye refiner looks at a small grey crop of each eye, aligned with the eye's corners, and predicts
that eye's six landmarks (68-point indices 36-41 or 42-47).

Eye frame: from the outer corner ``a`` to the inner corner ``b``, ``x`` points along ``a -> b``
and ``y`` down the face (the left eye is mirrored so both eyes look alike); the crop is a square
of side ``EYE_SCALE * |b - a|`` centred between the corners, ``EYE_SIZE`` pixels a side. Points are
given in that frame as fractions of the side, ``(0, 0)`` at the centre.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from morph3d.core.blendshapes import eye_blendshapes
from morph3d.core.crop import image_to_crop
from morph3d.core.landmarks68 import EYE_ORDER
from morph3d.core.model import MorphableModel
from morph3d.inference.session import create_session
from morph3d.paths import ASSETS_MODELS

__all__ = [
    "EYE_SCALE",
    "EYE_SIZE",
    "EyeRefiner",
    "eye_crops",
    "eye_frames",
    "fit_eye_blendshapes",
    "from_eye_frame",
    "refine_eyes",
    "to_eye_frame",
]


#: Crop side over the corner-to-corner distance.
EYE_SCALE = 2.0

#: Crop side in pixels.
EYE_SIZE = 32

_CREATE = "python scripts/train_eyes.py --root ../shared/data/300w --out work/eyes --export"


def eye_frames(landmarks: np.ndarray) -> np.ndarray:
    """The two eye frames of ``(68, 2|3)`` landmarks: ``(2, 3, 2)`` rows centre, x axis, y axis,
    the axes scaled to the crop side (image pixels)."""
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    frames = []
    for order in EYE_ORDER:
        outer, inner = points[order[0]], points[order[3]]
        along = inner - outer
        width = max(float(np.linalg.norm(along)), 1e-6)
        x_axis = along / width
        y_axis = np.array([-x_axis[1], x_axis[0]])
        if y_axis[1] < 0:  # down the face; flipping it mirrors the left eye
            y_axis = -y_axis
        side = EYE_SCALE * width
        frames.append([(outer + inner) / 2, x_axis * side, y_axis * side])
    return np.array(frames)


def to_eye_frame(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Image points ``(n, 2)`` in an eye frame (fractions of the crop side)."""
    centre, x_axis, y_axis = frame
    basis = np.stack([x_axis, y_axis], axis=1)  # columns
    return (np.asarray(points, dtype=np.float64)[:, :2] - centre) @ np.linalg.inv(basis).T


def from_eye_frame(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Eye-frame points ``(..., n, 2)`` back in image pixels."""
    centre, x_axis, y_axis = frame
    points = np.asarray(points, dtype=np.float64)
    return centre + points[..., :1] * x_axis + points[..., 1:2] * y_axis


def eye_crops(grey: np.ndarray, frames: np.ndarray, size: int = EYE_SIZE) -> np.ndarray:
    """``(k, size, size)`` uint8 crops of a grey image for ``(k, 3, 2)`` eye frames.

    Crop pixel ``(u, v)`` samples the image at ``centre + ((u + 0.5) / size - 0.5) x_axis +
    ((v + 0.5) / size - 0.5) y_axis``.
    """
    crops = []
    for centre, x_axis, y_axis in np.asarray(frames, dtype=np.float64):
        forward = np.column_stack([x_axis / size, y_axis / size, centre])
        forward[:, 2] += (0.5 / size - 0.5) * (x_axis + y_axis)
        crops.append(
            cv2.warpAffine(
                grey,
                forward,
                (size, size),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    return np.stack(crops)


def crops_to_eye_input(crops: np.ndarray) -> np.ndarray:
    """``(k, S, S)`` uint8 crops -> ``(k, 1, S, S)`` float32, each crop zero-mean unit-variance."""
    x = crops.astype(np.float32)
    x -= x.mean(axis=(1, 2), keepdims=True)
    x /= np.maximum(x.std(axis=(1, 2), keepdims=True), 4.0)
    return x[:, None]


class EyeRefiner:
    """Predicts both eyes' landmarks from eye crops with ONNX Runtime.

    Args:
        path: The ``.onnx`` network (default: ``assets/models/eyes.onnx``).
        threads: Intra-op threads.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, threads: int = 1) -> None:
        self.session: Any = create_session(
            path or ASSETS_MODELS / "eyes.onnx", _CREATE, threads, spin=False
        )
        self.input_name = self.session.get_inputs()[0].name

    def refine(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """``(F, 68, 2|3)`` landmarks with each eye's six points re-read from the image.

        The eye crops are placed by the given landmarks' eye corners; only x and y of points
        36-47 change.
        """
        return refine_eyes(
            rgb, landmarks, lambda batch: self.session.run(None, {self.input_name: batch})[0]
        )


def refine_eyes(
    rgb: np.ndarray, landmarks: np.ndarray, network: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``(F, 68, 2|3)`` landmarks with each eye's six points (x, y) read by ``network``.

    Args:
        rgb: The image.
        landmarks: The faces' landmarks; their eye corners place the crops.
        network: ``(2F, 1, S, S)`` float32 crops (:func:`crops_to_eye_input`) -> ``(2F, 12)``
            points in the eye frames.
    """
    landmarks = np.array(landmarks, dtype=np.float64)
    if not len(landmarks):
        return landmarks
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    frames = np.concatenate([eye_frames(face) for face in landmarks])  # (2F, 3, 2)
    points = np.asarray(network(crops_to_eye_input(eye_crops(grey, frames))))
    points = points.reshape(len(frames), 6, 2)
    for k, frame in enumerate(frames):
        face, eye = divmod(k, 2)
        landmarks[face, list(EYE_ORDER[eye]), :2] = from_eye_frame(points[k], frame)
    return landmarks


def fit_eye_blendshapes(
    model: MorphableModel,
    eyes: EyeRefiner,
    rgb: np.ndarray,
    params: np.ndarray,
    landmarks: np.ndarray,
    boxes: np.ndarray,
) -> tuple[list[dict[str, float]], np.ndarray]:
    """The eye blendshapes of predicted faces, fitted to their eyelids re-read by ``eyes``.

    Args:
        model: A model with eye blendshapes (format version 2).
        eyes: The eye refiner.
        rgb: The image.
        params: ``(K, 62)`` raw parameters in the crop frames of ``boxes``.
        landmarks: ``(K, 68, 2|3)`` their image-pixel landmarks (they place the eye crops).
        boxes: ``(K, 4)`` crop boxes.

    Returns:
        Per face the coefficients by name (:func:`~morph3d.core.blendshapes.eye_blendshapes`),
        and the ``(K, B)`` array for :meth:`~morph3d.core.model.MorphableModel.decode`.
    """
    if not len(params):
        return [], np.zeros((0, len(model.blendshape_names)))
    lids = image_to_crop(eyes.refine(rgb, landmarks)[..., :2], boxes)
    values = [eye_blendshapes(model, p, lid) for p, lid in zip(params, lids, strict=True)]
    return values, np.stack([model.blendshape_vector(v) for v in values])
