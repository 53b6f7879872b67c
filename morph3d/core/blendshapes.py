"""Eyelid and brow blendshapes built from the model's own geometry, and solving for them.

The 10 expression components of the BFM move the eye aperture by at most about 10 %: the model
cannot blink. These targets add what it lacks, as displacement fields ``(N, 3)`` over every
vertex (landmark rows included), defined on the mean shape from its 68 landmarks:

* ``eyeBlinkLeft/Right``: the upper lid comes down onto a closing line a quarter of the way up
  from the lower lid, which rises to meet it; the skin above the lid follows with a linear
  fall-off up to the crease (0.45 of the eye-to-brow gap), the skin below over 0.6 of the
  aperture; the opening between the lids folds onto the line (the lids meet: aperture 0).
* ``eyeWideLeft/Right``: the upper lid rises by one aperture, the opening stretches (99 % of
  the annotated eyes of the 300W training split open less than twice as far as the mean face's).
* ``browDownLeft/Right``, ``browOuterUpLeft/Right``, ``browInnerUp``: the brow band moves by
  0.3 of the eye-to-brow gap, all of it, its outer end, or both inner ends.

Each field fades to zero over a margin beside its eye or brow. Names follow Apple's ARKit
blendshapes; Left and Right are the subject's (the 68-point eye 42-47 is the subject's left,
on the viewer's right, at positive model x). Coefficients are in [0, 1]; a displacement is
added to the shape before the pose, like the expression basis (:meth:`MorphableModel.decode`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from morph3d.core.landmarks68 import BROWS, EYE_ORDER

if TYPE_CHECKING:
    from morph3d.core.model import MorphableModel

__all__ = [
    "BLENDSHAPES_VERSION",
    "BLENDSHAPE_NAMES",
    "BROW_NAMES",
    "brow_blendshapes",
    "build_blendshapes",
    "eye_blendshapes",
    "eye_rows",
    "face_blendshapes",
    "solve_blendshapes",
    "solve_brows",
    "solve_eyes",
]

#: Version of the geometry below, kept in a model file's metadata: a change rebuilds the file.
BLENDSHAPES_VERSION = 2

#: The blendshapes the model supports, in the order of its ``blendshapes`` array.
BLENDSHAPE_NAMES = (
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeWideLeft",
    "eyeWideRight",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
)

#: The brow blendshapes, fitted together by :func:`solve_brows`.
BROW_NAMES = ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight")

#: The eye blendshapes, fitted by :func:`solve_eyes`.
_EYE_NAMES = ("eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight")

# 68-point rows per subject side: eye (outer corner, upper, upper, inner corner, lower, lower)
# with each lower point under the upper one before it, and the brow from its outer to inner end.
_EYES = {"Right": EYE_ORDER[0], "Left": EYE_ORDER[1]}
_BROWS = {"Right": BROWS[:5], "Left": BROWS[5:][::-1]}

_CLOSING_LINE = 0.25  # where the lids meet, from the lower lid up
_CREASE = 0.45  # reach of the upper-lid motion above the lid, in eye-to-brow gaps
_BELOW = 0.6  # reach of the lower-lid motion below it, in apertures
_WIDE = 1.0  # upper-lid rise of eyeWide, in apertures (99 % of 300W training eyes open less)
_BROW_SHIFT = 0.3  # brow motion, in eye-to-brow gaps
_BROW_REACH = 0.8  # reach of the brow motion above and below the brow line, in gaps
_MARGIN = 0.25  # fade beside an eye or a brow, in its widths


def eye_rows(side: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The 68-point rows of one eye's (upper, lower) lid pairs, e.g. ``((37, 41), (38, 40))``
    for the subject's ``"Right"`` eye."""
    outer, up1, up2, inner, low2, low1 = _EYES[side]
    del outer, inner
    return (up1, low1), (up2, low2)


def _lid_rows(side: str) -> tuple[list[int], list[int]]:
    upper, lower = zip(*eye_rows(side), strict=True)
    return list(upper), list(lower)


def _fade(x: np.ndarray, low: float, high: float, margin: float) -> np.ndarray:
    """1 on [low, high], falling linearly to 0 over ``margin`` on both sides."""
    outside = np.maximum(low - x, 0) + np.maximum(x - high, 0)
    return np.clip(1 - outside / margin, 0, 1)


def _lids(points: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lid curves sampled on the x of every lid point and corner (sorted): x, upper-lid y,
    lower-lid y; each curve runs through its own points and the two corners."""
    outer, up1, up2, inner, low2, low1 = _EYES[side]

    def curve(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(points[rows, 0])
        return points[rows, 0][order], points[rows, 1][order]

    x_up, y_up = curve([outer, up1, up2, inner])
    x_low, y_low = curve([outer, low1, low2, inner])
    x = np.unique(np.concatenate([x_up, x_low]))
    return x, np.interp(x, x_up, y_up), np.interp(x, x_low, y_low)


def _eye_fields(points: np.ndarray, landmarks: np.ndarray, side: str) -> tuple[np.ndarray, ...]:
    """(blink, wide) displacement fields of one eye."""
    x_lid, y_up, y_low = _lids(landmarks, side)
    brow_y = landmarks[list(_BROWS[side]), 1].mean()
    gap = brow_y - y_up.mean()
    aperture = float((y_up - y_low).max())
    x, y = points[:, 0], points[:, 1]
    upper = np.interp(x, x_lid, y_up)
    lower = np.interp(x, x_lid, y_low)
    closing = lower + _CLOSING_LINE * (upper - lower)
    beside = _fade(x, x_lid[0], x_lid[-1], _MARGIN * (x_lid[-1] - x_lid[0]))

    above = y >= upper
    between = (y >= lower) & ~above
    below = y < lower
    blink = np.zeros(len(points))
    reach_up = np.clip(1 - (y - upper) / (_CREASE * gap), 0, 1)
    blink[above] = ((closing - upper) * reach_up)[above]
    blink[between] = (closing - y)[between]
    reach_down = np.clip(1 - (lower - y) / (_BELOW * aperture), 0, 1)
    blink[below] = ((closing - lower) * reach_down)[below]

    wide = np.zeros(len(points))
    rise = _WIDE * (upper - lower)
    wide[above] = (rise * reach_up)[above]
    share = np.where(upper > lower, (y - lower) / np.maximum(upper - lower, 1e-9), 0.0)
    wide[between] = (rise * share)[between]
    return _as_field(blink * beside), _as_field(wide * beside)


def _brow_fields(points: np.ndarray, landmarks: np.ndarray, side: str) -> tuple[np.ndarray, ...]:
    """(down, outer up, inner up) displacement fields of one brow."""
    brow = landmarks[list(_BROWS[side])]  # outer end first
    order = np.argsort(brow[:, 0])
    x_brow, y_brow = brow[order, 0], brow[order, 1]
    x_outer, x_inner = brow[0, 0], brow[-1, 0]
    eye_top = landmarks[list(_EYES[side][1:3]), 1].mean()
    gap = y_brow.mean() - eye_top
    x, y = points[:, 0], points[:, 1]
    line = np.interp(x, x_brow, y_brow)
    band = np.clip(1 - np.abs(y - line) / (_BROW_REACH * gap), 0, 1) * (y > eye_top)
    beside = _fade(x, x_brow[0], x_brow[-1], _MARGIN * (x_brow[-1] - x_brow[0]))
    along = (x - x_inner) / (x_outer - x_inner)  # 0 at the inner end, 1 at the outer end
    this_side = np.sign(x) == np.sign(x_inner)  # inner up reaches the midline, not across it
    shift = _BROW_SHIFT * gap * band
    down = -shift * beside
    outer_up = shift * np.clip(along, 0, 1) * beside
    inner_up = shift * np.clip(1 - along, 0, 1) * this_side
    return _as_field(down), _as_field(outer_up), _as_field(inner_up)


def _as_field(dy: np.ndarray) -> np.ndarray:
    field = np.zeros((len(dy), 3))
    field[:, 1] = dy
    return field


def build_blendshapes(mean: np.ndarray, landmark_indices: np.ndarray) -> np.ndarray:
    """The ``(N, 3, len(BLENDSHAPE_NAMES))`` displacement fields of a model's mean shape.

    Args:
        mean: ``(N, 3)`` mean shape in model units (x to the viewer's right, y up).
        landmark_indices: ``(68,)`` rows of the landmarks.
    """
    points = np.asarray(mean, dtype=np.float64)
    landmarks = points[np.asarray(landmark_indices)]
    fields: dict[str, np.ndarray] = {}
    for side in ("Left", "Right"):
        fields[f"eyeBlink{side}"], fields[f"eyeWide{side}"] = _eye_fields(points, landmarks, side)
        down, outer_up, inner_up = _brow_fields(points, landmarks, side)
        fields[f"browDown{side}"] = down
        fields[f"browOuterUp{side}"] = outer_up
        fields[f"browInnerUp{side}"] = inner_up
    fields["browInnerUp"] = fields.pop("browInnerUpLeft") + fields.pop("browInnerUpRight")
    return np.stack([fields[name] for name in BLENDSHAPE_NAMES], axis=2).astype(np.float32)


def solve_eyes(
    lids: np.ndarray, neutral: np.ndarray, fields: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Blink and wide coefficients of each eye that best move the neutral lids onto ``lids``.

    Args:
        lids: ``(68, 2)`` target landmarks (only the eyelid rows are read), e.g. the eye
            refiner's, in the same 2D frame as ``neutral``.
        neutral: ``(68, 2)`` the model's landmarks with every eye blendshape at 0.
        fields: ``eyeBlink*`` / ``eyeWide*`` name -> ``(68, 2)`` landmark motion of that
            blendshape at 1 in the same frame (the pose applied to the displacement).

    Returns:
        For each eye its ``eyeBlink`` and ``eyeWide`` coefficient in [0, 1]; at most one of
        the two is non-zero: a least-squares fit of each alone to the lid openings (upper minus
        lower point of each pair, so a shift of the whole eye does not read as a blink), the
        better one kept (:func:`_solve_eyes`, for many faces at once).
    """
    motion = np.stack([np.asarray(fields[name], dtype=np.float64) for name in _EYE_NAMES])
    values = _solve_eyes(np.asarray(lids)[None], np.asarray(neutral)[None], motion[None])[0]
    return dict(zip(_EYE_NAMES, map(float, values), strict=True))


#: Per eye in ``_EYE_NAMES`` order (Left, Right): its upper and lower lid rows, paired.
_LID_ROWS = (_lid_rows("Left"), _lid_rows("Right"))
_UPPER = np.array([upper for upper, _ in _LID_ROWS])  # (2 eyes, pairs)
_LOWER = np.array([lower for _, lower in _LID_ROWS])
_SIDES = np.arange(2)[:, None]


def _openings(points: np.ndarray) -> np.ndarray:
    """``(..., 2, 2 * pairs)`` upper minus lower lid point of each pair of both eyes (Left,
    Right) of ``(..., 68, 2)`` points: their openings, blind to a shift."""
    gaps = points[..., _UPPER, :2] - points[..., _LOWER, :2]  # (..., 2, pairs, 2)
    return gaps.reshape(*gaps.shape[:-2], -1)


def _solve_eyes(lids: np.ndarray, neutral: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """:func:`solve_eyes` for ``F`` faces: ``(F, 68, 2)`` lids and neutral landmarks,
    ``(F, 4, 68, 2)`` motions in ``_EYE_NAMES`` order -> ``(F, 4)`` coefficients."""
    residual = _openings(lids) - _openings(neutral)  # (F, eye, p)
    # the motions in _EYE_NAMES order are (kind, eye): blink Left, blink Right, wide Left, ...
    by_kind = motion.reshape(len(motion), 2, 2, *motion.shape[2:])  # (F, kind, eye, 68, 2)
    gaps = by_kind[:, :, _SIDES, _UPPER, :2] - by_kind[:, :, _SIDES, _LOWER, :2]
    moves = gaps.reshape(*gaps.shape[:3], -1).swapaxes(1, 2)  # (F, eye, kind, p)
    norm = np.einsum("fekp,fekp->fek", moves, moves)
    along = np.einsum("fep,fekp->fek", residual, moves)
    value = np.where(norm > 0, np.clip(along / np.where(norm > 0, norm, 1.0), 0, 1), 0.0)
    error = np.sum((residual[:, :, None] - value[..., None] * moves) ** 2, axis=-1)  # (F, e, k)
    still = np.sum(residual**2, axis=-1)  # (F, eye)
    # as if tried in turn against no motion at all: blink, then wide if strictly better
    wide = error[..., 1] < np.minimum(still, error[..., 0])
    blink = (error[..., 0] < still) & ~wide
    return np.concatenate(
        [np.where(blink, value[..., 0], 0.0), np.where(wide, value[..., 1], 0.0)], axis=1
    )


def solve_brows(
    brows: np.ndarray, neutral: np.ndarray, fields: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """The brow coefficients in [0, 1] that best move the neutral brows onto ``brows``.

    A least-squares fit of the five :data:`BROW_NAMES` together to the brow points (17-26),
    bounded to [0, 1] and solved exactly: every coefficient is either at a bound or free, and of
    the 3^5 such cases (:data:`_BOUND_CASES`, one batched 5x5 solve) the feasible one with the
    least error is the optimum. Lowering a brow and raising both its ends nearly cancel, so a
    small ridge (1e-3 of the mean motion energy) picks the smallest coefficients among equal
    fits: a raise never reads as some ``browDown`` plus more raise.

    Args:
        brows: ``(68, 2)`` target landmarks (only the brow rows are read), e.g. the brow
            refiner's, in the same 2D frame as ``neutral``.
        neutral: ``(68, 2)`` the model's landmarks with every brow blendshape at 0.
        fields: Brow name -> ``(68, 2)`` landmark motion of that blendshape at 1.
    """
    motion = np.stack([np.asarray(fields[name], dtype=np.float64) for name in BROW_NAMES])
    values = _solve_brows(np.asarray(brows)[None], np.asarray(neutral)[None], motion[None])[0]
    return dict(zip(BROW_NAMES, map(float, values), strict=True))


def _solve_brows(brows: np.ndarray, neutral: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """:func:`solve_brows` for ``F`` faces: ``(F, 68, 2)`` brows and neutral landmarks,
    ``(F, 5, 68, 2)`` motions in :data:`BROW_NAMES` order -> ``(F, 5)`` coefficients."""
    rows = list(BROWS)
    residual = (brows[:, rows, :2] - neutral[:, rows, :2]).reshape(len(brows), -1)  # (F, 20)
    moves = motion[:, :, rows, :2].reshape(len(brows), len(BROW_NAMES), -1)  # (F, 5, 20)
    gram = moves @ np.swapaxes(moves, 1, 2)  # (F, 5, 5)
    target = np.einsum("fkp,fp->fk", moves, residual)
    trace = np.trace(gram, axis1=1, axis2=2)
    moving = trace > 0  # a face with no brow motion at all: nothing to fit, all 0
    out = np.zeros((len(brows), len(BROW_NAMES)))
    if not moving.any():
        return out
    gram, target, trace = gram[moving], target[moving], trace[moving]
    ridge = 1e-3 * trace / len(BROW_NAMES)
    hessian = gram + ridge[:, None, None] * np.eye(len(BROW_NAMES))
    # The error is strictly convex: where its free minimum lies inside the bounds it is the
    # answer, else the case that the free minimum's violations suggest is tried, and only the
    # faces where neither meets the optimality conditions need the 3^5 cases.
    free = np.linalg.solve(hessian, target[..., None])[..., 0]  # (F, 5)
    inside = np.all((free >= -_BOUND_SLACK) & (free <= 1 + _BOUND_SLACK), axis=-1)
    solved = np.clip(free, 0.0, 1.0)
    if not inside.all():
        rest = np.flatnonzero(~inside)
        case = np.where(free[rest] < 0, 0.0, np.where(free[rest] > 1, 1.0, 2.0))
        for _ in range(_ACTIVE_SET_STEPS):
            if not len(rest):
                break
            found, optimal, case = _bounded_case(hessian[rest], target[rest], case)
            solved[rest[optimal]] = found[optimal]
            rest, case = rest[~optimal], case[~optimal]
        if len(rest):
            solved[rest] = _bounded_brows(hessian[rest], target[rest])
    out[moving] = solved
    return out


#: Active-set steps of :func:`_solve_brows` before the full case search takes over.
_ACTIVE_SET_STEPS = 6


def _bounded_case(
    hessian: np.ndarray, target: np.ndarray, case: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of a primal-dual active-set method for the minimum of ``x H x / 2 - t x`` over
    [0, 1]^5, for ``(F, 5, 5)`` ``hessian``, ``(F, 5)`` ``target`` and the ``(F, 5)`` ``case``
    to try (each coefficient held at 0 or 1, or 2: free).

    Returns:
        The case's minimum (clipped to the bounds); whether it is the bounded minimum (the
        Karush-Kuhn-Tucker conditions: free coefficients inside the bounds, the gradient
        pushing each held one outward); and the next case to try: a free coefficient past a
        bound held there, a held one whose gradient pulls it inside freed.
    """
    free = case == 2
    eye = np.eye(hessian.shape[-1])
    matrices = np.where(free[..., None], hessian, eye)
    candidate = np.linalg.solve(matrices, np.where(free, target, case)[..., None])[..., 0]
    gradient = np.einsum("fkl,fl->fk", hessian, candidate) - target
    slack = _BOUND_SLACK * (1 + np.abs(target))
    low, high = candidate < -_BOUND_SLACK, candidate > 1 + _BOUND_SLACK
    inward = np.where(case == 0, gradient < -slack, gradient > slack) & ~free
    optimal = ~((free & (low | high)) | inward).any(axis=-1)
    step = np.where(free & low, 0.0, np.where(free & high, 1.0, case))
    step = np.where(inward, 2.0, step)
    return np.clip(candidate, 0.0, 1.0), optimal, step


#: How far past a bound a solution may sit and still count as on it (rounding).
_BOUND_SLACK = 1e-9


def _bounded_brows(hessian: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The bounded minimum of ``x H x / 2 - t x`` over [0, 1]^5 for ``(F, 5, 5)`` ``hessian``
    and ``(F, 5)`` ``target``: the least-error feasible case of :data:`_BOUND_CASES`."""
    # A free coefficient's row is the normal equation, a fixed one's reads x_k = bound.
    matrices = _FREE_ROWS * hessian[:, None] + _FIXED_ROWS  # (F, C, 5, 5)
    sides = np.where(_FREE, target[:, None], _BOUND_CASES)  # (F, C, 5)
    candidates = np.linalg.solve(matrices, sides[..., None])[..., 0]  # (F, C, 5)
    feasible = np.all((candidates >= -_BOUND_SLACK) & (candidates <= 1 + _BOUND_SLACK), axis=-1)
    candidates = np.clip(candidates, 0.0, 1.0)
    errors = 0.5 * np.einsum("fck,fkl,fcl->fc", candidates, hessian, candidates)
    errors -= np.einsum("fck,fk->fc", candidates, target)
    best = np.argmin(np.where(feasible, errors, np.inf), axis=1)
    return candidates[np.arange(len(best)), best]


#: Each coefficient of :func:`solve_brows` at 0, at 1 or free (2): all ``3^5`` cases.
_BOUND_CASES = np.array(
    list(itertools.product((0, 1, 2), repeat=len(BROW_NAMES))), dtype=np.float64
)
_FREE = _BOUND_CASES == 2
_FREE_ROWS = _FREE[:, :, None].astype(np.float64)  # (C, 5, 1)
_FIXED_ROWS = (~_FREE)[:, :, None] * np.eye(len(BROW_NAMES))  # (C, 5, 5)


def _landmark_fields(
    model: MorphableModel, params: np.ndarray, names: list[str] | tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(F, 68, 2)`` landmarks of ``(F, 62)`` parameters with no blendshape, and each named
    blendshape's ``(F, n, 68, 2)`` landmark motion at 1 in the same frame (its displacement
    turned and scaled by the pose)."""
    missing = [name for name in names if name not in model.blendshape_names]
    if missing:
        raise ValueError(f"the model has no blendshapes {missing}: convert it again")
    params = np.asarray(params, dtype=np.float64)
    neutral = model.landmarks(params)[..., :2]
    rotation = model.layout.pose_matrix(params)[..., :2, :3]  # (F, 2, 3)
    chosen = [model.blendshape_names.index(name) for name in names]
    rows = model.landmark_blendshapes[..., chosen]  # (68, 3, n)
    return neutral, np.einsum("nib,fji->fbnj", rows, rotation)  # turned and scaled


def solve_blendshapes(
    model: MorphableModel,
    params: np.ndarray,
    lids: np.ndarray,
    brows: np.ndarray | None = None,
) -> np.ndarray:
    """The eye (and brow) blendshapes of many faces at once, fitted to their re-read eyelids
    (and brows): :func:`solve_eyes` and :func:`solve_brows` for every face, one decode.

    Args:
        model: A model with the eye (and brow) blendshapes.
        params: ``(F, 62)`` raw parameters (any frame: crop or image).
        lids: ``(F, 68, 2|3)`` landmarks in the frame of ``params`` whose eyelid rows were read
            (the eye refiner's).
        brows: ``(F, 68, 2|3)`` landmarks whose brow rows were read (the brow refiner's), or
            None: the brow coefficients stay 0.

    Returns:
        ``(F, B)`` coefficients in [0, 1] in the order of the model's ``blendshape_names``,
        for :meth:`~morph3d.core.model.MorphableModel.decode`.

    Raises:
        ValueError: the model lacks these blendshapes (a model file from before version 2).
    """
    params = np.asarray(params, dtype=np.float64).reshape(-1, model.layout.size)
    names = _EYE_NAMES + (BROW_NAMES if brows is not None else ())
    neutral, motion = _landmark_fields(model, params, names)
    out = np.zeros((len(params), len(model.blendshape_names)))
    eyes = _solve_eyes(np.asarray(lids, dtype=np.float64)[..., :2], neutral, motion[:, :4])
    out[:, [model.blendshape_names.index(name) for name in _EYE_NAMES]] = eyes
    if brows is not None:
        read = np.asarray(brows, dtype=np.float64)[..., :2]
        columns = [model.blendshape_names.index(name) for name in BROW_NAMES]
        out[:, columns] = _solve_brows(read, neutral, motion[:, 4:])
    return out


def brow_blendshapes(
    model: MorphableModel, params: np.ndarray, brows: np.ndarray
) -> dict[str, float]:
    """The brow blendshapes of one face whose brow landmarks were read as ``brows``.

    Args:
        model: A model with the :data:`BROW_NAMES` blendshapes.
        params: ``(62,)`` raw parameters (any frame: crop or image).
        brows: ``(68, 2)`` landmarks in the frame of ``params`` (only the brow rows are read).

    Raises:
        ValueError: the model has no brow blendshapes (a model file from before version 2).
    """
    neutral, motion = _landmark_fields(model, np.asarray(params)[None], BROW_NAMES)
    read = np.asarray(brows, dtype=np.float64)[None, :, :2]
    return dict(zip(BROW_NAMES, map(float, _solve_brows(read, neutral, motion)[0]), strict=True))


def eye_blendshapes(
    model: MorphableModel, params: np.ndarray, lids: np.ndarray
) -> dict[str, float]:
    """The eye blendshapes of one face whose eyelid landmarks were read as ``lids``.

    Args:
        model: A model with the ``eyeBlink*`` and ``eyeWide*`` blendshapes.
        params: ``(62,)`` raw parameters (any frame: crop or image).
        lids: ``(68, 2)`` landmarks in the frame of ``params`` (only the eyelid rows are read).

    Raises:
        ValueError: the model has no eye blendshapes (a model file from before version 2).
    """
    return face_blendshapes(model, params, lids)


def face_blendshapes(
    model: MorphableModel, params: np.ndarray, lids: np.ndarray, brows: np.ndarray | None = None
) -> dict[str, float]:
    """The eye blendshapes of one face and, given its brows, the brow blendshapes too, by name
    (:func:`solve_blendshapes` for one face).

    Args:
        model: A model with the eye (and brow) blendshapes.
        params: ``(62,)`` raw parameters (any frame: crop or image).
        lids: ``(68, 2)`` landmarks whose eyelid rows were read (the eye refiner's).
        brows: ``(68, 2)`` landmarks whose brow rows were read (the brow refiner's), or None.

    Raises:
        ValueError: the model lacks these blendshapes (a model file from before version 2).
    """
    names = _EYE_NAMES + (BROW_NAMES if brows is not None else ())
    values = solve_blendshapes(
        model, np.asarray(params)[None], np.asarray(lids)[None],
        None if brows is None else np.asarray(brows)[None],
    )[0]  # fmt: skip
    return {name: float(values[model.blendshape_names.index(name)]) for name in names}
