"""The tracker's network and refiner stages, and a photo's per-face arithmetic, compiled (numba).

Between its network runs a tracked frame used to spend about twice as long in small numpy
operations as in the networks: cutting and normalising crops, averaging the mirrored
prediction, the landmarks, the eye and brow frames and crops, the blendshape fit. Each of those
operations costs microseconds of call overhead for a few dozen numbers, and holds Python's lock
meanwhile. :class:`CompiledStage` does the same arithmetic in a few compiled loops (numba,
``nogil``), so a frame makes two rounds of network runs and four compiled calls:

1. the crop cut (OpenCV) and its input and the mirrored crop's input (:func:`network_inputs`);
2. the regressor on both at once (ONNX Runtime, one run per core);
3. :func:`place_faces`: the mirror average, the landmarks, the eye and brow crop frames;
4. :func:`feature_inputs`: the eye and brow crops, grey and normalised;
5. the eye and brow refiners at once;
6. :func:`fit_faces`: the refined points back in the crop frame, the eye and brow blendshapes
   (:func:`~morph3d.core.blendshapes.solve_blendshapes`'s fits, the brows' bounded least
   squares solved exactly by the same active-set steps and case search) and the landmarks with
   them.

:class:`CompiledFaces` holds the part after the networks (the eye and brow stage, the landmarks,
the mouth coefficients, the pose angles and the mesh in image pixels, :func:`image_meshes`):
:class:`~morph3d.pipeline.reconstructor.Reconstructor` runs it on photos, after its own network
passes (the specialist, the re-crop), and :class:`CompiledStage` on frames.

Everything but the crops matches the numpy path to rounding (float64 throughout; the tests
compare each kernel with its numpy counterpart). The eye and brow crops are sampled bilinearly
in floating point from the RGB image and turned grey there, where
:func:`~morph3d.inference.eyes.eye_crops` rounds OpenCV's fixed-point samples to 8-bit colour and
then to 8-bit grey: the refiners' inputs differ by under one grey level.

Numba compiles each kernel on its first call (a few seconds, once: the machine code is cached
beside this module, or in numba's user cache when that is not writable);
:meth:`CompiledStage.warm_up` does it ahead, as ``setup.sh`` does.
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np

from morph3d.core.blendshapes import BLENDSHAPE_NAMES, eye_rows
from morph3d.core.compiled import (
    bounded_least_squares,
    fast_kernel,
    kernel,
    landmark_motion,
    landmark_rows,
    mouth_values,
    pose_angles,
)
from morph3d.core.crop import CROP_SIZE
from morph3d.core.landmarks68 import BROWS, EYE_ORDER
from morph3d.core.mirror import ParamMirror
from morph3d.core.model import MorphableModel
from morph3d.core.mouth import MOUTH_NAMES, mouth_coefficients
from morph3d.inference.eyes import (
    BROW_ORDER,
    BROW_RISE,
    BROW_SCALE,
    EYE_SCALE,
    EYE_SIZE,
    EyeRefiner,
)
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.inference.session import concurrently
from morph3d.io.image import crop_image
from morph3d.timing import StageTimes

__all__ = [
    "CompiledFaces",
    "CompiledStage",
    "feature_frames",
    "feature_inputs",
    "fit_faces",
    "image_landmarks",
    "image_meshes",
    "network_inputs",
    "place_faces",
]

_SIDE = float(CROP_SIZE)
_OUTER = np.array([order[0] for order in EYE_ORDER])
_INNER = np.array([order[3] for order in EYE_ORDER])
_EYE_ROWS = np.array(EYE_ORDER)  # (side, 6)
_BROW_ROWS = np.array(BROW_ORDER)  # (side, 5)
#: Each eye's lid pairs, (eye, pair), the eyes in eyeBlink's Left, Right order.
_UPPER_ROWS = np.array([[upper for upper, _ in eye_rows(side)] for side in ("Left", "Right")])
_LOWER_ROWS = np.array([[lower for _, lower in eye_rows(side)] for side in ("Left", "Right")])
_BROW_FIT_ROWS = np.array(BROWS)


@kernel
def network_inputs(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F, S, S, 3)`` uint8 crops -> the regressor's ``(F, 3, S, S)`` float32 input of each crop
    and of each crop flipped left to right (:func:`~morph3d.io.image.crops_to_input`)."""
    faces, height, width, _ = crops.shape
    plain = np.empty((faces, 3, height, width), np.float32)
    mirrored = np.empty((faces, 3, height, width), np.float32)
    for f in range(faces):
        for y in range(height):
            for x in range(width):
                for c in range(3):
                    value = (np.float32(crops[f, y, x, c]) - np.float32(127.5)) / np.float32(128.0)
                    plain[f, c, y, x] = value
                    mirrored[f, c, y, width - 1 - x] = value
    return plain, mirrored


@kernel
def _box_scales(box: np.ndarray) -> tuple[float, float]:
    return (box[2] - box[0]) / _SIDE, (box[3] - box[1]) / _SIDE


@kernel
def _to_image(crop: np.ndarray, box: np.ndarray, out: np.ndarray) -> None:
    """``out`` = crop-frame points ``crop`` ``(n, 3)`` in image pixels (crop_to_image)."""
    sx, sy = _box_scales(box)
    for n in range(crop.shape[0]):
        out[n, 0] = box[0] + (crop[n, 0] - 1) * sx
        out[n, 1] = box[1] + (_SIDE - crop[n, 1]) * sy
        out[n, 2] = crop[n, 2] * (sx + sy) / 2


@kernel
def feature_frames(landmarks: np.ndarray) -> np.ndarray:
    """The ``(F, 4, 3, 2)`` frames of the eye and brow crops (eyes' sides 0 and 1, then the
    brows') of ``(F, 68, 2|3)`` image landmarks (:func:`~morph3d.inference.eyes.eye_frames`,
    :func:`~morph3d.inference.eyes.brow_frames`)."""
    frames = np.empty((landmarks.shape[0], 4, 3, 2))
    grow = BROW_SCALE / EYE_SCALE
    for f in range(landmarks.shape[0]):
        for side in range(2):
            ox, oy = landmarks[f, _OUTER[side], 0], landmarks[f, _OUTER[side], 1]
            ix, iy = landmarks[f, _INNER[side], 0], landmarks[f, _INNER[side], 1]
            width = max(math.sqrt((ix - ox) ** 2 + (iy - oy) ** 2), 1e-6)
            ux, uy = (ix - ox) / width, (iy - oy) / width
            vx, vy = -uy, ux
            if vy < 0:  # down the face: the left eye mirrored
                vx, vy = -vx, -vy
            scale = EYE_SCALE * width
            cx, cy = (ox + ix) / 2, (oy + iy) / 2
            eye, brow = frames[f, side], frames[f, 2 + side]
            eye[0, 0], eye[0, 1] = cx, cy
            eye[1, 0], eye[1, 1] = ux * scale, uy * scale
            eye[2, 0], eye[2, 1] = vx * scale, vy * scale
            brow[0, 0], brow[0, 1] = cx - vx * BROW_RISE * width, cy - vy * BROW_RISE * width
            brow[1, 0], brow[1, 1] = eye[1, 0] * grow, eye[1, 1] * grow
            brow[2, 0], brow[2, 1] = eye[2, 0] * grow, eye[2, 1] * grow
    return frames


@kernel
def image_landmarks(
    params: np.ndarray,
    boxes: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
) -> np.ndarray:
    """``(F, 68, 3)`` image landmarks of ``(F, 62)`` raw parameters in the crop frames of
    ``(F, 4)`` boxes, without blendshapes (:meth:`~morph3d.core.model.MorphableModel.landmarks`
    and :func:`~morph3d.core.crop.crop_to_image`; the rows float64)."""
    landmarks = np.empty((params.shape[0], mean.shape[0], 3))
    crop = np.empty((mean.shape[0], 3))
    for f in range(params.shape[0]):
        landmark_rows(params[f], mean, basis, fields, np.zeros(0), crop)
        _to_image(crop, boxes[f], landmarks[f])
    return landmarks


@kernel
def place_faces(
    plain: np.ndarray,
    flipped: np.ndarray,
    matrix: np.ndarray,
    offset: np.ndarray,
    boxes: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After the regressor's two runs: each face's parameters (the crop's averaged with the
    mirrored crop's, mirrored back by ``matrix @ p + offset``), its image landmarks, and the
    frames of its eye and brow crops (:func:`~morph3d.inference.eyes.eye_frames`,
    :func:`~morph3d.inference.eyes.brow_frames`).

    Returns:
        ``(F, 62)`` parameters in the crop frames, ``(F, 68, 3)`` landmarks in image pixels,
        ``(F, 4, 3, 2)`` frames: the eyes' sides 0 and 1, then the brows'.
    """
    faces, size = plain.shape
    params = np.empty((faces, size))
    for f in range(faces):
        for i in range(size):
            total = offset[i]
            for k in range(size):
                total += matrix[i, k] * flipped[f, k]
            params[f, i] = (plain[f, i] + total) / 2
    landmarks = image_landmarks(params, boxes, mean, basis, fields)
    return params, landmarks, feature_frames(landmarks)


@kernel
def _sample_crop(rgb: np.ndarray, frame: np.ndarray, out: np.ndarray) -> None:
    """One grey crop, zero-mean and divided by its spread (at least 4), into ``out``
    ``(S, S)`` float32: pixel ``(u, v)`` at ``centre + ((u + .5) / S - .5) x_axis +
    ((v + .5) / S - .5) y_axis``, bilinear, the border replicated."""
    height, width = rgb.shape[0], rgb.shape[1]
    side = out.shape[0]
    grey = np.empty((side, side))
    total = 0.0
    for v in range(side):
        down = (v + 0.5) / side - 0.5
        for u in range(side):
            along = (u + 0.5) / side - 0.5
            x = frame[0, 0] + along * frame[1, 0] + down * frame[2, 0]
            y = frame[0, 1] + along * frame[1, 1] + down * frame[2, 1]
            x = min(max(x, 0.0), width - 1.0)
            y = min(max(y, 0.0), height - 1.0)
            x0, y0 = int(x), int(y)
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            dx, dy = x - x0, y - y0
            value = 0.0
            for c, luma in ((0, 0.299), (1, 0.587), (2, 0.114)):  # OpenCV's RGB2GRAY
                top = rgb[y0, x0, c] * (1 - dx) + rgb[y0, x1, c] * dx
                bottom = rgb[y1, x0, c] * (1 - dx) + rgb[y1, x1, c] * dx
                value += luma * (top * (1 - dy) + bottom * dy)
            grey[v, u] = value
            total += value
    mean = total / (side * side)
    energy = 0.0
    for v in range(side):
        for u in range(side):
            grey[v, u] -= mean
            energy += grey[v, u] ** 2
    spread = max(math.sqrt(energy / (side * side)), 4.0)
    for v in range(side):
        for u in range(side):
            out[v, u] = np.float32(grey[v, u] / spread)


@kernel
def feature_inputs(rgb: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The refiners' inputs for ``(F, 4, 3, 2)`` frames of an ``(H, W, 3)`` uint8 RGB image:
    ``(2F, 1, 32, 32)`` float32 eye crops and brow crops, face after face, side 0 then 1
    (:func:`~morph3d.inference.eyes.eye_crops` and
    :func:`~morph3d.inference.eyes.crops_to_eye_input`, sampled in floating point)."""
    faces = frames.shape[0]
    eyes = np.empty((2 * faces, 1, EYE_SIZE, EYE_SIZE), np.float32)
    brows = np.empty((2 * faces, 1, EYE_SIZE, EYE_SIZE), np.float32)
    for f in range(faces):
        for side in range(2):
            _sample_crop(rgb, frames[f, side], eyes[2 * f + side, 0])
            _sample_crop(rgb, frames[f, 2 + side], brows[2 * f + side, 0])
    return eyes, brows


@kernel
def _fit_face(
    eyes: np.ndarray,
    brows: np.ndarray,
    frames: np.ndarray,
    params: np.ndarray,
    box: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
    weights: np.ndarray,
    landmarks: np.ndarray,
) -> None:
    rows = mean.shape[0]
    neutral = np.empty((rows, 3))
    landmark_rows(params, mean, basis, fields, np.zeros(0), neutral)
    sx, sy = _box_scales(box)
    read = neutral[:, :2].copy()  # crop frame; the refined rows replaced
    for side in range(2):
        for outputs, frame, order in (
            (eyes[side], frames[side], _EYE_ROWS[side]),
            (brows[side], frames[2 + side], _BROW_ROWS[side]),
        ):
            for q in range(len(order)):
                along, down = outputs[2 * q], outputs[2 * q + 1]
                x = frame[0, 0] + along * frame[1, 0] + down * frame[2, 0]
                y = frame[0, 1] + along * frame[1, 1] + down * frame[2, 1]
                read[order[q], 0] = (x - box[0]) / sx + 1  # image_to_crop
                read[order[q], 1] = _SIDE - (y - box[1]) / sy
    # each blendshape's landmark motion at 1 in the crop frame (x, y of the posed displacement)
    count = fields.shape[2]
    motion = np.empty((count, rows, 2))
    for b in range(count):
        for n in range(rows):
            for j in range(2):
                motion[b, n, j] = (
                    params[4 * j] * fields[n, 0, b]
                    + params[4 * j + 1] * fields[n, 1, b]
                    + params[4 * j + 2] * fields[n, 2, b]
                )
    weights[:] = 0.0
    # the eyes: per eye, a blink or a widening fitted to its lid openings (solve_eyes)
    residual = np.empty(4)
    moves = np.empty(4)
    for eye in range(2):
        still = 0.0
        for p in range(2):
            upper, lower = _UPPER_ROWS[eye, p], _LOWER_ROWS[eye, p]
            for j in range(2):
                opening = read[upper, j] - read[lower, j]
                residual[2 * p + j] = opening - (neutral[upper, j] - neutral[lower, j])
                still += residual[2 * p + j] ** 2
        values = np.zeros(2)
        errors = np.zeros(2)
        for kind in range(2):  # blink, wide
            shape = 2 * kind + eye
            norm = 0.0
            along = 0.0
            for p in range(2):
                upper, lower = _UPPER_ROWS[eye, p], _LOWER_ROWS[eye, p]
                for j in range(2):
                    moves[2 * p + j] = motion[shape, upper, j] - motion[shape, lower, j]
                    norm += moves[2 * p + j] ** 2
                    along += residual[2 * p + j] * moves[2 * p + j]
            value = min(max(along / norm, 0.0), 1.0) if norm > 0 else 0.0
            values[kind] = value
            for q in range(4):
                errors[kind] += (residual[q] - value * moves[q]) ** 2
        wide = errors[1] < min(still, errors[0])
        if errors[0] < still and not wide:
            weights[eye] = values[0]
        if wide:
            weights[2 + eye] = values[1]
    # the brows: the five fitted together, bounded to [0, 1] (solve_brows)
    points = len(_BROW_FIT_ROWS)
    gaps = np.empty(2 * points)
    shifts = np.empty((5, 2 * points))
    for q in range(points):
        r = _BROW_FIT_ROWS[q]
        for j in range(2):
            gaps[2 * q + j] = read[r, j] - neutral[r, j]
            for k in range(5):
                shifts[k, 2 * q + j] = motion[4 + k, r, j]
    hessian = np.zeros((5, 5))
    target = np.zeros(5)
    for i in range(5):
        for q in range(2 * points):
            target[i] += shifts[i, q] * gaps[q]
            for j in range(5):
                hessian[i, j] += shifts[i, q] * shifts[j, q]
    trace = 0.0
    for k in range(5):
        trace += hessian[k, k]
    if trace > 0:  # else no brow motion at all: nothing to fit
        for k in range(5):
            hessian[k, k] += 1e-3 * trace / 5
        weights[4:9] = bounded_least_squares(hessian, target)
    crop = np.empty((rows, 3))
    landmark_rows(params, mean, basis, fields, weights, crop)
    _to_image(crop, box, landmarks)


@kernel
def fit_faces(
    eyes: np.ndarray,
    brows: np.ndarray,
    frames: np.ndarray,
    params: np.ndarray,
    boxes: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """After the refiners: each face's blendshapes fitted to its read eyelids and brows
    (:func:`~morph3d.inference.eyes.fit_eye_blendshapes`) and its landmarks with them.

    Args:
        eyes: ``(2F, 12)`` the eye refiner's outputs (fractions of each crop's frame).
        brows: ``(2F, 10)`` the brow refiner's.
        frames: ``(F, 4, 3, 2)`` the crops' frames (:func:`place_faces`).
        params: ``(F, 62)`` raw parameters in the crop frames of ``boxes``.
        boxes: ``(F, 4)`` crop boxes.
        mean, basis, fields: The model's landmark rows (float64).

    Returns:
        ``(F, 9)`` coefficients in the order of
        :data:`~morph3d.core.blendshapes.BLENDSHAPE_NAMES` and ``(F, 68, 3)`` image landmarks.
    """
    faces = params.shape[0]
    weights = np.zeros((faces, fields.shape[2]))
    landmarks = np.empty((faces, mean.shape[0], 3))
    for f in range(faces):
        _fit_face(
            eyes[2 * f : 2 * f + 2],
            brows[2 * f : 2 * f + 2],
            frames[f],
            params[f],
            boxes[f],
            mean,
            basis,
            fields,
            weights[f],
            landmarks[f],
        )
    return weights, landmarks


@fast_kernel
def image_meshes(
    params: np.ndarray,
    weights: np.ndarray,
    boxes: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
    count: int,
) -> np.ndarray:
    """Faces' meshes in image pixels: the first ``count`` vertices of
    :meth:`~morph3d.core.model.MorphableModel.decode` moved out of the crop frames
    (:func:`~morph3d.core.crop.crop_to_image`), in one pass over the model's arrays.

    As numpy decodes them in float32, the shape is summed in float32 (each vertex's rows in
    any order: compiled with ``fastmath``), the pose and the move into the image in float64.

    Args:
        params: ``(F, 62)`` raw parameters in the crop frames of ``boxes``.
        weights: ``(F, B)`` blendshape coefficients (``B = 0``: none).
        boxes: ``(F, 4)`` crop boxes.
        mean, basis, fields: The model's float32 mean ``(N, 3)``, bases ``(3N, K)`` and
            blendshapes ``(N, 3, B)``.
        count: How many vertices (the surface's
            :attr:`~morph3d.core.model.MorphableModel.n_surface`).

    Returns:
        ``(F, count, 3)`` float64 vertices in image pixels.
    """
    faces, size = params.shape[0], basis.shape[1]
    blends = weights.shape[1]
    coefficients = np.empty((faces, size), np.float32)
    amounts = np.empty((faces, max(blends, 1)), np.float32)
    for f in range(faces):
        for k in range(size):
            coefficients[f, k] = params[f, 12 + k]
        for b in range(blends):
            amounts[f, b] = weights[f, b]
    out = np.empty((faces, count, 3))
    shape = np.empty(3)
    for n in range(count):  # each vertex's rows read once for all the faces
        for f in range(faces):
            for i in range(3):
                row = 3 * n + i
                total = np.float32(0.0)
                for k in range(size):
                    total += basis[row, k] * coefficients[f, k]
                for b in range(blends):
                    total += fields[n, i, b] * amounts[f, b]
                shape[i] = mean[n, i] + total
            p = params[f]
            x = p[0] * shape[0] + p[1] * shape[1] + p[2] * shape[2] + p[3]
            y = p[4] * shape[0] + p[5] * shape[1] + p[6] * shape[2] + p[7]
            z = p[8] * shape[0] + p[9] * shape[1] + p[10] * shape[2] + p[11]
            box = boxes[f]
            sx, sy = _box_scales(box)
            out[f, n, 0] = box[0] + (x - 1) * sx
            out[f, n, 1] = box[1] + (_SIDE - y) * sy
            out[f, n, 2] = z * (sx + sy) / 2
    return out


class CompiledFaces:
    """A picture's per-face arithmetic after the regressor, compiled: the landmarks
    (:func:`image_landmarks`), the eye and brow stage (the crops, the two refiners at once, the
    blendshape fit and the landmarks with it: :func:`feature_inputs`, :func:`fit_faces`), the
    mouth coefficients, the pose angles and the mesh in image pixels (:func:`image_meshes`).

    :meth:`fit` does what :func:`~morph3d.inference.eyes.fit_eye_blendshapes` does, for the
    photos of :class:`~morph3d.pipeline.reconstructor.Reconstructor` and the frames of
    :class:`CompiledStage`.

    Args:
        model: The morphable model, with the blendshapes of
            :data:`~morph3d.core.blendshapes.BLENDSHAPE_NAMES`.
        eyes: The eyelid refiner.
        brows: The brow refiner.

    Raises:
        ValueError: the model's blendshapes are not
            :data:`~morph3d.core.blendshapes.BLENDSHAPE_NAMES`.
    """

    #: Yaw, pitch and roll of a ``(12,)`` pose (:func:`~morph3d.core.compiled.pose_angles`).
    pose_angles = staticmethod(pose_angles)

    def __init__(self, model: MorphableModel, eyes: EyeRefiner, brows: EyeRefiner) -> None:
        if tuple(model.blendshape_names) != BLENDSHAPE_NAMES:
            raise ValueError(
                f"the compiled stage fits the blendshapes {BLENDSHAPE_NAMES}, the model has "
                f"{tuple(model.blendshape_names)}"
            )
        self.model, self.eyes, self.brows = model, eyes, brows
        #: The model's landmark rows (float64): mean, basis, blendshape fields.
        self.rows = tuple(np.ascontiguousarray(rows) for rows in model.landmark_arrays)
        shape = model.layout.shape
        self._identity = shape.stop - shape.start  # the coefficients that stay in the rest face
        self._mesh = (
            np.ascontiguousarray(model.mean, dtype=np.float32),
            np.ascontiguousarray(model.basis, dtype=np.float32),
            np.ascontiguousarray(model.blendshapes, dtype=np.float32),
        )
        self._surface = model.n_surface

    def landmarks(self, params: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``(F, 68, 3)`` image landmarks of ``(F, 62)`` raw parameters in the crop frames of
        ``(F, 4)`` boxes, without blendshapes (:func:`image_landmarks`)."""
        landmarks: np.ndarray = image_landmarks(
            np.ascontiguousarray(params, dtype=np.float64),
            np.ascontiguousarray(boxes, dtype=np.float64),
            *self.rows,
        )
        return landmarks

    def meshes(self, params: np.ndarray, weights: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``(F, S, 3)`` the faces' surface vertices in image pixels (:func:`image_meshes`) for
        ``(F, 62)`` raw parameters in the crop frames of ``(F, 4)`` boxes and ``(F, 9)``
        blendshape coefficients."""
        mean, basis, fields = self._mesh
        meshes: np.ndarray = image_meshes(
            np.ascontiguousarray(params, dtype=np.float64),
            np.ascontiguousarray(weights, dtype=np.float64),
            np.ascontiguousarray(boxes, dtype=np.float64),
            mean,
            basis,
            fields,
            self._surface,
        )
        return meshes

    def fit(
        self,
        rgb: np.ndarray,
        params: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray | None = None,
        frames: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The blendshapes of faces fitted to their eyelids and brows as the refiners read them.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.
            params: ``(F, 62)`` raw parameters in the crop frames of ``boxes``.
            boxes: ``(F, 4)`` crop boxes in image pixels.
            landmarks: ``(F, 68, 2|3)`` the faces' image landmarks, which place the eye and
                brow crops (:func:`feature_frames`); not needed with ``frames``.
            frames: ``(F, 4, 3, 2)`` the crops' frames (:func:`place_faces`).

        Returns:
            ``(F, 9)`` coefficients in :data:`~morph3d.core.blendshapes.BLENDSHAPE_NAMES`
            order and the ``(F, 68, 3)`` image landmarks with them.
        """
        params = np.ascontiguousarray(params, dtype=np.float64)
        boxes = np.ascontiguousarray(boxes, dtype=np.float64)
        if frames is None:
            if landmarks is None:
                raise ValueError("fit needs the faces' landmarks or their crops' frames")
            frames = feature_frames(np.ascontiguousarray(landmarks, dtype=np.float64))
        eyes, brows = feature_inputs(np.ascontiguousarray(rgb), frames)
        read = concurrently([partial(self.eyes.run, eyes), partial(self.brows.run, brows)])
        eye_points, brow_points = (np.asarray(points, dtype=np.float64) for points in read)
        weights, fitted = fit_faces(eye_points, brow_points, frames, params, boxes, *self.rows)
        return weights, fitted

    def mouth(self, params: np.ndarray) -> np.ndarray:
        """The mouth coefficients of ``(62,)`` raw parameters in
        :data:`~morph3d.core.mouth.MOUTH_NAMES` order
        (:func:`~morph3d.core.compiled.mouth_values`; NaN for a mouth of no width)."""
        mean, basis, _ = self.rows
        values: np.ndarray = mouth_values(
            np.ascontiguousarray(params, dtype=np.float64), mean, basis, self._identity
        )
        return values

    def mouth_coefficients(self, params: np.ndarray) -> dict[str, float]:
        """:func:`~morph3d.core.mouth.mouth_coefficients` of ``(62,)`` raw parameters, by name:
        :meth:`mouth`'s values, or numpy's where the kernel finds a mouth of no width."""
        values = self.mouth(params)
        if not np.isfinite(values).all():
            return mouth_coefficients(self.model, params)
        return dict(zip(MOUTH_NAMES, map(float, values), strict=True))

    def warm_up(self) -> None:
        """Compile the kernels of :meth:`landmarks`, :meth:`fit`, :meth:`meshes`, :meth:`mouth`
        and the pose angles
        (or load them from numba's cache) with the argument types a photo gives them, on a grey
        picture."""
        grey = np.full((64, 64, 3), 128, np.uint8)
        params = np.zeros((1, self.rows[1].shape[1] + 12))
        params[0, [0, 5, 10]] = 1.0
        box = np.array([[0.0, 0.0, 64.0, 64.0]])
        weights, _ = self.fit(grey, params, box, self.landmarks(params, box))
        self.meshes(params, weights, box)
        self.mouth(params[0])
        self.pose_angles(params[0, :12])


class CompiledStage:
    """The tracker's network and refiner stages (:meth:`Tracker._predict
    <morph3d.pipeline.tracker.Tracker>`) with their arithmetic compiled.

    Args:
        faces: The compiled per-face arithmetic (its model, eye and brow refiners).
        network: The regressor, run on each crop and on it flipped left to right.
        mirror: The model's parameter mirror (default: a new one; the reconstructor's
            :class:`~morph3d.inference.flip.FlipAveraged` has one with its map solved).
    """

    #: A face's landmark checks (:func:`~morph3d.core.compiled.landmark_motion`).
    landmark_motion = staticmethod(landmark_motion)

    def __init__(
        self, faces: CompiledFaces, network: OnnxPredictor, mirror: ParamMirror | None = None
    ) -> None:
        #: The per-face arithmetic after the regressor.
        self.faces = faces
        self.network = network
        self.size = network.input_size
        self._mirror = (mirror or ParamMirror(faces.model)).affine

    def warm_up(self) -> None:
        """Compile every kernel the tracker calls (or load it from numba's cache) with the
        argument types a frame gives them, on a grey picture: the first frames of a tracker then
        take milliseconds instead of seconds (``setup.sh`` runs this once). The photo path's
        kernels too (:meth:`CompiledFaces.warm_up`)."""
        from morph3d.core.filters import FilterConfig, OneEuroFilter

        grey = np.full((2 * self.size, 2 * self.size, 3), 128, np.uint8)
        box = np.array([[0.0, 0.0, 1.5 * self.size, 1.5 * self.size]])
        _, landmarks, _, _ = self.run(grey, box)
        self.faces.warm_up()
        width, height = grey.shape[1], grey.shape[0]
        self.landmark_motion(landmarks[0], landmarks[0], width, height)
        smoother = OneEuroFilter(FilterConfig(), joint_axis=True)
        for time_ in (0.0, 0.1):
            smoother(landmarks[0], time_, 1.0)

    def run(
        self, rgb: np.ndarray, boxes: np.ndarray, times: StageTimes | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The faces in crop boxes of an RGB image, as the tracker's numpy path finds them.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.
            boxes: ``(F, 4)`` crop boxes in image pixels.
            times: Where to add the seconds of the ``network`` and ``refiners`` stages.

        Returns:
            ``(F, 62)`` raw parameters in the crop frames, ``(F, 68, 3)`` image landmarks with
            the blendshapes, the ``(F, S, S, 3)`` crops the network saw, and the ``(F, 9)``
            blendshape coefficients.
        """
        started = time.perf_counter()
        boxes = np.ascontiguousarray(boxes, dtype=np.float64)
        rgb = np.ascontiguousarray(rgb)
        crops = np.stack([crop_image(rgb, box, self.size) for box in boxes])
        plain, mirrored = network_inputs(crops)
        session, name = self.network.session, self.network.input_name
        if self.network.runs > 1:  # the crop and its mirror at once, a core each
            calls = [partial(session.run, None, {name: x}) for x in (plain, mirrored)]
            outputs = [output[0] for output in concurrently(calls)]
        else:  # one run of both, on the session's own threads
            both = session.run(None, {name: np.concatenate([plain, mirrored])})[0]
            outputs = [both[: len(boxes)], both[len(boxes) :]]
        plain_params, flipped_params = (np.asarray(out, dtype=np.float64) for out in outputs)
        matrix, offset = self._mirror
        params, landmarks, frames = place_faces(
            plain_params, flipped_params, matrix, offset, boxes, *self.faces.rows
        )
        placed = time.perf_counter()
        weights, landmarks = self.faces.fit(rgb, params, boxes, frames=frames)
        if times is not None:
            times.add("network", placed - started)
            times.add("refiners", time.perf_counter() - placed)
        return params, landmarks, crops, weights
