"""Training targets of the AFLW 21-point faces: sparse faces fitted and re-cropped.

Each AFLW face (:mod:`morph3d.io.aflw21`) is fitted on its visible points (the 19 with a model
counterpart, :mod:`morph3d.core.landmarks21`) in the frame of its 120x120 AFLW crop, with the
priors of :data:`SPARSE_FIT` (stronger than the dense default: 19 points at most, no jaw).

**The crop box.** The network's crop box of a dense face is 1.5 times the box of its 68
annotated landmarks (:func:`morph3d.core.crop.crop_box_from_landmarks`), and the detectors are
calibrated to that box. An AFLW crop is framed by AFLW's own ``roi_box``; so that sparse faces
are framed like dense ones, the crop box of a sparse face is that rule applied to the fitted
landmarks with the jaw marched to the silhouette (as a 2D annotation would place it). On the
18,055 kept faces of the shared set that box is a median 1.03 times the AFLW crop's side (95th
percentile 1.20) and about as centred, so the AFLW crop is resampled.

**The stored image.** ``image`` (240x240) covers twice the crop box like every targets file, but
the AFLW crop covers about a quarter of it (median 24%): what lies outside the AFLW crop is
black (as where a dense face's box leaves its photo; flag bit 2 here means "the box leaves the
AFLW crop", true for 88% of the faces, though the AFLW crop still covers a median 92% of the
box itself).
:func:`build_aflw21_targets` reports the share of real pixels, of the crop box and of the whole
stored image, per face; the augmentation (rotations to 40 degrees, 10% shifts and zooms) then
sees black corners more often than on dense faces.

All crop-frame arrays are in the 120-unit frame of the new crop box, y up, like dense faces;
``crop_box`` and ``image_box`` are in the original photo's pixels (through ``roi_box``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from morph3d.core.boxes import box_area
from morph3d.core.crop import (
    CROP_SIZE,
    crop_box_from_landmarks,
    crop_to_image,
    image_to_crop,
    params_to_crop,
    params_to_image,
    scale_box,
)
from morph3d.core.fitting import FitConfig, LandmarkFitter
from morph3d.core.landmarks21 import AFLW21_FROM_68, FITTED_21, N_AFLW21, sparse_nme, to_aflw21
from morph3d.core.marching import contour_lines, march_landmarks
from morph3d.core.metrics import landmark_box_size
from morph3d.core.model import MorphableModel
from morph3d.core.pose import decompose_pose
from morph3d.io.aflw21 import AFLW_CROP_SIZE, Aflw21Faces, crop_path, read_crop
from morph3d.io.image import crop_image
from morph3d.progress import Progress, no_progress
from morph3d.training.targets import (
    FLAG_AT_BOUND,
    FLAG_OUTSIDE,
    FLAG_POOR_FIT,
    STORED_SIZE,
    Targets,
    target_attrs,
)

__all__ = ["SPARSE_FIT", "Aflw21Build", "build_aflw21_targets", "fit_aflw21", "summarize_aflw21"]

#: Fit settings of sparse faces. Shape 1.0 and expression 3.0 (10 and 30 times the dense
#: default) gave the lowest error on 3 hidden visible points of 1,000 AFLW faces fitted on the
#: rest, among (0.1, 0.1), (0.3, 0.3), (1, 1), (3, 3), (10, 10), (1, 3), (1, 10), (3, 10):
#: mean held-out NME 4.55 against 4.83 with the dense priors. Nothing marches (no jaw points).
#: Two extra yaw starts (+-60 degrees) cut the profiles (AFLW |yaw| >= 60) whose fitted yaw is
#: more than 30 degrees off the annotation from 14 to 11 of 200 (some stay near-frontal).
SPARSE_FIT = FitConfig(
    shape_prior=1.0, expression_prior=3.0, marching=False, yaw_starts=(-60.0, 60.0)
)

_POOR_FIT_NME = 5.0


@dataclass(frozen=True)
class Aflw21Build:
    """What :func:`build_aflw21_targets` made besides the targets.

    Attributes:
        crop_scale: ``(B,)`` side of the new crop box over the AFLW crop's side.
        real_crop: ``(B,)`` share of the crop box that the AFLW crop covers.
        real_stored: ``(B,)`` share of the stored 240x240 image that the AFLW crop covers.
    """

    crop_scale: np.ndarray
    real_crop: np.ndarray
    real_stored: np.ndarray


def fit_aflw21(
    faces: Aflw21Faces,
    model: MorphableModel,
    config: FitConfig = SPARSE_FIT,
    batch_size: int = 1024,
    progress: Progress = no_progress,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the model to the visible points of every face, in the AFLW crop's frame.

    Args:
        faces: The (filtered) faces.
        model: The morphable model.
        config: Fit settings.
        batch_size: Faces fitted at once.
        progress: Wraps an iterable to show progress.
        device: Torch device of the fit (``"cuda"``: each batch fitted on the GPU).

    Returns:
        ``(B, 62)`` raw parameters in the AFLW crop's 120-unit frame (y up), and ``(B,)`` the
        fit NME (%) on the visible points, normalised by the box of the fitted (fixed, not
        marched) 68 landmarks; :func:`build_aflw21_targets` stores it normalised by the box of
        the marched ones, as ``val_nme_sparse`` is.
    """
    fitter = LandmarkFitter(model, config, device)
    combination = AFLW21_FROM_68[FITTED_21]
    points = faces.points[:, FITTED_21].astype(np.float64)
    # AFLW crop pixels (y down, 0-based) to the crop frame (y up): (u + 1, 120 - v).
    targets = np.stack([points[..., 0] + 1, AFLW_CROP_SIZE - points[..., 1]], axis=-1)
    weights = faces.visible[:, FITTED_21].astype(np.float64)
    params, errors = [], []
    starts = range(0, len(faces), batch_size)
    for start in progress(starts, desc="fitting", total=len(starts), unit="batch"):
        part = slice(start, start + batch_size)
        result = fitter.fit(
            targets[part],
            weights[part],
            silhouette_jaw=np.zeros(len(targets[part]), dtype=bool),
            combination=combination,
        )
        params.append(result.params)
        errors.append(result.error)
    if not params:
        return np.zeros((0, model.layout.size)), np.zeros(0)
    return np.concatenate(params), np.concatenate(errors)


def _covered(boxes: np.ndarray, side: float) -> np.ndarray:
    """``(B,)`` share of each box ``(B, 4)`` inside the square ``[0, side]^2``."""
    return box_area(np.clip(boxes, 0, side)) / box_area(boxes)


def build_aflw21_targets(
    faces: Aflw21Faces,
    model: MorphableModel,
    config: FitConfig = SPARSE_FIT,
    batch_size: int = 1024,
    progress: Progress = no_progress,
    device: str = "cpu",
) -> tuple[Targets, Aflw21Build]:
    """Fit, re-crop and store every face as a sparse face of a targets file.

    Args:
        faces: The faces, filtered (:func:`morph3d.io.aflw21.filter_aflw21`).
        model: The morphable model.
        config: Fit settings.
        batch_size: Faces fitted at once.
        progress: Wraps an iterable to show progress.
        device: Torch device of the fit (``"cuda"``: each batch fitted on the GPU).

    Returns:
        The targets (all sparse) and the framing figures of each face.
    """
    import cv2

    n = len(faces)
    aflw_params, _ = fit_aflw21(faces, model, config, batch_size, progress, device)
    aflw_box = np.array([0.0, 0.0, AFLW_CROP_SIZE, AFLW_CROP_SIZE])
    lines = contour_lines(model)
    # Crop boxes in AFLW crop pixels, from the fitted landmarks with the jaw on the silhouette.
    marched_aflw = march_landmarks(model, aflw_params, lines)
    boxes = crop_box_from_landmarks(crop_to_image(marched_aflw[..., :2], aflw_box))  # (B, 4)
    wide = scale_box(boxes, STORED_SIZE / CROP_SIZE)
    params = params_to_crop(params_to_image(aflw_params, aflw_box), boxes)
    fit_landmarks = march_landmarks(model, params, lines)
    model_landmarks = model.landmarks(params)
    pixels = np.stack([faces.points[..., 0], faces.points[..., 1]], axis=-1).astype(np.float64)
    sparse_points = image_to_crop(pixels, boxes)  # NaN stays NaN
    sparse_points[~faces.visible] = np.nan
    # The fit error again, normalised like val_nme_sparse: by the box of the marched landmarks.
    fit_nme = sparse_nme(
        to_aflw21(model_landmarks),
        sparse_points,
        faces.visible & FITTED_21,
        landmark_box_size(fit_landmarks),
    )

    images = np.zeros((n, STORED_SIZE, STORED_SIZE, 3), dtype=np.uint8)
    for k in progress(range(n), desc="cropping", total=n, unit="face"):
        interpolation = (
            cv2.INTER_AREA if wide[k, 2] - wide[k, 0] > STORED_SIZE else cv2.INTER_LINEAR
        )
        images[k] = crop_image(
            read_crop(faces.root, str(faces.names[k])), wide[k], STORED_SIZE, interpolation
        )

    # Photo pixels of the boxes, through the roi box (AFLW crop pixel u is x0 + u * sx).
    roi = faces.roi_box
    scale_xy = np.stack([roi[:, 2] - roi[:, 0], roi[:, 3] - roi[:, 1]], axis=1) / AFLW_CROP_SIZE

    def to_photo(box: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [roi[:, :2] + box[:, :2] * scale_xy, roi[:, :2] + box[:, 2:] * scale_xy], axis=1
        )

    z = model.layout.normalize(params)[:, model.layout.coefficients]
    limit = config.coefficient_limit
    flags = np.zeros(n, dtype=np.uint8)
    if limit is not None:
        flags |= np.where(np.any(np.abs(z) >= 0.999 * limit, axis=1), FLAG_AT_BOUND, 0).astype(
            np.uint8
        )
    flags |= np.where(fit_nme > _POOR_FIT_NME, FLAG_POOR_FIT, 0).astype(np.uint8)
    real_crop = _covered(boxes, AFLW_CROP_SIZE)
    flags |= np.where(real_crop < 1.0, FLAG_OUTSIDE, 0).astype(np.uint8)
    targets = Targets(
        name=[f"aflw21/{name}" for name in faces.names],
        source=[str(crop_path(faces.root, name)) for name in faces.names],
        image=images,
        image_box=to_photo(wide),
        crop_box=to_photo(boxes),
        annotation=fit_landmarks[..., :2].astype(np.float32),
        params=params,
        fit_landmarks=fit_landmarks.astype(np.float32),
        model_landmarks=model_landmarks.astype(np.float32),
        fit_nme=fit_nme.astype(np.float32),
        yaw=faces.yaw_degrees.astype(np.float32),
        silhouette_jaw=np.ones(n, dtype=np.uint8),
        fit_yaw=(decompose_pose(params[:, :12]).angles[:, 0] if n else np.zeros(0)).astype(
            np.float32
        ),
        flags=flags,
        attrs={
            **target_attrs(model, config),
            "sparse_scheme": "aflw21",
            "yaw_convention": "AFLW yaw_degrees (positive: nose left of the eyes in the image)",
        },
        sparse=np.ones(n, dtype=bool),
        sparse_points=sparse_points.astype(np.float32).reshape(n, N_AFLW21, 2),
    )
    build = Aflw21Build(
        crop_scale=(boxes[:, 2] - boxes[:, 0]) / AFLW_CROP_SIZE,
        real_crop=real_crop,
        real_stored=_covered(wide, AFLW_CROP_SIZE),
    )
    return targets, build


def summarize_aflw21(targets: Targets, build: Aflw21Build) -> dict[str, object]:
    """Figures of sparse targets: fit NME on the visible points (median, p95, mean) overall and
    by ``|yaw|`` bin of the AFLW annotation, the agreement of the fitted yaw with it (the
    model's yaw is the negated AFLW yaw, :mod:`morph3d.io.aflw21`), and the framing shares.
    """
    error = targets.fit_nme.astype(np.float64)
    annotated = targets.yaw.astype(np.float64)
    fitted = -targets.fit_yaw.astype(np.float64)
    difference = np.abs(fitted - annotated)

    def spread(values: np.ndarray) -> dict[str, float]:
        if len(values) == 0:
            return {}
        return {
            "median": float(np.median(values)),
            "p95": float(np.percentile(values, 95)),
            "mean": float(values.mean()),
        }

    bins = {}
    for low, high in ((0, 30), (30, 60), (60, 90.001)):
        inside = (np.abs(annotated) >= low) & (np.abs(annotated) < high)
        bins[f"{low}-{int(high)}"] = {
            "count": int(inside.sum()),
            "fit_nme": spread(error[inside]),
            "yaw_error_degrees": spread(difference[inside]),
            "yaw_correlation": (
                float(np.corrcoef(fitted[inside], annotated[inside])[0, 1])
                if inside.sum() > 2
                else float("nan")
            ),
        }
    return {
        "count": len(targets),
        "fit_nme": spread(error),
        "yaw_correlation": float(np.corrcoef(fitted, annotated)[0, 1]) if len(error) > 2 else None,
        "yaw_error_degrees": spread(difference),
        "by_yaw": bins,
        "crop_scale": spread(build.crop_scale),
        "real_share_of_crop_box": spread(build.real_crop),
        "real_share_of_stored_image": spread(build.real_stored),
        "flags": {
            "at_bound": float(np.mean((targets.flags & FLAG_AT_BOUND) > 0)),
            "poor_fit": float(np.mean((targets.flags & FLAG_POOR_FIT) > 0)),
            "box_leaves_crop": float(np.mean((targets.flags & FLAG_OUTSIDE) > 0)),
        },
    }
