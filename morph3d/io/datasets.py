"""Finding annotated faces on disk: 300W ``.pts``, AFLW2000-3D / 300W-LP ``.mat``, dlib XML.

Every face comes out with its 68 landmarks as **0-based** image pixel coordinates. 300W defines
its first pixel as (1, 1), so ``.pts`` coordinates are shifted by -1; ``.mat`` and dlib
coordinates are used as they are.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from morph3d.errors import AnnotationError
from morph3d.io.annotations import read_dlib_xml, read_mat, read_pts

__all__ = [
    "VIEW_SEPARATOR",
    "AnnotatedFace",
    "DatasetFormat",
    "Failure",
    "find_faces",
    "photo_name",
    "split_indices",
]

DatasetFormat = Literal["300w", "mat", "dlib"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp")


@dataclass(frozen=True)
class AnnotatedFace:
    """One annotated face.

    Attributes:
        name: A unique name: the annotation's path relative to the root (and ``#k`` for the
            k-th face of a dlib image).
        image_path: The image file.
        landmarks: ``(68, 2)`` 0-based image pixel coordinates.
        yaw: Annotated yaw in degrees (``.mat`` files), else NaN.
        silhouette_jaw: The jaw points follow the visible outline, as in 2D annotations (300W,
            dlib, 300W-LP's ``pt2d``); False for 3D landmarks that are fixed model points
            (AFLW2000-3D's ``pt3d_68``), whose occluded jaw points lie behind the cheek.
    """

    name: str
    image_path: Path
    landmarks: np.ndarray
    yaw: float = math.nan
    silhouette_jaw: bool = True


@dataclass(frozen=True)
class Failure:
    """A face or file that could not be used, and why."""

    name: str
    reason: str


def _image_beside(annotation: Path) -> Path | None:
    for suffix in _IMAGE_SUFFIXES:
        for candidate in (annotation.with_suffix(suffix), annotation.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def find_faces(
    dataset_format: DatasetFormat, root: str | os.PathLike[str]
) -> tuple[list[AnnotatedFace], list[Failure]]:
    """List the annotated faces under ``root``, and what could not be read.

    Args:
        dataset_format: ``"300w"`` (``*.pts`` beside images), ``"mat"`` (``*.mat`` beside
            images) or ``"dlib"`` (``root`` is an XML file or a folder of them).
        root: Folder searched recursively (or an XML file for dlib).

    Returns:
        The faces sorted by name, and the failures (missing image, malformed annotation, ...).

    Raises:
        FileNotFoundError: ``root`` does not exist.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no dataset at {root}")
    faces: list[AnnotatedFace] = []
    failures: list[Failure] = []
    if dataset_format in ("300w", "mat"):
        suffix = ".pts" if dataset_format == "300w" else ".mat"
        for annotation in sorted(root.rglob(f"*{suffix}")):
            name = annotation.relative_to(root).with_suffix("").as_posix()
            image_path = _image_beside(annotation)
            if image_path is None:
                failures.append(Failure(name, "no image beside the annotation"))
                continue
            try:
                if dataset_format == "300w":
                    faces.append(AnnotatedFace(name, image_path, read_pts(annotation) - 1.0))
                else:
                    content = read_mat(annotation)
                    faces.append(
                        AnnotatedFace(
                            name,
                            image_path,
                            content.landmarks,
                            content.yaw_degrees,
                            silhouette_jaw=content.landmarks_3d is None,
                        )
                    )
            except AnnotationError as error:
                failures.append(Failure(name, error.reason))
    elif dataset_format == "dlib":
        documents = [root] if root.is_file() else sorted(root.rglob("*.xml"))
        for document in documents:
            try:
                images = read_dlib_xml(document)
            except AnnotationError as error:
                failures.append(Failure(document.name, error.reason))
                continue
            for image in images:
                for k, face in enumerate(image.faces):
                    name = f"{document.stem}/{image.path.stem}#{k}"
                    if face.landmarks is None or face.ignore:
                        continue
                    if not image.path.is_file():
                        failures.append(Failure(name, f"image {image.path} not found"))
                        continue
                    faces.append(AnnotatedFace(name, image.path, face.landmarks))
    else:
        raise ValueError(f"unknown dataset format {dataset_format!r}")
    return sorted(faces, key=lambda face: face.name), failures


#: Separates a face's name from the name of a view rendered from it: ``<face>@<view>``.
VIEW_SEPARATOR = "@"


def photo_name(face_name: str) -> str:
    """The photo a face comes from: its name without a trailing ``_<k>`` or ``#<k>``.

    300W numbers the faces of one photo ``<photo>_1``, ``<photo>_2``, ...; dlib faces are named
    ``<xml>/<image>#<k>`` here. A view rendered from a face (:mod:`morph3d.training.profiling`)
    is named ``<face>@<view>`` and belongs to its face's photo, so that a face and all its
    views fall on one side of :func:`split_indices`.
    """
    face_name = face_name.split(VIEW_SEPARATOR, 1)[0]
    return re.sub(r"(_\d+|#\d+)$", "", face_name)


def split_indices(names: Sequence[str], val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The fixed training / validation split of faces.

    A face is held out when the SHA-1 of its photo name (:func:`photo_name`), read as a number
    in [0, 1), is below ``val_fraction``: the split depends on nothing but the names, and all
    faces of one photo fall on the same side.

    Returns:
        Indices of the training faces and of the validation faces.
    """
    held_out = []
    for name in names:
        digest = hashlib.sha1(photo_name(name).encode()).digest()
        held_out.append(int.from_bytes(digest[:8], "big") / 2**64 < val_fraction)
    mask = np.asarray(held_out, dtype=bool)
    return np.flatnonzero(~mask), np.flatnonzero(mask)
