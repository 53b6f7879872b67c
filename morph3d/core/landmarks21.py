"""The 21-point AFLW landmark scheme on the morphable model.

AFLW annotates 21 points, by index, in image order ("left" is the image's left, the subject's
right):

=====  ======================================  =========================================
index  AFLW point                              on the model (0-based 68-point rows)
=====  ======================================  =========================================
0-2    image-left brow: outer, centre, inner   17, 19, 21
3-5    image-right brow: inner, centre, outer  22, 24, 26
6-8    image-left eye: outer, centre, inner    36, mean(37, 38, 40, 41), 39
9-11   image-right eye: inner, centre, outer   42, mean(43, 44, 46, 47), 45
12     image-left ear lobe                     none
13-15  nose: image-left nostril, tip,          31, 30, 35
       image-right nostril
16     image-right ear lobe                    none
17-19  mouth: image-left corner, centre,       48, mean(51, 57, 62, 66), 54
       image-right corner
20     chin                                    8
=====  ======================================  =========================================

The two ear lobes have no counterpart on the model's 4096-vertex grid (it spans forehead to
chin, without ears): their rows of :data:`AFLW21_FROM_68` are zero and they are left out of
fitting, losses and errors (:data:`FITTED_21` is False for them). The mapping applies to the
model's *fixed* landmark vertices: the sparse AFLW points carry no jaw line, so nothing marches.
The order and the left/right convention are checked against the mean of near-frontal AFLW
annotations in ``tests/core/test_landmarks21.py``.

The normalised error of sparse points (:func:`sparse_nme`) is the mean distance over the
visible points divided by a face size given by the caller (the ``sqrt(width * height)`` of a
68-landmark box, as in the bbox NME of :mod:`morph3d.core.metrics`), times 100; the bounding
box of the few visible points of a profile would be an unsteady normaliser.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "AFLW21_FROM_68",
    "AFLW21_NAMES",
    "EAR_LOBES_21",
    "FITTED_21",
    "MIRROR_21",
    "N_AFLW21",
    "sparse_nme",
    "to_aflw21",
]

#: Number of AFLW points.
N_AFLW21 = 21

#: Name of each AFLW point ("left" is the image's left).
AFLW21_NAMES = (
    "left brow outer",
    "left brow centre",
    "left brow inner",
    "right brow inner",
    "right brow centre",
    "right brow outer",
    "left eye outer",
    "left eye centre",
    "left eye inner",
    "right eye inner",
    "right eye centre",
    "right eye outer",
    "left ear lobe",
    "left nostril",
    "nose tip",
    "right nostril",
    "right ear lobe",
    "mouth left corner",
    "mouth centre",
    "mouth right corner",
    "chin",
)

#: The ear lobes, which the model lacks.
EAR_LOBES_21 = (12, 16)

_ROWS: tuple[tuple[int, ...], ...] = (
    (17,),
    (19,),
    (21,),
    (22,),
    (24,),
    (26,),
    (36,),
    (37, 38, 40, 41),
    (39,),
    (42,),
    (43, 44, 46, 47),
    (45,),
    (),
    (31,),
    (30,),
    (35,),
    (),
    (48,),
    (51, 57, 62, 66),
    (54,),
    (8,),
)


def _weights() -> np.ndarray:
    matrix = np.zeros((N_AFLW21, 68))
    for k, rows in enumerate(_ROWS):
        for row in rows:
            matrix[k, row] = 1.0 / len(rows)
    matrix.setflags(write=False)
    return matrix


#: ``(21, 68)`` weights: AFLW point k is ``AFLW21_FROM_68[k] @ landmarks68`` (ear rows zero).
AFLW21_FROM_68 = _weights()

#: ``(21,)`` the points that have a model counterpart (all but the ear lobes).
FITTED_21 = np.ones(N_AFLW21, dtype=bool)
FITTED_21[list(EAR_LOBES_21)] = False
FITTED_21.setflags(write=False)

#: Point k of a face is point MIRROR_21[k] of its horizontal mirror image.
MIRROR_21 = np.array([5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 16, 15, 14, 13, 12, 19, 18, 17, 20])


def to_aflw21(landmarks: Any) -> Any:
    """The 21 AFLW points of 68-point landmarks.

    Args:
        landmarks: ``(..., 68, d)`` landmarks (numpy array or torch tensor, any frame); torch
            input stays differentiable.

    Returns:
        ``(..., 21, d)`` points in the same frame. The ear-lobe rows (12 and 16) have no model
        counterpart: NaN for numpy input, 0 for torch input (so that a masked loss keeps finite
        gradients); mask them with :data:`FITTED_21`.
    """
    if landmarks.shape[-2] != 68:
        raise ValueError(f"expected 68 landmarks on axis -2, got {tuple(landmarks.shape)}")
    if isinstance(landmarks, np.ndarray):
        points = np.einsum("pk,...kd->...pd", AFLW21_FROM_68, landmarks)
        points[..., ~FITTED_21, :] = np.nan
        return points
    import torch

    weights = torch.tensor(AFLW21_FROM_68, dtype=landmarks.dtype, device=landmarks.device)
    return torch.einsum("pk,...kd->...pd", weights, landmarks)


def sparse_nme(
    pred: np.ndarray, target: np.ndarray, visible: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """NME in percent over the visible points of each face (see the module docstring).

    Args:
        pred: ``(B, P, 2|3)`` predicted points (pixels; only x, y are compared).
        target: ``(B, P, 2|3)`` annotated points in the same pixels (NaN where not visible).
        visible: ``(B, P)`` which points count.
        size: ``(B,)`` face size in the same pixels, e.g. ``landmark_box_size`` of 68
            landmarks.

    Returns:
        ``(B,)`` NME; NaN for a face without visible points.
    """
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    target = np.asarray(target, dtype=np.float64)[..., :2]
    visible = np.asarray(visible, dtype=bool)
    if pred.shape != target.shape or visible.shape != pred.shape[:-1]:
        raise ValueError(f"pred {pred.shape}, target {target.shape}, visible {visible.shape}")
    distance = np.linalg.norm(np.where(visible[..., None], pred - target, 0.0), axis=-1)
    count = visible.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100 * distance.sum(axis=-1) / (count * np.asarray(size, dtype=np.float64))
