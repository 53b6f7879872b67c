"""Reading images and cutting face crops, with OpenCV.

Images are ``(H, W, 3)`` uint8 arrays in **RGB** order, the order the networks are trained on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from morph3d.core.crop import turning_matrix
from morph3d.errors import ImageError
from morph3d.files import atomic_path

ChannelOrder = Literal["rgb", "bgr"]

__all__ = [
    "ChannelOrder",
    "as_rgb",
    "crop_image",
    "crops_to_input",
    "read_image",
    "sample_colors",
    "write_image",
]


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
    image: np.ndarray,
    box: np.ndarray,
    size: int,
    interpolation: int = cv2.INTER_LINEAR,
    angle: float = 0.0,
) -> np.ndarray:
    """Cut a square box out of an image and resample it to ``size`` x ``size`` pixels.

    Crop pixel ``p`` (0-based) samples the image at ``x0 + p * (x1 - x0) / size`` (likewise in
    y), the convention of :mod:`morph3d.core.crop`. Parts of the box outside the image are black.

    Args:
        image: ``(H, W, C)`` image.
        box: ``(4,)`` ``x0, y0, x1, y1`` in image pixels.
        size: Output side in pixels.
        interpolation: OpenCV interpolation flag.
        angle: Cut the box out of the image turned by this many degrees counterclockwise (as
            seen) about the box's centre (:func:`morph3d.core.crop.turning_matrix`;
            :func:`morph3d.core.crop.turn_params` brings parameters predicted in such a crop
            back).

    Returns:
        ``(size, size, C)`` crop of the same dtype.
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty crop box {box}")
    sx, sy = (x1 - x0) / size, (y1 - y0) / size
    matrix = np.array([[1 / sx, 0, -x0 / sx], [0, 1 / sy, -y0 / sy]], dtype=np.float64)
    if angle:
        turn = turning_matrix(np.asarray(box, dtype=np.float64), np.asarray(angle))
        matrix = matrix @ np.vstack([turn, np.array([0.0, 0.0, 1.0])])
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


def as_rgb(image: Any, channel_order: ChannelOrder = "rgb") -> np.ndarray:
    """Any supported image as ``(H, W, 3)`` uint8 RGB.

    Args:
        image: A file path, a numpy array or a PIL image. Arrays are ``(H, W)`` gray,
            ``(H, W, 3)`` colour or ``(H, W, 4)`` with alpha (dropped); uint8, 16-bit
            integers (scaled by 1/257; PIL's ``I;16`` images too) or floats in [0, 1]
            (anything else is refused, not guessed).
        channel_order: Channel order of colour arrays: ``"rgb"`` (default) or ``"bgr"``
            (OpenCV frames). Files and PIL images know their own.

    Raises:
        ImageError: unreadable file, empty image, or an unsupported shape or type.
    """
    if isinstance(image, str | os.PathLike):
        return read_image(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        if image.mode.startswith("I;16") or image.mode in ("I", "F"):
            # PIL's convert("RGB") clips these to 255 (a white image): read the numbers.
            image = np.asarray(image)
            if image.dtype.kind in "iu" and image.size and 0 <= image.min() <= image.max() < 2**16:
                image = image.astype(np.uint16)
        else:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if not isinstance(image, np.ndarray):
        raise ImageError(f"unsupported image type {type(image).__name__}")
    if image.size == 0:
        raise ImageError(f"empty image of shape {image.shape}")
    if image.dtype.kind == "f":
        if not np.all(np.isfinite(image)):
            raise ImageError("the image has NaN or infinite values")
        if image.min() < 0 or image.max() > 1:
            raise ImageError(
                f"float images must be in [0, 1], got values in [{image.min():g}, "
                f"{image.max():g}] (for 0-255 values pass image.astype(np.uint8))"
            )
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype == np.uint16:
        image = ((image.astype(np.float64) / 257.0) + 0.5).astype(np.uint8)  # 16-bit -> 8-bit
    elif image.dtype != np.uint8:
        raise ImageError(
            f"unsupported image dtype {image.dtype} (use uint8, uint16 or floats in [0, 1])"
        )
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        color = np.ascontiguousarray(image[..., :3])
        return color[..., ::-1].copy() if channel_order == "bgr" else color
    raise ImageError(f"unsupported image shape {image.shape}")


def sample_colors(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 3)`` uint8 colours of an image at ``(N, 2+)`` pixel positions (bilinear, clamped)."""
    height, width = image.shape[:2]
    x = np.clip(points[:, 0], 0, width - 1).astype(np.float32)
    y = np.clip(points[:, 1], 0, height - 1).astype(np.float32)
    sampled = cv2.remap(image, x[None], y[None], interpolation=cv2.INTER_LINEAR)
    return sampled[0]
