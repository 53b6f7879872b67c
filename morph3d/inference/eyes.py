"""Eyelid refinement: the 3DMM cannot close its eyes, so a small network re-reads the eyelids.

The 10 expression components of the morphable model move the eye opening of the mean face by at
most ±10 % at ±3 standard deviations: blinks cannot show in landmarks sampled from the mesh. The
eye refiner looks at a small grey crop of each eye, aligned with the eye's corners, and predicts
that eye's six landmarks (68-point indices 36-41 or 42-47).

Eye frame: from the outer corner ``a`` to the inner corner ``b``, ``x`` points along ``a -> b``
and ``y`` down the face (the left eye is mirrored so both eyes look alike); the crop is a square
of side ``EYE_SCALE * |b - a|`` centred between the corners, ``EYE_SIZE`` pixels a side. Points are
given in that frame as fractions of the side, ``(0, 0)`` at the centre.

The brow refiner works the same way on each brow's five points (17-21, 26-22, outer end first):
its frame is the eye's, raised by ``BROW_RISE`` corner distances and ``BROW_SCALE`` of them a
side, so a raised or lowered brow moves inside a crop that the eye corners place. A
:class:`Feature` names the points and the frames of one refiner; :data:`EYES_FEATURE` and
:data:`BROWS_FEATURE` are the two.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np

from morph3d.core.blendshapes import BROW_NAMES, solve_blendshapes
from morph3d.core.crop import image_to_crop
from morph3d.core.landmarks68 import EYE_ORDER
from morph3d.core.model import MorphableModel
from morph3d.inference.litert import network_file
from morph3d.inference.session import concurrently, create_session
from morph3d.paths import ASSETS_MODELS

__all__ = [
    "BROWS_FEATURE",
    "BROW_ORDER",
    "BROW_RISE",
    "BROW_SCALE",
    "EYES_FEATURE",
    "EYE_SCALE",
    "EYE_SIZE",
    "EyeRefiner",
    "Feature",
    "brow_frames",
    "eye_crops",
    "eye_frames",
    "fit_eye_blendshapes",
    "from_eye_frame",
    "read_features",
    "refine_eyes",
    "to_eye_frame",
]


#: Crop side over the corner-to-corner distance.
EYE_SCALE = 2.0

#: Crop side in pixels.
EYE_SIZE = 32

#: Brow crop side over the eye's corner-to-corner distance.
BROW_SCALE = 2.6

#: Rise of the brow crop's centre above the eye's, in corner-to-corner distances.
BROW_RISE = 0.8

#: Each brow's points from its outer to its inner end: the subject's right brow, then the left
#: (the order of :data:`~morph3d.core.landmarks68.EYE_ORDER`'s eyes).
BROW_ORDER = (tuple(range(17, 22)), tuple(range(26, 21, -1)))

_CREATE = (
    "python scripts/train_eyes.py --root ../shared/data/300w --out work/{0} --feature {0} --export"
)


def eye_frames(landmarks: np.ndarray) -> np.ndarray:
    """The two eye frames of ``(..., 68, 2|3)`` landmarks: ``(..., 2, 3, 2)`` rows centre,
    x axis, y axis, the axes scaled to the crop side (image pixels)."""
    points = np.asarray(landmarks, dtype=np.float64)[..., :2]
    outer = points[..., [order[0] for order in EYE_ORDER], :]  # (..., 2, 2)
    inner = points[..., [order[3] for order in EYE_ORDER], :]
    along = inner - outer
    width = np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), 1e-6)
    x_axis = along / width
    y_axis = np.stack([-x_axis[..., 1], x_axis[..., 0]], axis=-1)
    y_axis *= np.where(y_axis[..., 1:] < 0, -1.0, 1.0)  # down the face: mirrors the left eye
    side = EYE_SCALE * width
    return np.stack([(outer + inner) / 2, x_axis * side, y_axis * side], axis=-2)


def brow_frames(landmarks: np.ndarray) -> np.ndarray:
    """The two brow frames of ``(..., 68, 2|3)`` landmarks, placed by the eye corners:
    ``(..., 2, 3, 2)`` as :func:`eye_frames`."""
    return _brows_of_eyes(eye_frames(landmarks))


def _eyes_of_eyes(frames: np.ndarray) -> np.ndarray:
    return frames


def _brows_of_eyes(frames: np.ndarray) -> np.ndarray:
    """The brow frames of ``(..., 2, 3, 2)`` eye frames."""
    centre, x_axis, y_axis = np.moveaxis(frames, -2, 0)
    width = np.linalg.norm(x_axis, axis=-1, keepdims=True) / EYE_SCALE
    up = -y_axis / np.maximum(np.linalg.norm(y_axis, axis=-1, keepdims=True), 1e-12)
    grow = BROW_SCALE / EYE_SCALE
    return np.stack([centre + up * BROW_RISE * width, x_axis * grow, y_axis * grow], axis=-2)


@dataclass(frozen=True)
class Feature:
    """What one refiner re-reads.

    Attributes:
        name: ``"eyes"`` or ``"brows"`` (also its network's file stem in the assets).
        orders: The 68-point indices of each side's points, in the network's output order.
        placed: ``(..., 2, 3, 2)`` eye frames (:func:`eye_frames`) -> this feature's crop
            frames, one per side (every feature's crops are placed by the eye corners).
    """

    name: str
    orders: tuple[tuple[int, ...], tuple[int, ...]]
    placed: Callable[[np.ndarray], np.ndarray]

    def frames(self, landmarks: np.ndarray) -> np.ndarray:
        """``(..., 68, 2|3)`` landmarks -> ``(..., 2, 3, 2)`` crop frames, one per side."""
        return self.placed(eye_frames(landmarks))

    @property
    def points(self) -> int:
        """Points per side."""
        return len(self.orders[0])


#: The eyelid refiner: six points per eye.
EYES_FEATURE = Feature("eyes", EYE_ORDER, _eyes_of_eyes)

#: The brow refiner: five points per brow.
BROWS_FEATURE = Feature("brows", BROW_ORDER, _brows_of_eyes)


def to_eye_frame(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Image points ``(n, 2)`` in an eye frame (fractions of the crop side)."""
    centre, x_axis, y_axis = frame
    basis = np.stack([x_axis, y_axis], axis=1)  # columns
    return (np.asarray(points, dtype=np.float64)[:, :2] - centre) @ np.linalg.inv(basis).T


def from_eye_frame(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Eye-frame points ``(..., n, 2)`` back in image pixels; ``frame`` is one ``(3, 2)`` frame
    or frames stacked along its second axis (``(3, k, 1, 2)`` for ``(k, n, 2)`` points)."""
    centre, x_axis, y_axis = frame
    points = np.asarray(points, dtype=np.float64)
    return centre + points[..., :1] * x_axis + points[..., 1:2] * y_axis


def eye_crops(image: np.ndarray, frames: np.ndarray, size: int = EYE_SIZE) -> np.ndarray:
    """``(k, size, size)`` uint8 grey crops of an image for ``(k, 3, 2)`` eye frames.

    Crop pixel ``(u, v)`` samples the image at ``centre + ((u + 0.5) / size - 0.5) x_axis +
    ((v + 0.5) / size - 0.5) y_axis``. An ``(H, W, 3)`` RGB image is sampled in colour and each
    small crop turned grey (the same values, to rounding, as cropping the grey image, without
    converting the whole picture).
    """
    frames = np.asarray(frames, dtype=np.float64).reshape(-1, 3, 2)
    if not len(frames):
        return np.zeros((0, size, size), np.uint8)
    crops = []
    for centre, x_axis, y_axis in frames:
        forward = np.column_stack([x_axis / size, y_axis / size, centre])
        forward[:, 2] += (0.5 / size - 0.5) * (x_axis + y_axis)
        crop = cv2.warpAffine(
            image,
            forward,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        crops.append(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop)
    return np.stack(crops)


def crops_to_eye_input(crops: np.ndarray) -> np.ndarray:
    """``(k, S, S)`` uint8 crops -> ``(k, 1, S, S)`` float32, each crop zero-mean unit-variance."""
    x = crops.astype(np.float32).reshape(len(crops), -1)
    x -= x.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.einsum("kp,kp->k", x, x) / max(x.shape[1], 1))  # the std, without np.std
    x /= np.maximum(spread, 4.0)[:, None]
    return x.reshape(len(crops), 1, *crops.shape[1:])


class EyeRefiner:
    """Predicts both eyes' (or both brows') landmarks from their crops with ONNX Runtime, or
    with LiteRT from the shipped int8 copy.

    Args:
        path: The ``.onnx`` (or ``.tflite``) network (default: the shipped
            ``assets/models/<feature name>.onnx``, or its int8 LiteRT copy ``<feature
            name>.tflite`` with ``litert``).
        threads: Intra-op threads.
        feature: :data:`EYES_FEATURE` (the eyelid refiner) or :data:`BROWS_FEATURE`.
        litert: Without ``path``, run the shipped LiteRT copy where ``ai-edge-litert`` is
            installed (:func:`~morph3d.inference.litert.network_file`): 65 us for a face's two
            crops against ONNX Runtime's 138, with the held-out 300W eyes' aperture error
            0.0330 against 0.0326 and its correlation 0.879 against 0.883 (session 25).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        threads: int = 1,
        feature: Feature = EYES_FEATURE,
        litert: bool = False,
    ) -> None:
        self.feature = feature
        name = f"{feature.name}.onnx"
        if path is None and litert:
            name = network_file(name, [ASSETS_MODELS])
        self.session: Any = create_session(
            path or ASSETS_MODELS / name,
            _CREATE.format(feature.name),
            threads,
            spin=False,
        )
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network on ``(2F, 1, S, S)`` float32 crops (:func:`crops_to_eye_input`):
        ``(2F, 2P)`` points in the crop frames."""
        return np.asarray(self.session.run(None, {self.input_name: batch})[0])

    def refine(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """``(F, 68, 2|3)`` landmarks with the feature's points re-read from the image.

        The crops are placed by the given landmarks' eye corners; only x and y of the
        feature's points (36-47 for the eyes, 17-26 for the brows) change.
        """
        return refine_eyes(rgb, landmarks, self.run, self.feature)


def refine_eyes(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    network: Callable[[np.ndarray], np.ndarray],
    feature: Feature = EYES_FEATURE,
) -> np.ndarray:
    """``(F, 68, 2|3)`` landmarks with each side's feature points (x, y) read by ``network``.

    Args:
        rgb: The image.
        landmarks: The faces' landmarks; their eye corners place the crops.
        network: ``(2F, 1, S, S)`` float32 crops (:func:`crops_to_eye_input`) -> ``(2F, 2P)``
            points in the crop frames (``P = feature.points``).
        feature: Which points: the eyes (default) or the brows.
    """
    return read_features(rgb, landmarks, [(network, feature)])[0]


def read_features(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    readers: Sequence[tuple[Callable[[np.ndarray], np.ndarray], Feature]],
) -> list[np.ndarray]:
    """:func:`refine_eyes` for several features at once: every feature's crops cut in one go.

    Args:
        rgb: The image.
        landmarks: ``(F, 68, 2|3)`` the faces' landmarks; their eye corners place the crops.
        readers: ``(network, feature)`` pairs, each network as for :func:`refine_eyes`.

    The networks run at once (:func:`~morph3d.inference.session.concurrently`).

    Returns:
        Per reader, a copy of ``landmarks`` (float64) with that feature's points re-read.
    """
    landmarks = np.array(landmarks, dtype=np.float64)
    if not len(landmarks):
        return [landmarks.copy() for _ in readers]
    eyes = eye_frames(landmarks)
    frames = [feature.placed(eyes).reshape(-1, 3, 2) for _, feature in readers]  # (2F, 3, 2)
    inputs = crops_to_eye_input(eye_crops(rgb, np.concatenate(frames)))
    count = len(frames[0])
    batches = [inputs[k * count : (k + 1) * count] for k in range(len(readers))]
    outputs = concurrently(
        [partial(network, batch) for (network, _), batch in zip(readers, batches, strict=True)]
    )
    out = []
    for (_, feature), frame, output in zip(readers, frames, outputs, strict=True):
        points = np.asarray(output).reshape(len(frame), feature.points, 2)
        placed = from_eye_frame(points, frame.transpose(1, 0, 2)[:, :, None])  # (2F, P, 2)
        read = landmarks.copy()
        for side in (0, 1):  # frames alternate: face 0 side 0, face 0 side 1, face 1 side 0, ...
            read[:, list(feature.orders[side]), :2] = placed[side::2]
        out.append(read)
    return out


def fit_eye_blendshapes(
    model: MorphableModel,
    eyes: EyeRefiner,
    rgb: np.ndarray,
    params: np.ndarray,
    landmarks: np.ndarray,
    boxes: np.ndarray,
    brows: EyeRefiner | None = None,
) -> tuple[list[dict[str, float]], np.ndarray]:
    """The eye (and brow) blendshapes of predicted faces, fitted to their eyelids (and brows)
    re-read by the refiners.

    Args:
        model: A model with eye and brow blendshapes (format version 2).
        eyes: The eyelid refiner.
        rgb: The image.
        params: ``(K, 62)`` raw parameters in the crop frames of ``boxes``.
        landmarks: ``(K, 68, 2|3)`` their image-pixel landmarks (they place the crops).
        boxes: ``(K, 4)`` crop boxes.
        brows: The brow refiner (:data:`BROWS_FEATURE`); without it the brow coefficients
            stay 0.

    Returns:
        Per face the coefficients by name (:func:`~morph3d.core.blendshapes.face_blendshapes`:
        the eye names, and the brow names with ``brows``), and the ``(K, B)`` array for
        :meth:`~morph3d.core.model.MorphableModel.decode`.
    """
    if not len(params):
        return [], np.zeros((0, len(model.blendshape_names)))
    refiners = [eyes] if brows is None else [eyes, brows]
    read = read_features(rgb, landmarks, [(r.run, r.feature) for r in refiners])
    lids, *rest = (image_to_crop(points[..., :2], boxes) for points in read)
    weights = solve_blendshapes(model, params, lids, rest[0] if rest else None)
    names = [n for n in model.blendshape_names if brows is not None or n not in BROW_NAMES]
    columns = [model.blendshape_names.index(name) for name in names]
    values = [dict(zip(names, map(float, row[columns]), strict=True)) for row in weights]
    return values, weights
