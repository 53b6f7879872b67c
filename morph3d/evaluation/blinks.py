"""Blinks in a tracked clip: the eyeBlink coefficients beside the eye apertures they come from.

Per frame of a clip, :func:`blink_series` records the first tracked face's ``eyeBlinkRight``
and ``eyeBlinkLeft`` (the subject's sides), the eye aperture of its mesh landmarks (what the
mesh shows) and the aperture the eyelid refiner reads from the image at the same eyes (what the
blendshapes were fitted to). :func:`blink_peaks` finds the blinks; the plots are
:func:`~morph3d.evaluation.plots.plot_blinks` and
:func:`~morph3d.evaluation.plots.plot_blink_frames`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from morph3d.core.metrics import eye_aperture

__all__ = ["BLINK_NAMES", "BlinkSeries", "blink_peaks", "blink_series", "eye_band"]

#: The coefficients recorded, in the column order of :attr:`BlinkSeries.blink`.
BLINK_NAMES = ("eyeBlinkRight", "eyeBlinkLeft")


@dataclass
class BlinkSeries:
    """One clip's blink record (NaN on frames without a face).

    Attributes:
        fps: Frame rate of the clip.
        blink: ``(T, 2)`` eyeBlinkRight and eyeBlinkLeft in [0, 1].
        mesh_aperture: ``(T,)`` eye aperture of the mesh landmarks, both eyes averaged.
        refiner_aperture: ``(T,)`` eye aperture read by the eyelid refiner, both eyes averaged.
        vertices: ``(T, N, 3)`` float32 image-space mesh vertices (for drawing frames).
    """

    fps: float
    blink: np.ndarray
    mesh_aperture: np.ndarray
    refiner_aperture: np.ndarray
    vertices: np.ndarray

    @property
    def mean_blink(self) -> np.ndarray:
        """``(T,)`` the mean of the two eyeBlink coefficients."""
        return self.blink.mean(axis=1)

    def correlation(self) -> float:
        """Correlation over the frames with a face of the mean eyeBlink with the refiner's
        aperture (near -1 when the coefficients follow the eyelids)."""
        blink, aperture = self.mean_blink, self.refiner_aperture
        keep = np.isfinite(blink) & np.isfinite(aperture)
        if keep.sum() < 3 or np.std(blink[keep]) == 0 or np.std(aperture[keep]) == 0:
            return math.nan
        return float(np.corrcoef(blink[keep], aperture[keep])[0, 1])

    def summary(self, threshold: float = 0.5) -> dict[str, Any]:
        """A JSON-able digest: frames, frames with a face, blinks, their frames, correlation."""
        peaks = blink_peaks(self.mean_blink, threshold)
        return {
            "frames": len(self.blink),
            "frames_with_face": int(np.isfinite(self.mean_blink).sum()),
            "blinks": len(peaks),
            "blink_frames": [int(k) for k in peaks],
            "blink_vs_refiner_aperture_r": self.correlation(),
            "mesh_vs_refiner_aperture_r": _corr(self.mesh_aperture, self.refiner_aperture),
        }


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.std(a[keep]) == 0 or np.std(b[keep]) == 0:
        return math.nan
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def blink_series(tracker: Any, frames: Sequence[np.ndarray], fps: float) -> BlinkSeries:
    """Track a clip with a fresh tracker and record its first face's blinks.

    Args:
        tracker: A :class:`~morph3d.pipeline.tracker.Tracker` whose reconstructor has the eye
            refiner (``blendshapes=True``) and whose config has ``refine_eyes``.
        frames: The clip's RGB frames.
        fps: Their frame rate.

    Raises:
        ValueError: the tracker does not fit eye blendshapes.
    """
    eyes = tracker.reconstructor.eyes
    if eyes is None or not tracker.config.refine_eyes:
        raise ValueError("blink_series needs a tracker that refines the eyes (refine_eyes)")
    count = len(frames)
    blink = np.full((count, len(BLINK_NAMES)), np.nan)
    mesh = np.full(count, np.nan)
    refiner = np.full(count, np.nan)
    vertices: np.ndarray | None = None
    for k, frame in enumerate(frames):
        faces = tracker.update(frame, k / fps)
        if not faces:
            continue
        face = faces[0]
        if vertices is None:
            vertices = np.full((count, *face.vertices.shape), np.nan, dtype=np.float32)
        vertices[k] = face.vertices
        blink[k] = [face.blendshapes.get(name, np.nan) for name in BLINK_NAMES]
        mesh[k] = eye_aperture(face.landmarks).mean()
        refiner[k] = eye_aperture(eyes.refine(frame, face.raw_landmarks[None])[0]).mean()
    if vertices is None:
        vertices = np.full((count, 0, 3), np.nan, dtype=np.float32)
    return BlinkSeries(float(fps), blink, mesh, refiner, vertices)


def blink_peaks(blink: np.ndarray, threshold: float = 0.5, gap: int = 5) -> np.ndarray:
    """Frames where a blink peaks: each run of frames above ``threshold`` gives its highest
    frame; runs closer than ``gap`` frames are one blink.

    Args:
        blink: ``(T,)`` a blink coefficient per frame (NaN: no face, not a blink).
        threshold: The level a blink must pass.
        gap: Frames below the threshold that still join two runs.
    """
    values = np.nan_to_num(np.asarray(blink, dtype=np.float64), nan=-np.inf)
    above = np.flatnonzero(values > threshold)
    if not len(above):
        return np.zeros(0, dtype=np.int64)
    runs = np.split(above, np.flatnonzero(np.diff(above) > gap) + 1)
    return np.array([run[np.argmax(values[run])] for run in runs], dtype=np.int64)


def eye_band(image: np.ndarray, vertices: np.ndarray, height: int = 160) -> np.ndarray:
    """The band of a frame from the brows to below the eyes of a face, resized to ``height``.

    Args:
        image: ``(H, W, 3)`` uint8 frame.
        vertices: ``(N, 3)`` the face's image-space mesh vertices (they place the band: 22 % to
            58 % of the mesh's height from its top, its full width plus 5 %).
        height: Output height in pixels (the width keeps the band's aspect).
    """
    import cv2

    points = np.asarray(vertices, dtype=np.float64)[:, :2]
    (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
    margin = 0.05 * (right - left)
    x0, x1 = int(max(left - margin, 0)), int(min(right + margin, image.shape[1]))
    y0 = int(max(top + 0.22 * (bottom - top), 0))
    y1 = int(min(top + 0.58 * (bottom - top), image.shape[0]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError("the face lies outside the frame")
    band = image[y0:y1, x0:x1]
    width = max(round(band.shape[1] * height / band.shape[0]), 1)
    return cv2.resize(band, (width, height), interpolation=cv2.INTER_CUBIC)
