"""Annotated faces shrunk to other faces' sizes: what a small face's annotation can tell.

The eye figures of a small face rest on an opening of one or two pixels. To tell what the
method loses at that size from what the annotation loses, :func:`shrink_faces` scales photos
down (area interpolation) so that each face's landmark box takes a size drawn from a list (e.g.
the sizes of the dlib faces), and carries the annotation along: exactly (its eye aperture, a
ratio, is that of the full-size annotation) or rounded to whole pixels as small faces'
annotations are stored (dlib's XML).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from morph3d.core.metrics import landmark_box_size
from morph3d.io.datasets import AnnotatedFace
from morph3d.io.image import read_image, write_image
from morph3d.progress import Progress, no_progress

__all__ = ["shrink_faces"]


def shrink_faces(
    faces: Sequence[AnnotatedFace],
    sizes: Sequence[float] | np.ndarray,
    folder: str | os.PathLike[str],
    rounded: bool = False,
    seed: int = 0,
    progress: Progress = no_progress,
) -> list[AnnotatedFace]:
    """Each face's photo scaled down so that its landmark box takes a size drawn from ``sizes``.

    Args:
        faces: Annotated faces (their photos are read, never written).
        sizes: Landmark box sizes in pixels (:func:`~morph3d.core.metrics.landmark_box_size`)
            to draw from, one per face, with replacement. A face already smaller keeps its size.
        folder: Where the shrunk photos go (PNG, one per face, named by its position).
        rounded: Round the carried landmarks to whole pixels; else they are exact.
        seed: Seed of the draw (the same seed draws the same sizes).
        progress: tqdm-like wrapper of the faces.

    Returns:
        The shrunk faces, in order: the photo in ``folder``, the landmarks in its pixels
        (0-based; pixel centres scale about the half-pixel), the name and yaw kept.

    Raises:
        ValueError: ``sizes`` is empty or not all positive.
    """
    pool = np.asarray(sizes, dtype=np.float64).reshape(-1)
    if not len(pool) or not np.all(pool > 0):
        raise ValueError("sizes must hold at least one positive size")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    draws = np.random.default_rng(seed).choice(pool, size=len(faces))
    out = []
    for k, (face, size) in enumerate(
        progress(list(zip(faces, draws, strict=True)), desc="shrinking", unit="face")
    ):
        image = read_image(face.image_path)
        scale = min(float(size) / max(float(landmark_box_size(face.landmarks)), 1e-9), 1.0)
        height, width = image.shape[:2]
        shape = (max(1, round(width * scale)), max(1, round(height * scale)))
        shrunk = cv2.resize(image, shape, interpolation=cv2.INTER_AREA)
        factors = np.array([shape[0] / width, shape[1] / height])
        points = (np.asarray(face.landmarks, dtype=np.float64) + 0.5) * factors - 0.5
        path = write_image(target / f"{k:05d}.png", shrunk)
        out.append(
            AnnotatedFace(
                name=face.name,
                image_path=path,
                landmarks=np.round(points) if rounded else points,
                yaw=face.yaw,
                silhouette_jaw=face.silhouette_jaw,
            )
        )
    return out
