"""Test videos made from one still photo, with known motion.

Used to measure tracking steadiness where the truth is known: a still face whose every frame has
fresh sensor noise and its own JPEG re-encoding (any landmark motion is jitter), and the same photo
shifted along a smooth known path (to measure lag).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["degrade", "lissajous_path", "moving_frames", "still_frames"]


def degrade(
    image: np.ndarray,
    rng: np.random.Generator,
    noise: float,
    quality: int,
    blur: float = 0.0,
    light: float = 1.0,
) -> np.ndarray:
    """One camera frame of ``image``: optional defocus, the light level, Gaussian sensor noise
    and a JPEG round trip.

    Args:
        image: ``(H, W, 3)`` uint8 picture.
        rng: Source of the noise.
        noise: Sensor noise in grey levels (at full light).
        quality: JPEG quality.
        blur: Gaussian defocus, sigma in pixels (0: none).
        light: Share of the light that reaches the sensor, in (0, 1]: the scene is dimmed by it,
            the noise added and the gain brings the frame back up, so the noise grows by
            ``1 / light`` and the dark frame's 8-bit steps show (a webcam in a dim room).
    """
    if not 0 < light <= 1:
        raise ValueError(f"light must be in (0, 1], got {light}")
    frame: np.ndarray = image.astype(np.float32)
    if blur > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), blur)
    dark = np.round(frame * light + rng.normal(0.0, noise, image.shape).astype(np.float32))
    frame = np.clip(np.clip(dark, 0, 255) / light + 0.5, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def still_frames(
    image: np.ndarray,
    count: int = 150,
    noise: float = 3.0,
    quality: int = 85,
    seed: int = 0,
    blur: float = 0.0,
    light: float = 1.0,
) -> list[np.ndarray]:
    """``count`` frames of a still ``(H, W, 3)`` uint8 image, each with fresh noise and JPEG
    (:func:`degrade`)."""
    rng = np.random.default_rng(seed)
    return [degrade(image, rng, noise, quality, blur, light) for _ in range(count)]


def lissajous_path(count: int, fps: float, amplitude: float, period: float = 2.0) -> np.ndarray:
    """``(count, 2)`` shifts in pixels: ``x = A sin(2 pi t / P)``, ``y = A/2 sin(4 pi t / P)``."""
    time = np.arange(count) / fps
    phase = 2 * np.pi * time / period
    return np.stack([amplitude * np.sin(phase), amplitude / 2 * np.sin(2 * phase)], axis=1)


def moving_frames(
    image: np.ndarray,
    shifts: np.ndarray,
    noise: float = 3.0,
    quality: int = 85,
    seed: int = 0,
) -> list[np.ndarray]:
    """Frames of ``image`` translated by ``shifts`` ``(T, 2)`` pixels (sub-pixel, bilinear,
    mirrored border), each with fresh noise and JPEG."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    frames = []
    for dx, dy in np.asarray(shifts, dtype=np.float64):
        matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        moved = cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
        )
        frames.append(degrade(moved, rng, noise, quality))
    return frames
