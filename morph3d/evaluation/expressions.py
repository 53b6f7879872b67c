"""How well the blendshape coefficients follow annotated faces.

No dataset here labels expressions, so each coefficient is compared with the annotated geometry
it stands for, over faces cut at their ground-truth crop:

* mean ``eyeBlinkLeft/Right`` against the annotated eye closure (minus the eye aperture, both
  eyes averaged, :func:`~morph3d.core.metrics.eye_aperture`);
* mean ``browInnerUp`` + ``browOuterUp*`` - ``browDown*`` against the annotated brow height
  (:func:`~morph3d.core.metrics.brow_height`, both brows averaged);
* ``jawOpen`` against the annotated inner-lip gap over the mouth width;
* mean ``mouthSmileLeft/Right`` against the annotated corners' height above the upper lip's
  middle (51) over the mouth width.

Correlations are across faces (Pearson r); identity differences (a naturally low brow) weigh in
the brow and smile figures as much as expressions do. Beside them, the eye aperture of the mesh's
landmarks (blendshapes fitted) against the annotated one, over every eye (as ``morph3d evaluate
--blendshapes`` reports it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from morph3d.core.crop import crop_box_from_landmarks
from morph3d.core.metrics import brow_height, eye_aperture
from morph3d.io.datasets import AnnotatedFace
from morph3d.io.image import read_image
from morph3d.progress import Progress, no_progress

__all__ = ["annotated_expression", "blendshape_agreement", "coefficient_expression"]

_INNER_PAIRS = ((61, 67), (62, 66), (63, 65))


def annotated_expression(landmarks: np.ndarray) -> np.ndarray:
    """``(4,)`` eye closure, brow height, mouth opening and corner height of ``(68, 2)``
    annotated landmarks (image y down), in the order of :func:`coefficient_expression`."""
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    width = max(float(np.linalg.norm(points[54] - points[48])), 1e-12)
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in _INNER_PAIRS]) / width
    corners = np.mean([points[51, 1] - points[k, 1] for k in (48, 54)]) / width
    return np.array(
        [-eye_aperture(points).mean(), brow_height(points).mean(), gap, corners], dtype=np.float64
    )


def coefficient_expression(values: dict[str, float]) -> np.ndarray:
    """``(4,)`` blink, brow raise, jaw opening and smile of one face's named coefficients."""
    raise_ = (
        values["browInnerUp"]
        + (values["browOuterUpLeft"] + values["browOuterUpRight"]) / 2
        - (values["browDownLeft"] + values["browDownRight"]) / 2
    )
    return np.array(
        [
            (values["eyeBlinkLeft"] + values["eyeBlinkRight"]) / 2,
            raise_,
            values["jawOpen"],
            (values["mouthSmileLeft"] + values["mouthSmileRight"]) / 2,
        ]
    )


def blendshape_agreement(
    reconstructor: Any, faces: Sequence[AnnotatedFace], progress: Progress = no_progress
) -> dict[str, float]:
    """The four correlations of the module docstring over ``faces``.

    Args:
        reconstructor: A :class:`~morph3d.pipeline.reconstructor.Reconstructor` with
            ``blendshapes=True``.
        faces: Annotated 68-point faces (at least 3).
        progress: tqdm-like wrapper of the faces.

    Returns:
        ``faces`` and ``blink_vs_closure_r``, ``brows_vs_brow_height_r``,
        ``jaw_open_vs_lip_gap_r``, ``smile_vs_corner_height_r``, ``eye_aperture_r``.
    """
    if len(faces) < 3:
        raise ValueError(f"need at least 3 faces, got {len(faces)}")
    ours, truth, apertures = [], [], []
    for face in progress(faces, desc="blendshapes", unit="face"):
        image = read_image(face.image_path)
        box = crop_box_from_landmarks(face.landmarks)[None]
        params, landmarks, _ = reconstructor.predict(image, box)
        values, weights, fitted = reconstructor.fit_blendshapes(image, params, landmarks, box)
        if weights is None or fitted is None:
            raise ValueError("blendshape_agreement needs a Reconstructor with blendshapes=True")
        ours.append(coefficient_expression(values[0]))
        truth.append(annotated_expression(face.landmarks))
        apertures.append([eye_aperture(fitted[0]), eye_aperture(face.landmarks)])
    a, b = np.array(ours), np.array(truth)
    names = ("blink_vs_closure_r", "brows_vs_brow_height_r", "jaw_open_vs_lip_gap_r",
             "smile_vs_corner_height_r")  # fmt: skip
    report: dict[str, float] = {"faces": float(len(faces))}
    for k, name in enumerate(names):
        same = np.std(a[:, k]) == 0 or np.std(b[:, k]) == 0
        report[name] = float("nan") if same else float(np.corrcoef(a[:, k], b[:, k])[0, 1])
    mesh, annotated = np.moveaxis(np.asarray(apertures), 1, 0).reshape(2, -1)
    report["eye_aperture_r"] = float(np.corrcoef(mesh, annotated)[0, 1])
    return report
