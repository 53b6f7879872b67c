"""Training targets: annotated faces cropped and fitted with the morphable model, in HDF5.

For every face: the image around it (RGB, ``STORED_SIZE`` = 2x the network input, covering twice
the crop box so that augmentation has room), the crop box the network sees (from
:func:`morph3d.core.crop.crop_box_from_landmarks`), the annotation in the crop frame, the fitted 62
parameters, the fitted landmarks (marched and fixed), the fit error and flags.

File layout (one row per face; crop-frame arrays use the 120x120 frame with y up):

=====================  ==============  ===================================================
dataset                shape, dtype    content
=====================  ==============  ===================================================
``name``               (B,) str        unique face name (annotation path below the root)
``source``             (B,) str        image path as found
``image``              (B,S,S,3) u8    RGB image over ``image_box`` (S = 240)
``image_box``          (B,4) f8        box of ``image`` in the original image (pixels)
``crop_box``           (B,4) f8        the network's crop box, the middle half of ``image_box``
``annotation``         (B,68,2) f4     annotated landmarks, crop frame
``params``             (B,62) f8       fitted raw parameters
``fit_landmarks``      (B,68,3) f4     fitted landmarks after marching, crop frame
``model_landmarks``    (B,68,3) f4     the model's fixed landmark vertices, crop frame
``fit_nme``            (B,) f4         NME (bbox, %) of ``fit_landmarks`` vs ``annotation``
``yaw``                (B,) f4         annotated yaw in degrees, NaN if none
``silhouette_jaw``     (B,) u1         1 if the jaw annotation follows the outline (marched)
``fit_yaw``            (B,) f4         yaw of the fitted pose in degrees
``flags``              (B,) u1         bit 0: a coefficient at the +-3 std bound; bit 1: fit NME
                                       above 5; bit 2: the crop box leaves the image
``sparse``             (B,) u1         1 for a sparse face (optional, 0 when absent)
``sparse_points``      (B,21,2) f4     sparse faces' annotated AFLW points (order of
                                       :mod:`morph3d.core.landmarks21`), crop frame, NaN
                                       where not visible and on dense faces (optional)
``synthetic``          (B,) bool       a view rendered by face profiling
                                       (:mod:`morph3d.training.profiling`), not a photo
                                       (optional, False when absent)
``view_of``            (B,) i8         index in the same file of the face a view was made
                                       from, -1 for an original face (optional); in a
                                       file of views alone (attribute ``views_only``),
                                       its index in the file it was profiled from
=====================  ==============  ===================================================

**Dense and sparse faces.** A dense face (300W, ``.mat``, dlib) is annotated with 68 landmarks:
``annotation`` holds them. A sparse face (AFLW, :mod:`morph3d.training.aflw21_targets`) has
only the visible ones of 21 points, in ``sparse_points``; its ``annotation``, ``fit_landmarks``
and ``model_landmarks`` come from the fit, its ``fit_nme`` is the error on the visible points.
Files written before ``sparse`` existed read as all dense.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.core.crop import CROP_SIZE, crop_box_from_landmarks, image_to_crop, scale_box
from morph3d.core.fitting import FitConfig, LandmarkFitter
from morph3d.core.landmarks21 import N_AFLW21
from morph3d.core.model import MorphableModel
from morph3d.core.pose import decompose_pose
from morph3d.errors import ImageError
from morph3d.files import atomic_path
from morph3d.io.datasets import AnnotatedFace, Failure
from morph3d.io.image import crop_image, read_image
from morph3d.progress import Progress, no_progress

__all__ = [
    "FLAG_AT_BOUND",
    "FLAG_OUTSIDE",
    "FLAG_POOR_FIT",
    "STORED_SIZE",
    "Targets",
    "build_targets",
    "concatenate_targets",
    "read_targets",
    "target_attrs",
    "write_targets",
]

#: Side of the stored images: twice the network input, over twice the crop box.
STORED_SIZE = 2 * CROP_SIZE
FLAG_AT_BOUND = 1
FLAG_POOR_FIT = 2
FLAG_OUTSIDE = 4
_POOR_FIT_NME = 5.0
FORMAT_VERSION = 1


@dataclass
class Targets:
    """All faces of a targets file, as arrays (see the module docstring for each)."""

    name: list[str]
    source: list[str]
    image: np.ndarray
    image_box: np.ndarray
    crop_box: np.ndarray
    annotation: np.ndarray
    params: np.ndarray
    fit_landmarks: np.ndarray
    model_landmarks: np.ndarray
    fit_nme: np.ndarray
    yaw: np.ndarray
    silhouette_jaw: np.ndarray
    fit_yaw: np.ndarray
    flags: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)
    sparse: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    sparse_points: np.ndarray = field(
        default_factory=lambda: np.zeros((0, N_AFLW21, 2), dtype=np.float32)
    )

    synthetic: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    view_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        # Dense faces (and files written before sparse faces existed) carry no sparse points,
        # photos (and files written before profiling) are no views: left empty, the fields
        # are filled in.
        n = len(self.name)
        if np.size(self.synthetic) == 0:
            self.synthetic = np.zeros(n, dtype=bool)
        self.synthetic = np.asarray(self.synthetic, dtype=bool).reshape(n)
        if np.size(self.view_of) == 0:
            self.view_of = np.full(n, -1, dtype=np.int64)
        self.view_of = np.asarray(self.view_of, dtype=np.int64).reshape(n)
        if np.size(self.sparse) == 0:
            self.sparse = np.zeros(n, dtype=bool)
        self.sparse = np.asarray(self.sparse, dtype=bool).reshape(n)
        if np.size(self.sparse_points) == 0:
            self.sparse_points = np.full((n, N_AFLW21, 2), np.nan, dtype=np.float32)
        self.sparse_points = np.asarray(self.sparse_points, dtype=np.float32).reshape(
            n, N_AFLW21, 2
        )

    def __len__(self) -> int:
        return len(self.name)


_ARRAYS = (
    ("image", np.uint8),
    ("image_box", np.float64),
    ("crop_box", np.float64),
    ("annotation", np.float32),
    ("params", np.float64),
    ("fit_landmarks", np.float32),
    ("model_landmarks", np.float32),
    ("fit_nme", np.float32),
    ("yaw", np.float32),
    ("silhouette_jaw", np.uint8),
    ("fit_yaw", np.float32),
    ("flags", np.uint8),
)

#: Datasets added later: a file without them still reads (``Targets`` fills them in).
_OPTIONAL_ARRAYS = (
    ("sparse", np.uint8),
    ("sparse_points", np.float32),
    ("synthetic", np.bool_),
    ("view_of", np.int64),
)


def concatenate_targets(parts: Sequence[Targets], consume: bool = False) -> Targets:
    """One :class:`Targets` of several (e.g. 300W and AFLW files); ``attrs`` of the first,
    with ``parts`` naming each part's size. ``view_of`` indices are moved with their part; a
    part of views alone (``views_only``) points outside itself, so its views get -1.

    With ``consume``, each part's images are released as soon as they are copied (the part is
    left without them), so joining files of several GB needs the result's memory plus one
    part's, not twice the total.
    """
    if not parts:
        raise ValueError("no targets to concatenate")
    if len(parts) == 1:
        return parts[0]
    image = np.empty((sum(len(part) for part in parts), *parts[0].image.shape[1:]), np.uint8)
    start = 0
    for part in parts:
        image[start : start + len(part)] = part.image
        start += len(part)
        if consume:
            part.image = np.empty((0, *part.image.shape[1:]), np.uint8)  # not a view: freed
    arrays = {
        name: np.concatenate([getattr(part, name) for part in parts])
        for name, _ in (*_ARRAYS, *_OPTIONAL_ARRAYS)
        if name != "image"
    }
    arrays["image"] = image
    offsets = np.cumsum([0] + [len(part) for part in parts[:-1]])
    arrays["view_of"] = np.concatenate([
        np.full(len(part), -1) if part.attrs.get("views_only") else
        np.where(part.view_of >= 0, part.view_of + offset, -1)
        for part, offset in zip(parts, offsets, strict=True)
    ])  # fmt: skip
    attrs = dict(parts[0].attrs)
    attrs.pop("views_only", None)  # the joined indices point inside the joined set
    attrs["parts"] = json.dumps([len(part) for part in parts])
    return Targets(
        name=[n for part in parts for n in part.name],
        source=[s for part in parts for s in part.source],
        attrs=attrs,
        **arrays,
    )


def build_targets(
    faces: Sequence[AnnotatedFace],
    model: MorphableModel,
    config: FitConfig | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
    device: str = "cpu",
) -> tuple[Targets, list[Failure]]:
    """Crop and fit every face.

    Args:
        faces: The annotated faces (see :func:`morph3d.io.datasets.find_faces`).
        model: The morphable model.
        config: Fitting settings.
        batch_size: Faces fitted at once.
        progress: Wraps an iterable to show progress, e.g. ``tqdm`` (called with ``desc`` and
            ``total``).
        device: Torch device of the fit (``"cuda"``: each batch fitted on the GPU).

    Returns:
        The targets of the faces that worked, and a failure (with its reason) for each other.
    """
    failures: list[Failure] = []
    kept: list[AnnotatedFace] = []
    images, image_boxes, crop_boxes, outside = [], [], [], []
    for face in progress(faces, desc="cropping", total=len(faces), unit="face"):
        box = crop_box_from_landmarks(face.landmarks)
        if not np.all(np.isfinite(face.landmarks)) or box[2] - box[0] <= 1:
            failures.append(Failure(face.name, "degenerate or non-finite landmarks"))
            continue
        try:
            image = read_image(face.image_path)
        except ImageError as error:
            failures.append(Failure(face.name, str(error)))
            continue
        wide = scale_box(box, STORED_SIZE / CROP_SIZE)
        height, width = image.shape[:2]
        outside.append(box[0] < 0 or box[1] < 0 or box[2] > width - 1 or box[3] > height - 1)
        images.append(crop_image(image, wide, STORED_SIZE, interpolation=_area_or_linear(wide)))
        image_boxes.append(wide)
        crop_boxes.append(box)
        kept.append(face)

    fitter = LandmarkFitter(model, config, device)
    n = len(kept)
    crop_box_array = np.asarray(crop_boxes, dtype=np.float64).reshape(n, 4)
    landmarks = np.asarray([face.landmarks for face in kept], dtype=np.float64).reshape(n, 68, 2)
    annotation = image_to_crop(landmarks, crop_box_array)
    silhouette = np.asarray([face.silhouette_jaw for face in kept], dtype=bool)
    chunks = []
    starts = range(0, n, batch_size)
    for start in progress(starts, desc="fitting", total=len(starts), unit="batch"):
        part = slice(start, start + batch_size)
        chunks.append(fitter.fit(annotation[part], silhouette_jaw=silhouette[part]))

    def joined(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if not chunks:
            return np.zeros((0, *shape))
        return np.concatenate([getattr(chunk, name) for chunk in chunks])

    params = joined("params", (62,))
    z = model.layout.normalize(params)[:, model.layout.coefficients] if n else np.zeros((0, 50))
    fit_nme = joined("error", ())
    limit = fitter.config.coefficient_limit
    flags = np.zeros(n, dtype=np.uint8)
    if limit is not None:
        flags |= np.where(np.any(np.abs(z) >= 0.999 * limit, axis=1), FLAG_AT_BOUND, 0).astype(
            np.uint8
        )
    flags |= np.where(fit_nme > _POOR_FIT_NME, FLAG_POOR_FIT, 0).astype(np.uint8)
    flags |= np.where(np.asarray(outside, dtype=bool), FLAG_OUTSIDE, 0).astype(np.uint8)
    fit_yaw = decompose_pose(params[:, :12]).angles[:, 0] if n else np.zeros(0)
    targets = Targets(
        name=[face.name for face in kept],
        source=[str(face.image_path) for face in kept],
        image=np.asarray(images, dtype=np.uint8).reshape(n, STORED_SIZE, STORED_SIZE, 3),
        image_box=np.asarray(image_boxes, dtype=np.float64).reshape(n, 4),
        crop_box=crop_box_array,
        annotation=annotation.astype(np.float32),
        params=params,
        fit_landmarks=joined("landmarks", (68, 3)).astype(np.float32),
        model_landmarks=joined("model_landmarks", (68, 3)).astype(np.float32),
        fit_nme=fit_nme.astype(np.float32),
        yaw=np.asarray([face.yaw for face in kept], dtype=np.float32),
        silhouette_jaw=silhouette.astype(np.uint8),
        fit_yaw=fit_yaw.astype(np.float32),
        flags=flags,
        attrs=target_attrs(model, fitter.config),
    )
    return targets, failures


def target_attrs(model: MorphableModel, fit_config: FitConfig) -> dict[str, Any]:
    """The file attributes of targets fitted with ``fit_config``: format, sizes, the model."""
    return {
        "format_version": FORMAT_VERSION,
        "crop_size": CROP_SIZE,
        "stored_size": STORED_SIZE,
        "channel_order": "RGB",
        "model_name": str(model.metadata.get("name", "")),
        "model_source_sha256": str(model.metadata.get("source_sha256", "")),
        "fit_config": json.dumps(
            {k: str(v) if k == "dtype" else v for k, v in asdict(fit_config).items()}
        ),
    }


def _area_or_linear(box: np.ndarray) -> int:
    """Area averaging when shrinking (no aliasing), bilinear when enlarging."""
    import cv2

    return cv2.INTER_AREA if box[2] - box[0] > STORED_SIZE else cv2.INTER_LINEAR


def write_targets(path: str | os.PathLike[str], targets: Targets) -> Path:
    """Write targets to an HDF5 file atomically (a temporary file renamed into place)."""
    import h5py

    with atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as out:
            text = h5py.string_dtype("utf-8")
            out.create_dataset("name", data=np.asarray(targets.name, dtype=object), dtype=text)
            out.create_dataset("source", data=np.asarray(targets.source, dtype=object), dtype=text)
            for name, dtype in (*_ARRAYS, *_OPTIONAL_ARRAYS):
                data = np.asarray(getattr(targets, name), dtype=dtype)
                chunks = (1, *data.shape[1:]) if name == "image" and len(data) else None
                out.create_dataset(name, data=data, chunks=chunks)
            for key, value in targets.attrs.items():
                out.attrs[key] = value
    return Path(path)


def read_targets(path: str | os.PathLike[str]) -> Targets:
    """Read a targets file written by :func:`write_targets` into memory.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file lacks a dataset or has another format version.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no targets file at {path}; make it with scripts/fit_3dmm.py")
    with h5py.File(path, "r") as source:
        missing = [n for n, _ in (*_ARRAYS, ("name", 0), ("source", 0)) if n not in source]
        if missing:
            raise ValueError(f"{path} is not a targets file: it lacks {missing}")
        attrs = dict(source.attrs)
        if int(attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise ValueError(f"{path}: targets format {attrs.get('format_version')} unsupported")
        arrays = {name: source[name][()] for name, _ in _ARRAYS}
        arrays.update({name: source[name][()] for name, _ in _OPTIONAL_ARRAYS if name in source})
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in source["name"][()]]
        sources = [v.decode() if isinstance(v, bytes) else str(v) for v in source["source"][()]]
    return Targets(name=names, source=sources, attrs=attrs, **arrays)
