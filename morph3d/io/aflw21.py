"""The AFLW 21-point faces (``shared/data/aflw21``): reading and filtering.

The set is a folder with ``aflw21.npz`` (read with ``allow_pickle=False``) and ``crops/NAME.jpg``
(120x120 crops over each face's ``roi_box`` in its photo). Points are 0-based crop pixels (x
right, y down), NaN where not annotated; the point order is that of
:mod:`morph3d.core.landmarks21`. A positive ``yaw_degrees`` puts the nose tip left of the eyes'
midpoint in the image, the opposite sign of the model's yaw (:mod:`morph3d.core.pose`).

:func:`filter_aflw21` drops the bad entries, each for the first of these reasons that applies:

* ``too_few_points``: fewer than ``min_points`` visible points with a model counterpart (ear
  lobes do not count): the pose is underdetermined.
* ``outside``: a visible point more than ``max_outside`` pixels outside the 120x120 crop; those
  crops cut the face (a nose or a chin filling the crop, the points of the rest far away).
* ``suspect_yaw``: ``|yaw_degrees| > max_abs_yaw``, AFLW's out-of-range entries.
* ``blank``: the crop's grey-level standard deviation is below ``min_image_std`` (a uniform
  patch, no face).

On the 18,997 faces of the shared set the defaults keep 18,055 and drop, by first reason:
164 with too few points (1 face has 3 such points, 5 have 4, 158 have 5), 36 with points
outside, 742 suspect yaws (of the 781 above 90 degrees; 39 were already dropped for their
points) and 0 blank crops (the one blank crop, ``image14013``, has a yaw of 168 degrees).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morph3d.core.landmarks21 import FITTED_21, N_AFLW21
from morph3d.io.image import read_image
from morph3d.progress import Progress, no_progress

__all__ = [
    "Aflw21Faces",
    "Aflw21Filter",
    "crop_path",
    "filter_aflw21",
    "read_aflw21",
    "read_crop",
]

#: Side of the AFLW crops in pixels.
AFLW_CROP_SIZE = 120


@dataclass(frozen=True)
class Aflw21Faces:
    """Faces of the AFLW 21-point set, as arrays (one row per face).

    Attributes:
        root: The set's folder.
        names: ``(N,)`` crop file stems.
        points: ``(N, 21, 2)`` float32 crop pixels (x right, y down, 0-based), NaN where not
            visible.
        visible: ``(N, 21)`` annotated points.
        roi_box: ``(N, 4)`` the crop's box ``x0, y0, x1, y1`` in the original photo.
        yaw_degrees: ``(N,)`` AFLW's yaw annotation (positive: nose left in the image).
    """

    root: Path
    names: np.ndarray
    points: np.ndarray
    visible: np.ndarray
    roi_box: np.ndarray
    yaw_degrees: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: np.ndarray) -> Aflw21Faces:
        """The faces at ``index`` (integers or a boolean mask)."""
        return Aflw21Faces(
            self.root,
            self.names[index],
            self.points[index],
            self.visible[index],
            self.roi_box[index],
            self.yaw_degrees[index],
        )


@dataclass(frozen=True)
class Aflw21Filter:
    """Thresholds of :func:`filter_aflw21` (chosen by looking at the shared set).

    Attributes:
        min_points: Fewest visible points with a model counterpart (the 19 without the ears).
            164 faces have 3 to 5; 6 points (12 numbers) fix a weak-perspective pose (6)
            with some to spare for the shape.
        max_outside: Largest distance in pixels of a visible point outside the 120x120 crop.
            106 faces have a point outside at all, 55 beyond 5 px, 38 beyond 10 px; beyond
            10 px the crops seen cut the face (a nose or a chin filling the crop).
        max_abs_yaw: Largest ``|yaw_degrees|``; the 781 entries above 90 are suspect.
        min_image_std: Smallest grey-level standard deviation of a crop; one crop (9.3) is a
            uniform patch, the next ones (11 and up) are dark but real faces.
    """

    min_points: int = 6
    max_outside: float = 10.0
    max_abs_yaw: float = 90.0
    min_image_std: float = 10.0


def crop_path(root: str | os.PathLike[str], name: str) -> Path:
    """``root/crops/NAME.jpg``."""
    return Path(root) / "crops" / f"{name}.jpg"


def read_crop(root: str | os.PathLike[str], name: str) -> np.ndarray:
    """The ``(120, 120, 3)`` uint8 RGB crop of a face."""
    return read_image(crop_path(root, name))


def read_aflw21(root: str | os.PathLike[str]) -> Aflw21Faces:
    """Read the set's ``aflw21.npz`` (no images).

    Args:
        root: The folder with ``aflw21.npz`` and ``crops/``.

    Returns:
        All faces, unfiltered.

    Raises:
        FileNotFoundError: no ``aflw21.npz`` under ``root``.
        ValueError: an array is missing or has the wrong shape.
    """
    root = Path(root)
    path = root / "aflw21.npz"
    if not path.is_file():
        raise FileNotFoundError(f"no AFLW 21-point set at {path}")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    needed = ("names", "points", "visible", "roi_box", "yaw_degrees")
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise ValueError(f"{path} lacks {missing}")
    n = len(arrays["names"])
    if arrays["points"].shape != (n, N_AFLW21, 2) or arrays["visible"].shape != (n, N_AFLW21):
        raise ValueError(f"{path}: points/visible are not ({n}, 21, 2) / ({n}, 21)")
    points = arrays["points"].astype(np.float32)
    visible = arrays["visible"].astype(bool) & np.all(np.isfinite(points), axis=-1)
    points = np.where(visible[..., None], points, np.nan).astype(np.float32)
    return Aflw21Faces(
        root=root,
        names=np.asarray([str(name) for name in arrays["names"]]),
        points=points,
        visible=visible,
        roi_box=arrays["roi_box"].astype(np.float64).reshape(n, 4),
        yaw_degrees=arrays["yaw_degrees"].astype(np.float64).reshape(n),
    )


def _image_std(root: Path, names: Iterable[str], progress: Progress) -> np.ndarray:
    import cv2

    values = []
    names = list(names)
    for name in progress(names, desc="checking crops", total=len(names), unit="face"):
        image = cv2.imread(str(crop_path(root, name)), cv2.IMREAD_GRAYSCALE)
        values.append(-1.0 if image is None else float(image.std()))
    return np.asarray(values)


def filter_aflw21(
    faces: Aflw21Faces,
    config: Aflw21Filter | None = None,
    check_images: bool = True,
    progress: Progress = no_progress,
) -> tuple[Aflw21Faces, dict[str, int]]:
    """Drop the bad entries (see the module docstring for the reasons).

    Args:
        faces: The faces from :func:`read_aflw21`.
        config: Thresholds.
        check_images: Read the crops to find blank ones (and unreadable ones, counted as
            ``blank``); the point tests alone need no image.
        progress: Wraps an iterable to show progress (called with ``desc`` and ``total``).

    Returns:
        The kept faces and the number dropped for each reason (plus ``kept``).
    """
    config = config or Aflw21Filter()
    reasons = np.full(len(faces), "", dtype=object)

    def mark(reason: str, bad: np.ndarray) -> None:
        reasons[(reasons == "") & bad] = reason

    mark("too_few_points", (faces.visible & FITTED_21).sum(axis=1) < config.min_points)
    outside = np.maximum(-faces.points, faces.points - (AFLW_CROP_SIZE - 1))
    worst = np.nanmax(np.where(faces.visible[..., None], outside, -np.inf), axis=(1, 2))
    mark("outside", worst > config.max_outside)
    mark("suspect_yaw", ~(np.abs(faces.yaw_degrees) <= config.max_abs_yaw))
    if check_images:
        pending = np.flatnonzero(reasons == "")
        std = _image_std(faces.root, faces.names[pending], progress)
        blank = np.zeros(len(faces), dtype=bool)
        blank[pending] = std < config.min_image_std
        mark("blank", blank)
    counts = {
        reason: int(np.sum(reasons == reason))
        for reason in ("too_few_points", "outside", "suspect_yaw", "blank")
    }
    keep = reasons == ""
    counts["kept"] = int(keep.sum())
    return faces.subset(np.flatnonzero(keep)), counts
