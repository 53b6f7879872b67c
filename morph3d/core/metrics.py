"""Accuracy metrics for landmarks, with numpy.

The normalised mean error (NME) of a face is the mean 2D point-to-point distance between
predicted and ground-truth landmarks divided by a normaliser, times 100:

    NME = 100 / (n * d) * sum_i || p_i - g_i ||_2

* ``"bbox"``: ``d = sqrt(width * height)`` of the ground-truth landmarks' bounding box, the
  AFLW2000-3D protocol;
* ``"interocular"``: ``d`` = distance between the outer eye corners, points 36 and 45 (0-based)
  of the 68-point scheme, the 300W protocol.

:func:`eye_aperture` gives the eyelid opening over the eye width, to see blinks. The
steadiness metrics of landmark tracks (jitter, lag) are in :mod:`morph3d.evaluation.steadiness`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from morph3d.core.landmarks68 import EYE_APERTURE, EYE_ORDER

__all__ = [
    "YAW_BIN_EDGES",
    "YawBinSummary",
    "brow_height",
    "eye_aperture",
    "landmark_box_size",
    "nme",
    "yaw_bin_index",
    "yaw_bin_labels",
    "yaw_bin_summary",
]

Normalizer = Literal["bbox", "interocular"]

#: Lower edges of the |yaw| bins in degrees: [0, 30), [30, 60), [60, 90+].
YAW_BIN_EDGES = (0.0, 30.0, 60.0)


def landmark_box_size(landmarks: np.ndarray) -> np.ndarray:
    """``sqrt(width * height)`` of the 2D bounding box of ``(..., n, 2|3)`` landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)[..., :2]
    extent = points.max(axis=-2) - points.min(axis=-2)  # (..., 2)
    return np.sqrt(extent[..., 0] * extent[..., 1])


def nme(pred: np.ndarray, target: np.ndarray, normalizer: Normalizer = "bbox") -> np.ndarray:
    """Normalised mean error in percent (see the module docstring).

    Only x and y are compared; a third coordinate is ignored.

    Args:
        pred: ``(..., 68, 2|3)`` predicted landmarks in pixels.
        target: ``(..., 68, 2|3)`` ground-truth landmarks in the same pixels.
        normalizer: ``"bbox"`` or ``"interocular"``.

    Returns:
        ``(...)`` NME of each face, in percent of the normaliser.

    Raises:
        ValueError: on mismatched shapes, an unknown normaliser or a zero-size normaliser.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape[:-1] != target.shape[:-1] or pred.shape[-1] < 2 or target.shape[-1] < 2:
        raise ValueError(f"pred {pred.shape} and target {target.shape} do not match")
    if normalizer == "bbox":
        scale = landmark_box_size(target)
    elif normalizer == "interocular":
        left, right = EYE_ORDER[0][0], EYE_ORDER[1][0]  # the outer eye corners
        scale = np.linalg.norm(target[..., left, :2] - target[..., right, :2], axis=-1)
    else:
        raise ValueError(f"normalizer must be 'bbox' or 'interocular', got {normalizer!r}")
    if np.any(scale <= 0):
        raise ValueError("the ground-truth landmarks have a zero-size normaliser")
    distances = np.linalg.norm(pred[..., :2] - target[..., :2], axis=-1)  # (..., n)
    return 100.0 * distances.mean(axis=-1) / scale


@dataclass(frozen=True)
class YawBinSummary:
    """NME summarised over |yaw| bins, as in the AFLW2000-3D literature.

    Attributes:
        edges: Lower edges of the bins in degrees; the last bin is open-ended.
        counts: Number of faces in each bin.
        means: Mean NME of each bin (NaN for an empty bin).
        balanced: Mean of the bin means over the non-empty bins.
        mean: Mean over all faces (image-weighted).
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    means: tuple[float, ...]
    balanced: float
    mean: float

    def labels(self) -> list[str]:
        """Readable bin names, e.g. ``["[0, 30)", "[30, 60)", "[60, 90+]"]``."""
        return yaw_bin_labels(self.edges)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: per bin label its count and mean, then the two overall means."""
        bins = {
            label: {"count": count, "nme": None if np.isnan(mean) else mean}
            for label, count, mean in zip(self.labels(), self.counts, self.means, strict=True)
        }
        return {"bins": bins, "balanced": self.balanced, "mean": self.mean}


def yaw_bin_labels(edges: tuple[float, ...] = YAW_BIN_EDGES) -> list[str]:
    """Readable names of the |yaw| bins, e.g. ``["[0, 30)", "[30, 60)", "[60, 90+]"]``."""
    names = [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]
    return [*names, f"[{edges[-1]:g}, 90+]"]


def yaw_bin_index(yaw_degrees: np.ndarray, edges: tuple[float, ...] = YAW_BIN_EDGES) -> np.ndarray:
    """The |yaw| bin of each face: ``k`` where ``edges[k] <= |yaw| < edges[k + 1]`` (the last
    bin is open above; ``-1`` for a NaN yaw)."""
    yaw = np.abs(np.asarray(yaw_degrees, dtype=np.float64).reshape(-1))
    which = np.searchsorted(np.asarray(edges), yaw, side="right") - 1
    return np.where(np.isnan(yaw), -1, which)


def yaw_bin_summary(
    errors: np.ndarray, yaw_degrees: np.ndarray, edges: tuple[float, ...] = YAW_BIN_EDGES
) -> YawBinSummary:
    """Summarise per-face errors by |yaw| bin.

    Args:
        errors: ``(B,)`` per-face NME.
        yaw_degrees: ``(B,)`` yaw of each face in degrees (its sign is ignored).
        edges: Increasing lower bin edges starting at 0.

    Returns:
        The :class:`YawBinSummary`.
    """
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    yaw = np.abs(np.asarray(yaw_degrees, dtype=np.float64).reshape(-1))
    if errors.shape != yaw.shape or errors.size == 0:
        raise ValueError(f"need as many errors as yaws (> 0), got {errors.shape} and {yaw.shape}")
    which = yaw_bin_index(yaw, edges)
    counts = tuple(int(np.sum(which == k)) for k in range(len(edges)))
    means = tuple(
        float(errors[which == k].mean()) if counts[k] else float("nan") for k in range(len(edges))
    )
    balanced = float(np.nanmean(means))
    return YawBinSummary(tuple(edges), counts, means, balanced, float(errors.mean()))


EyeIndices = tuple[tuple[tuple[int, int], tuple[tuple[int, int], ...]], ...]


def brow_height(landmarks: np.ndarray) -> np.ndarray:
    """Height of each brow above its eye over the outer-eye-corner distance: ``(..., 2)``
    (the subject's right brow, then the left).

    Each brow's mean point (17-21, 22-26) minus its eye's mean point (36-41, 42-47), along the
    face's up direction (perpendicular to the line from corner 36 to corner 45; image y down).

    Args:
        landmarks: ``(..., 68, 2|3)`` 68-point landmarks.
    """
    points = np.asarray(landmarks, dtype=np.float64)[..., :2]
    along = points[..., 45, :] - points[..., 36, :]
    distance = np.maximum(np.linalg.norm(along, axis=-1), 1e-12)
    x = along / distance[..., None]
    up = np.stack([x[..., 1], -x[..., 0]], axis=-1)  # x turned a quarter towards -y (image up)
    heights = []
    for brow, eye in ((slice(17, 22), slice(36, 42)), (slice(22, 27), slice(42, 48))):
        rise = points[..., brow, :].mean(axis=-2) - points[..., eye, :].mean(axis=-2)
        heights.append((rise * up).sum(axis=-1) / distance)
    return np.stack(heights, axis=-1)


def eye_aperture(landmarks: np.ndarray, eyes: EyeIndices = EYE_APERTURE) -> np.ndarray:
    """Eyelid opening over eye width, per eye: ``(..., n_eyes)``.

    For each eye, the mean of its upper-to-lower lid distances over its corner-to-corner
    distance (the "eye aspect ratio").

    Args:
        landmarks: ``(..., n, 2|3)`` landmarks.
        eyes: Per eye ``((corner, corner), ((upper, lower), ...))`` point indices; the default
            is the 68-point scheme (points 36-41 and 42-47).
    """
    points = np.asarray(landmarks, dtype=np.float64)[..., :2]
    largest = max(max(corners + tuple(i for pair in lids for i in pair)) for corners, lids in eyes)
    if points.shape[-2] <= largest:
        raise ValueError(f"expected more than {largest} landmarks, got {points.shape}")
    out = []
    for (a, b), lids in eyes:
        width = np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)
        opening = np.mean(
            [np.linalg.norm(points[..., u, :] - points[..., d, :], axis=-1) for u, d in lids],
            axis=0,
        )
        out.append(opening / np.maximum(width, 1e-12))
    return np.stack(out, axis=-1)
