"""Evaluating landmark accuracy the way the literature does.

* **AFLW2000-3D**: ground truth ``pt3d_68[:2]``; NME normalised by ``sqrt(w * h)`` of the
  ground-truth box; reported per |yaw| bin ([0, 30), [30, 60), [60, 90+], yaw from
  ``Pose_Para``), as the balanced mean of the bin means and as the image-weighted mean. Its
  landmarks are fixed model points, so predictions are compared without marching.
* **300W** and **dlib**: 2D annotations whose jaw follows the outline, so the predicted jaw
  marches to the silhouette of the predicted face; NME with the bbox and the inter-ocular
  (outer eye corners) normalisers.

By default each face is cut with :func:`morph3d.core.crop.crop_box_from_landmarks` from its
ground-truth landmarks, exactly as training does ("GT crop"). A ``boxer`` replaces that with
another source of boxes (a face detector); ``refine`` passes then re-crop each face from its
own predicted landmarks and predict again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from morph3d.core.crop import CROP_SIZE, crop_box_from_landmarks, crop_to_image
from morph3d.core.landmarks68 import JAW
from morph3d.core.marching import contour_lines, march_landmarks
from morph3d.core.metrics import brow_height, eye_aperture, nme, yaw_bin_summary
from morph3d.core.model import MorphableModel
from morph3d.core.pose import image_tilt, turned_by
from morph3d.errors import ImageError
from morph3d.inference.eyes import EyeRefiner, fit_eye_blendshapes
from morph3d.inference.predictor import Predictor, predict_boxes
from morph3d.inference.specialist import recrop_predictor
from morph3d.io.datasets import AnnotatedFace, Failure
from morph3d.io.image import read_image
from morph3d.progress import Progress, no_progress

__all__ = ["Boxer", "Evaluation", "evaluate_faces"]

#: ``(face, image) -> (4,) crop box``, or None when it finds no face.
Boxer: TypeAlias = Callable[[AnnotatedFace, np.ndarray], "np.ndarray | None"]


@dataclass
class Evaluation:
    """Per-face results of an evaluation.

    Attributes:
        names: Face names.
        nme: ``(B,)`` NME (bbox, %).
        nme_interocular: ``(B,)`` NME normalised by the outer-eye-corner distance (%).
        landmarks: ``(B, 68, 2)`` predicted landmarks in image pixels.
        yaw: ``(B,)`` ground-truth yaw in degrees (NaN where the dataset has none).
        failures: Faces that could not be evaluated, with the reason.
        truth: ``(B, 68, 2)`` the ground-truth landmarks.
    """

    names: list[str]
    nme: np.ndarray
    nme_interocular: np.ndarray
    landmarks: np.ndarray
    yaw: np.ndarray
    failures: list[Failure] = field(default_factory=list)
    truth: np.ndarray | None = None

    def eye_aperture_corr(self) -> float:
        """Correlation over every eye of the predicted and annotated eye aperture (opening over
        width, :func:`~morph3d.core.metrics.eye_aperture`); NaN without annotations."""
        if self.truth is None or len(self.truth) < 2:
            return math.nan
        predicted = eye_aperture(self.landmarks).reshape(-1)
        annotated = eye_aperture(self.truth).reshape(-1)
        return float(np.corrcoef(predicted, annotated)[0, 1])

    def brow_height_corr(self) -> float:
        """Correlation over every brow of the predicted and annotated brow height (above its
        eye, over the eye-corner distance, :func:`~morph3d.core.metrics.brow_height`); NaN
        without annotations."""
        if self.truth is None or len(self.truth) < 2:
            return math.nan
        predicted = brow_height(self.landmarks).reshape(-1)
        annotated = brow_height(self.truth).reshape(-1)
        return float(np.corrcoef(predicted, annotated)[0, 1])

    def summary(self, with_yaw_bins: bool) -> dict[str, Any]:
        """The JSON report: counts, means, yaw bins (AFLW2000-3D) and every face (its NME,
        ground-truth yaw where known, landmarks)."""
        report: dict[str, Any] = {
            "count": len(self.names),
            "nme_mean": float(self.nme.mean()) if len(self.nme) else math.nan,
            "nme_median": float(np.median(self.nme)) if len(self.nme) else math.nan,
            "nme_interocular_mean": (
                float(self.nme_interocular.mean()) if len(self.nme) else math.nan
            ),
            "eye_aperture_corr": self.eye_aperture_corr(),
            "brow_height_corr": self.brow_height_corr(),
        }
        if with_yaw_bins and len(self.nme):
            bins = yaw_bin_summary(self.nme, self.yaw)
            report["nme_balanced"] = bins.balanced
            report["yaw_bins"] = bins.to_dict()["bins"]
        report["failed"] = [{"name": f.name, "reason": f.reason} for f in self.failures]
        report["per_image"] = {
            name: {
                "nme": float(error),
                **({} if math.isnan(yaw) else {"yaw": round(float(yaw), 2)}),
                "landmarks": np.round(points, 3).tolist(),
            }
            for name, error, yaw, points in zip(
                self.names, self.nme, self.yaw, self.landmarks, strict=True
            )
        }
        return report


def evaluate_faces(
    faces: Sequence[AnnotatedFace],
    predictor: Predictor,
    model: MorphableModel,
    boxer: Boxer | None = None,
    refine: int = 0,
    refine_yaw: float = 0.0,
    input_size: int = CROP_SIZE,
    batch_size: int = 64,
    progress: Progress = no_progress,
    eyes: EyeRefiner | None = None,
    brows: EyeRefiner | None = None,
    derotate: bool = False,
    jitter: float = 0.0,
) -> Evaluation:
    """Predict every face and score it against its ground truth.

    Args:
        faces: Faces with ground-truth landmarks (0-based image pixels).
        predictor: The network (torch or ONNX Runtime).
        model: The morphable model.
        boxer: ``(face, image) -> (4,) crop box or None`` (None: no face found, a failure);
            default: the crop from the ground-truth landmarks.
        refine: Extra passes that re-crop from the predicted landmarks.
        refine_yaw: Re-crop only the faces that the previous pass finds turned by at least
            this many degrees of |yaw| (0: every face), as ``ReconstructorConfig`` does.
        input_size: Side of the network input in pixels.
        batch_size: Faces predicted at once.
        progress: Wraps an iterable to show progress (called with ``desc``, ``total``).
        eyes: With the eye refiner, the landmarks are those of the mesh with its eye
            blendshapes fitted to the re-read eyelids (as ``Reconstructor`` reports them);
            without, the bare network's.
        brows: With ``eyes``, the brow refiner: the brow blendshapes are fitted too.
        derotate: After the last pass, predict again from the same boxes cut upright (turned
            by the head's lean, :func:`~morph3d.core.pose.image_tilt`), as
            ``ReconstructorConfig(derotate=True)`` does.
        jitter: Average every pass's prediction over the box and four copies moved by this
            fraction of its side (:func:`~morph3d.inference.predictor.predict_boxes`), as
            ``ReconstructorConfig(jitter=...)`` does.

    Returns:
        The :class:`Evaluation`; unreadable images are listed in ``failures``.
    """
    lines = contour_lines(model)
    again_predictor = recrop_predictor(predictor, refine_yaw)  # as Reconstructor's re-crop
    names: list[str] = []
    predicted: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    yaws: list[float] = []
    failures: list[Failure] = []
    starts = range(0, len(faces), batch_size)
    for start in progress(starts, desc="evaluating", total=len(starts), unit="batch"):
        batch, images, boxes = [], [], []
        for face in faces[start : start + batch_size]:
            try:
                image = read_image(face.image_path)
            except ImageError as error:
                failures.append(Failure(face.name, str(error)))
                continue
            box = crop_box_from_landmarks(face.landmarks) if boxer is None else boxer(face, image)
            if box is None:
                failures.append(Failure(face.name, "no face detected"))
                continue
            images.append(image)
            boxes.append(box)
            batch.append(face)
        if not batch:
            continue
        silhouette = np.array([face.silhouette_jaw for face in batch])
        turns, used = np.zeros(len(boxes)), boxes
        params = np.zeros((len(boxes), model.layout.size))
        for step in range(refine + 1 + derotate):
            if step > refine:  # the upright pass: the last pass's boxes, turned by the lean
                boxes, turns = used, -image_tilt(params[:, :12])
            turned = turns if turns.any() else None
            if 0 < step <= refine and refine_yaw > 0:  # only the turned faces are cropped again
                again = turned_by(params[:, :12], refine_yaw)
                boxes = [
                    new if redo else old for old, new, redo in zip(used, boxes, again, strict=True)
                ]
                rows = np.flatnonzero(again)
                if len(rows):
                    params = params.copy()
                    params[rows], _ = predict_boxes(
                        again_predictor, [images[k] for k in rows], np.stack(boxes)[rows],
                        input_size, None if turned is None else turned[rows], jitter,
                    )  # fmt: skip
            else:
                params, _ = predict_boxes(
                    predictor, images, np.stack(boxes), input_size, turned, jitter
                )
            used = boxes
            fixed = model.landmarks(params)
            if eyes is not None:  # every pass: the last one's blinks are reported
                image_points = crop_to_image(fixed, np.stack(boxes))
                weights = np.concatenate([
                    fit_eye_blendshapes(model, eyes, im, p[None], points[None], box[None], brows)[1]
                    for im, p, points, box in zip(images, params, image_points, boxes, strict=True)
                ])  # fmt: skip
                fixed = model.landmarks(params, weights)
            marched = march_landmarks(model, params, lines)
            marched[:, len(JAW) :] = fixed[:, len(JAW) :]  # marching moves only the jaw
            landmarks = crop_to_image(
                np.where(silhouette[:, None, None], marched, fixed)[..., :2], np.stack(boxes)
            )
            # The next pass crops from the model's own landmarks (the crop training used).
            boxes = list(crop_box_from_landmarks(crop_to_image(fixed[..., :2], np.stack(boxes))))
        predicted.append(landmarks)
        truths.extend(face.landmarks for face in batch)
        names.extend(face.name for face in batch)
        yaws.extend(face.yaw for face in batch)
    points = np.concatenate(predicted) if predicted else np.zeros((0, 68, 2))
    truth = np.asarray(truths, dtype=np.float64).reshape(-1, 68, 2)
    return Evaluation(
        names=names,
        nme=nme(points, truth, "bbox") if len(truth) else np.zeros(0),
        nme_interocular=nme(points, truth, "interocular") if len(truth) else np.zeros(0),
        landmarks=points,
        yaw=np.asarray(yaws, dtype=np.float64),
        failures=failures,
        truth=truth,
    )
