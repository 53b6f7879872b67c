"""Separate 1€ settings for the quick parts of a face: what a faster filter on the eyes and the
mouth buys in blinks and speech, and what it costs in jitter.

:func:`region_filter_figures` filters one clip's raw landmark tracks offline, the rigid part
(jaw, brows, nose) with one :class:`~morph3d.core.filters.FilterConfig` and the eyes and mouth
with another, as the tracker's vertex filter does (one filter per point, its speed in face sizes
per second). The raw tracks stand in for the truth of the quick motions: a blink's depth and
timing, the mouth's opening. Figures:

* ``jitter_eyes``, ``jitter_mouth``, ``jitter_rest``: second-difference jitter of each group, %
  of the face size (:func:`~morph3d.evaluation.steadiness.acceleration_jitter`);
* ``blink_lag``, ``mouth_lag``: frames by which the filtered eye aperture (mean of both eyes)
  and mouth opening (inner lips, 62 to 66, over the face size) trail the raw ones
  (:func:`~morph3d.evaluation.steadiness.track_lag`, each series less its mean);
* ``blink_depth``: how much of the raw aperture's drop below its median the filtered one keeps,
  over the frames where the raw aperture is in its lowest ``blink_quantile`` (the blinks).

Offline filtering crops every frame where the raw tracker did; the tracker crops from the
filtered landmarks, so its figures differ a little (its crops move more smoothly).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from morph3d.core.filters import FilterConfig, OneEuroFilter
from morph3d.core.landmarks68 import EYES, MOUTH
from morph3d.core.metrics import eye_aperture, landmark_box_size
from morph3d.evaluation.steadiness import acceleration_jitter, track_lag

__all__ = ["QUICK_POINTS", "REST_POINTS", "filter_regions", "group_jitter", "region_filter_figures"]

#: The landmarks that move quickly on their own: eyes (blinks) and mouth (speech).
QUICK_POINTS: tuple[int, ...] = EYES + MOUTH
#: The rest of the 68: jaw, brows and nose.
REST_POINTS: tuple[int, ...] = tuple(k for k in range(68) if k not in QUICK_POINTS)

_MAX_LAG = 5.0


def filter_regions(
    raw: np.ndarray,
    fps: float,
    rest: FilterConfig,
    quick: FilterConfig,
    quick_points: Sequence[int] = QUICK_POINTS,
) -> np.ndarray:
    """Filter ``(T, 68, 2|3)`` raw pixel tracks (no NaN) with ``quick`` on ``quick_points`` and
    ``rest`` elsewhere; speeds in face sizes per second. Returns the filtered ``(T, 68, 2|3)``."""
    raw = np.asarray(raw, dtype=np.float64)
    quick_index = np.asarray(quick_points)
    rest_index = np.setdiff1d(np.arange(raw.shape[1]), quick_index)  # any quick_points
    filters = ((OneEuroFilter(rest, joint_axis=True), rest_index),
               (OneEuroFilter(quick, joint_axis=True), quick_index))  # fmt: skip
    out = np.empty_like(raw)
    for t, points in enumerate(raw):
        size = float(landmark_box_size(points))
        for one_euro, index in filters:
            out[t, index] = one_euro(points[index], t / fps, size)
    return out


def group_jitter(tracks: np.ndarray, size: float) -> dict[str, float]:
    """Second-difference jitter (% of ``size`` pixels) of ``(T, 68, 2|3)`` tracks: the eyes,
    the mouth, the rest (:data:`REST_POINTS`) and all 68 points."""
    return {
        "jitter_eyes": acceleration_jitter(tracks[:, list(EYES)], size),
        "jitter_mouth": acceleration_jitter(tracks[:, list(MOUTH)], size),
        "jitter_rest": acceleration_jitter(tracks[:, list(REST_POINTS)], size),
        "jitter_all": acceleration_jitter(tracks, size),
    }


def _mouth_opening(tracks: np.ndarray, size: float) -> np.ndarray:
    return np.linalg.norm(tracks[:, 62, :2] - tracks[:, 66, :2], axis=-1) / size


def region_filter_figures(
    raw: np.ndarray,
    fps: float,
    rest: FilterConfig,
    quick: FilterConfig,
    blink_quantile: float = 0.03,
) -> dict[str, float]:
    """The figures of the module docstring for one clip.

    Args:
        raw: ``(T, 68, 2|3)`` unsmoothed pixel tracks of one face, no NaN (T > 12).
        fps: The clip's frame rate.
        rest: Filter of the jaw, brows and nose.
        quick: Filter of the eyes and mouth (:data:`QUICK_POINTS`).
        blink_quantile: Share of the frames, those of the lowest raw aperture, that count as
            blinks for ``blink_depth``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    filtered = filter_regions(raw, fps, rest, quick)
    size = float(np.median(landmark_box_size(raw)))
    aperture_raw = eye_aperture(raw).mean(axis=-1)
    aperture = eye_aperture(filtered).mean(axis=-1)
    blinks = aperture_raw <= np.quantile(aperture_raw, blink_quantile)
    median = float(np.median(aperture_raw))
    mouth_raw, mouth = _mouth_opening(raw, size), _mouth_opening(filtered, size)
    return {
        **group_jitter(filtered, size),
        "blink_lag": track_lag(aperture - aperture.mean(), aperture_raw - aperture_raw.mean(),
                               _MAX_LAG),
        "blink_depth": float(np.mean(median - aperture[blinks])
                             / max(float(np.mean(median - aperture_raw[blinks])), 1e-12)),
        "mouth_lag": track_lag(mouth - mouth.mean(), mouth_raw - mouth_raw.mean(), _MAX_LAG),
    }  # fmt: skip
