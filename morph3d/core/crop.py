"""The crop frame of the model and its relation to image pixels.

The decoder returns points in the frame of a ``CROP_SIZE`` x ``CROP_SIZE`` (120) face crop with
**y pointing up**: a point ``(x, y)`` sits at the 0-based crop pixel ``(x - 1, CROP_SIZE - y)``.
A crop box ``(x0, y0, x1, y1)`` in image pixels (x right, y down) maps the crop onto the image,
so with ``sx = (x1 - x0) / CROP_SIZE`` and ``sy = (y1 - y0) / CROP_SIZE``::

    u = x0 + (x - 1) * sx
    v = y0 + (CROP_SIZE - y) * sy
    w = z * (sx + sy) / 2          # depth, toward the viewer, at the image's scale

The point functions take numpy arrays or torch tensors (differentiable) with matching leading
batch dimensions. Because the map is affine, it can also be folded into the pose of the
parameters (:func:`params_to_image`): the decoder then returns image pixels directly, which is
the frame in which a tracker compares and smooths the parameters of consecutive frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from morph3d.core._array import amax, amin, stack

__all__ = [
    "CROP_SCALE",
    "CROP_SIZE",
    "crop_box_from_landmarks",
    "crop_to_image",
    "image_to_crop",
    "jitter_boxes",
    "params_to_crop",
    "params_to_image",
    "scale_box",
    "turn_params",
    "turning_matrix",
]

#: Side of the square crop the model's coordinates refer to, in pixels.
CROP_SIZE = 120

#: Side of the crop box over the longer side of the landmarks' bounding box.
CROP_SCALE = 1.5


def crop_box_from_landmarks(landmarks: Any, scale: float = CROP_SCALE) -> Any:
    """The square crop box the network sees, from 68 landmarks: one rule for fitting, training,
    evaluation and tracking.

    The box is centred on the landmarks' bounding box and its side is ``scale`` (1.5) times the
    longer side of that bounding box. With 1.5 the mean face of the model's statistics fills the
    120x120 crop as it does in the statistics (its landmarks span 79 of the 120 pixels).

    Args:
        landmarks: ``(..., n, 2|3)`` landmarks in image pixels (x right, y down).
        scale: Side of the crop over the longer side of the landmarks' box.

    Returns:
        ``(..., 4)`` boxes ``(x0, y0, x1, y1)`` in image pixels, square.
    """
    lower = amin(landmarks[..., :2], axis=-2)
    upper = amax(landmarks[..., :2], axis=-2)
    centre = (lower + upper) / 2
    half = scale * amax(upper - lower, axis=-1) / 2
    return stack(
        [
            centre[..., 0] - half,
            centre[..., 1] - half,
            centre[..., 0] + half,
            centre[..., 1] + half,
        ],
        axis=-1,
    )


def scale_box(boxes: Any, factor: float) -> Any:
    """Scale ``(..., 4)`` boxes about their centres by ``factor``."""
    centre_x = (boxes[..., 0] + boxes[..., 2]) / 2
    centre_y = (boxes[..., 1] + boxes[..., 3]) / 2
    half_w = (boxes[..., 2] - boxes[..., 0]) * factor / 2
    half_h = (boxes[..., 3] - boxes[..., 1]) * factor / 2
    return stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], -1)


def jitter_boxes(boxes: np.ndarray, shift: float) -> np.ndarray:
    """Each box and four copies moved by ``shift`` of its side left, right, up and down.

    Args:
        boxes: ``(..., 4)`` boxes ``(x0, y0, x1, y1)``.
        shift: The move as a fraction of the box's width (x) and height (y).

    Returns:
        ``(..., 5, 4)`` float64 boxes: the box itself first.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    width = boxes[..., 2] - boxes[..., 0]
    height = boxes[..., 3] - boxes[..., 1]
    steps = np.array([[0.0, 0.0], [-1, 0], [1, 0], [0, -1], [0, 1]]) * shift
    dx = steps[:, 0] * width[..., None]  # (..., 5)
    dy = steps[:, 1] * height[..., None]
    return boxes[..., None, :] + np.stack([dx, dy, dx, dy], axis=-1)


def _box_terms(points: Any, boxes: Any, crop_size: int) -> tuple[Any, Any, Any, Any]:
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must end with 4 numbers (x0, y0, x1, y1), got {boxes.shape}")
    if boxes.ndim > 1 and tuple(boxes.shape[:-1]) != tuple(points.shape[:-2]):
        raise ValueError(
            f"boxes {tuple(boxes.shape)} must be (4,) or match the points' batch "
            f"{tuple(points.shape[:-2])}"
        )
    x0 = boxes[..., 0:1]
    y0 = boxes[..., 1:2]
    sx = (boxes[..., 2:3] - x0) / crop_size
    sy = (boxes[..., 3:4] - y0) / crop_size
    return x0, y0, sx, sy


def crop_to_image(points: Any, boxes: Any, crop_size: int = CROP_SIZE) -> Any:
    """Map crop-frame points to image pixels.

    Args:
        points: ``(..., N, 2|3)`` points in the crop frame (y up).
        boxes: ``(..., 4)`` crop boxes ``(x0, y0, x1, y1)`` in image pixels, one per face of
            the batch, or a single ``(4,)`` box for all.
        crop_size: Side of the crop frame.

    Returns:
        ``(..., N, 2|3)`` points in image pixels: x right, y down, z toward the viewer, scaled
        by the mean of the box's two scales.
    """
    x0, y0, sx, sy = _box_terms(points, boxes, crop_size)
    columns = [x0 + (points[..., 0] - 1) * sx, y0 + (crop_size - points[..., 1]) * sy]
    if points.shape[-1] == 3:
        columns.append(points[..., 2] * (sx + sy) / 2)
    return stack(columns, axis=-1)


def image_to_crop(points: Any, boxes: Any, crop_size: int = CROP_SIZE) -> Any:
    """Map image pixels to the crop frame; the inverse of :func:`crop_to_image`.

    Args:
        points: ``(..., N, 2|3)`` points in image pixels.
        boxes: ``(..., 4)`` crop boxes ``(x0, y0, x1, y1)`` in image pixels.
        crop_size: Side of the crop frame.

    Returns:
        ``(..., N, 2|3)`` points in the crop frame (y up).
    """
    x0, y0, sx, sy = _box_terms(points, boxes, crop_size)
    columns = [(points[..., 0] - x0) / sx + 1, crop_size - (points[..., 1] - y0) / sy]
    if points.shape[-1] == 3:
        columns.append(points[..., 2] * 2 / (sx + sy))
    return stack(columns, axis=-1)


def _image_affine(boxes: np.ndarray, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(D, o)`` with ``image = D @ crop + o``: ``D`` ``(..., 3)`` diagonal, ``o`` ``(..., 3)``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must end with 4 numbers (x0, y0, x1, y1), got {boxes.shape}")
    sx = (boxes[..., 2] - boxes[..., 0]) / crop_size
    sy = (boxes[..., 3] - boxes[..., 1]) / crop_size
    diagonal = np.stack([sx, -sy, (sx + sy) / 2], axis=-1)
    offset = np.stack(
        [boxes[..., 0] - sx, boxes[..., 1] + crop_size * sy, np.zeros_like(sx)], axis=-1
    )
    return diagonal, offset


def params_to_image(
    params: np.ndarray, boxes: np.ndarray, crop_size: int = CROP_SIZE
) -> np.ndarray:
    """Fold the crop-to-image map into the pose of raw parameters.

    Decoding the result gives what :func:`crop_to_image` gives for the decoded ``params``:
    points in image pixels. Shape and expression coefficients are unchanged.

    Args:
        params: ``(..., 62)`` raw parameters in the crop frame of ``boxes``.
        boxes: ``(..., 4)`` crop boxes in image pixels.
        crop_size: Side of the crop frame.

    Returns:
        ``(..., 62)`` float64 parameters whose pose maps model points to image pixels.
    """
    diagonal, offset = _image_affine(boxes, crop_size)
    out = np.array(params, dtype=np.float64)
    pose = out[..., :12].reshape(*out.shape[:-1], 3, 4)
    pose *= diagonal[..., :, None]
    pose[..., 3] += offset
    out[..., :12] = pose.reshape(*out.shape[:-1], 12)
    return out


def params_to_crop(params: np.ndarray, boxes: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """The inverse of :func:`params_to_image`: image-frame parameters into a box's crop frame."""
    diagonal, offset = _image_affine(boxes, crop_size)
    out = np.array(params, dtype=np.float64)
    pose = out[..., :12].reshape(*out.shape[:-1], 3, 4)
    pose[..., 3] -= offset
    pose /= diagonal[..., :, None]
    out[..., :12] = pose.reshape(*out.shape[:-1], 12)
    return out


def turning_matrix(boxes: np.ndarray, degrees: np.ndarray | float) -> np.ndarray:
    """``(..., 2, 3)`` affine maps of image pixels that turn the image by ``degrees``
    counterclockwise (as seen) about each box's centre (OpenCV's ``getRotationMatrix2D``
    convention, y down).

    Args:
        boxes: ``(..., 4)`` boxes in image pixels.
        degrees: ``(...)`` angles (or one for all boxes).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    radians = np.broadcast_to(np.radians(np.asarray(degrees, dtype=np.float64)), boxes.shape[:-1])
    cos, sin = np.cos(radians), np.sin(radians)
    rotation = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # (..., 2, 2)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    shift = centre - np.einsum("...ij,...j->...i", rotation, centre)
    return np.concatenate([rotation, shift[..., None]], axis=-1)


def turn_params(
    params: np.ndarray, boxes: np.ndarray, degrees: np.ndarray | float, crop_size: int = CROP_SIZE
) -> np.ndarray:
    """Parameters predicted in a turned crop, moved into the box's plain crop frame.

    A crop cut from the image turned by ``degrees`` about the box's centre
    (:func:`morph3d.io.image.crop_image` with ``angle``) shows the face turned; the network's
    parameters of it describe that turned face. This gives the same face's parameters in the
    crop frame of the unturned image: decoding them lands on the face in the image.

    Args:
        params: ``(..., 62)`` raw parameters in the turned crops' frames.
        boxes: ``(..., 4)`` crop boxes in image pixels.
        degrees: ``(...)`` the turn of each crop (counterclockwise, as seen).
        crop_size: Side of the crop frame.

    Returns:
        ``(..., 62)`` float64 parameters; shape and expression unchanged.
    """
    image = params_to_image(params, boxes, crop_size)
    turn = turning_matrix(boxes, degrees)
    back = np.swapaxes(turn[..., :2], -1, -2)  # the inverse rotation
    pose = image[..., :12].reshape(*image.shape[:-1], 3, 4)
    pose[..., :2, :3] = back @ pose[..., :2, :3]
    start = pose[..., :2, 3] - turn[..., 2]
    pose[..., :2, 3] = np.einsum("...ij,...j->...i", back, start)
    image[..., :12] = pose.reshape(*image.shape[:-1], 12)
    return params_to_crop(image, boxes, crop_size)
