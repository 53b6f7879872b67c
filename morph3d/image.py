"""Reading images and cutting face crops, with OpenCV (layer 2).

Images are ``(H, W, 3)`` uint8 arrays in **RGB** order, the order the networks are trained on.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from morph3d.errors import ImageError
from morph3d.files import atomic_path

__all__ = ["crop_image", "crops_to_input", "read_image", "write_image"]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: Any format OpenCV reads (JPEG, PNG, PPM, ...).

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        ImageError: the file is missing, unreadable, corrupt or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"no image file at {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageError(f"empty image file {path}")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageError(f"cannot decode image {path} (corrupt or unsupported format)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def crop_image(
    image: np.ndarray, box: np.ndarray, size: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Cut a square box out of an image and resample it to ``size`` x ``size`` pixels.

    Crop pixel ``p`` (0-based) samples the image at ``x0 + p * (x1 - x0) / size`` (likewise in
    y), the convention of :mod:`morph3d.crop`. Parts of the box outside the image are black.

    Args:
        image: ``(H, W, C)`` image.
        box: ``(4,)`` ``x0, y0, x1, y1`` in image pixels.
        size: Output side in pixels.
        interpolation: OpenCV interpolation flag.

    Returns:
        ``(size, size, C)`` crop of the same dtype.
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty crop box {box}")
    sx, sy = (x1 - x0) / size, (y1 - y0) / size
    matrix = np.array([[1 / sx, 0, -x0 / sx], [0, 1 / sy, -y0 / sy]], dtype=np.float64)
    return cv2.warpAffine(
        image, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT
    )


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an RGB (or gray) uint8 image; the format follows the suffix. Atomic.

    Raises:
        ImageError: the image cannot be encoded in that format.
    """
    target = Path(path)
    color = image.ndim == 3
    ok, encoded = cv2.imencode(
        target.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if color else image
    )
    if not ok:
        raise ImageError(f"cannot encode an image as {target.suffix!r}")
    with atomic_path(target) as temporary:
        temporary.write_bytes(encoded.tobytes())
    return target


def crops_to_input(crops: np.ndarray) -> np.ndarray:
    """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 3, S, S)`` float32 network input,
    ``(pixel - 127.5) / 128``: the one normalisation of torch and ONNX Runtime inference."""
    array = np.asarray(crops, dtype=np.float32).transpose(0, 3, 1, 2)
    return (np.ascontiguousarray(array) - np.float32(127.5)) / np.float32(128.0)
