"""Compiled (numba) kernels of the core's arithmetic, for the per-frame work of tracking.

Each kernel does what a numpy function of the core does, in one compiled loop that lets go of
Python's lock: on a face's 68 landmarks or 4,164 vertices numpy's per-call overhead, not the
arithmetic, is what a frame waits for. The numpy functions stay the reference (the tests compare
the two) and the path without numba.

* :func:`landmark_rows`: :meth:`~morph3d.core.model.MorphableModel.landmarks` of one face.
* :func:`bounded_least_squares`: the bounded brow fit of
  :func:`~morph3d.core.blendshapes.solve_brows`.
* :func:`one_euro_points`: one step of :class:`~morph3d.core.filters.OneEuroFilter` on points.
* :func:`pose_angles`: the angles of :func:`~morph3d.core.pose.decompose_pose`, in closed form.
* :func:`mouth_values`: :func:`~morph3d.core.mouth.mouth_coefficients`.
* :func:`landmark_motion`: the tracker's checks of a face's new landmarks.

Numba compiles a kernel on its first call (seconds, once: the machine code is cached beside the
module, or in numba's user cache when that is not writable).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from morph3d.core.blendshapes import _ACTIVE_SET_STEPS, _BOUND_CASES, _BOUND_SLACK
from morph3d.core.mouth import _INNER_PAIRS, _OPEN_FULL, _PUCKER_FULL, _SMILE_FULL

__all__ = [
    "bounded_least_squares",
    "landmark_motion",
    "landmark_rows",
    "mouth_values",
    "one_euro_points",
    "pose_angles",
]

#: The decorator of every kernel: compiled once and cached on disk, run without Python's lock.
kernel = njit(cache=True, nogil=True)
#: A kernel whose sums may run in any order (``fastmath``: vectorised, as BLAS sums), for
#: float32 work that numpy would hand to BLAS.
fast_kernel = njit(cache=True, nogil=True, fastmath=True)

#: No blendshapes, for :func:`landmark_rows` (their fields are never read).
_NO_FIELDS = np.zeros((1, 1, 0))
_NO_WEIGHTS = np.zeros(0)


@kernel
def landmark_rows(
    params: np.ndarray,
    mean: np.ndarray,
    basis: np.ndarray,
    fields: np.ndarray,
    weights: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out`` ``(n, 3)`` = the rows ``mean`` ``(n, 3)``, ``basis`` ``(3n, K)`` and ``fields``
    ``(n, 3, B)`` of a model decoded for ``(12 + K,)`` raw parameters and ``(B,)`` blendshape
    coefficients (``B = 0``: none): :meth:`~morph3d.core.model.MorphableModel.landmarks`."""
    shape = np.empty(3)
    for n in range(mean.shape[0]):
        for i in range(3):
            total = mean[n, i]
            row = 3 * n + i
            for k in range(basis.shape[1]):
                total += basis[row, k] * params[12 + k]
            for b in range(weights.shape[0]):
                total += fields[n, i, b] * weights[b]
            shape[i] = total
        for j in range(3):
            out[n, j] = (
                params[4 * j] * shape[0]
                + params[4 * j + 1] * shape[1]
                + params[4 * j + 2] * shape[2]
                + params[4 * j + 3]
            )


@kernel
def _solve(matrix: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``matrix^-1 right`` by Gaussian elimination with partial pivoting (small systems)."""
    a = matrix.copy()
    x = right.copy()
    n = len(x)
    for k in range(n):
        pivot = k
        for r in range(k + 1, n):
            if abs(a[r, k]) > abs(a[pivot, k]):
                pivot = r
        if pivot != k:
            for c in range(n):
                a[k, c], a[pivot, c] = a[pivot, c], a[k, c]
            x[k], x[pivot] = x[pivot], x[k]
        for r in range(k + 1, n):
            factor = a[r, k] / a[k, k]
            for c in range(k, n):
                a[r, c] -= factor * a[k, c]
            x[r] -= factor * x[k]
    for k in range(n - 1, -1, -1):
        total = x[k]
        for c in range(k + 1, n):
            total -= a[k, c] * x[c]
        x[k] = total / a[k, k]
    return x


@kernel
def _case_minimum(hessian: np.ndarray, target: np.ndarray, case: np.ndarray) -> np.ndarray:
    """The minimum with each coefficient held at ``case`` (0 or 1) or free (2)."""
    n = len(target)
    matrix = np.zeros((n, n))
    right = np.empty(n)
    for i in range(n):
        if case[i] == 2:
            matrix[i] = hessian[i]
            right[i] = target[i]
        else:
            matrix[i, i] = 1.0
            right[i] = case[i]
    return _solve(matrix, right)


@kernel
def bounded_least_squares(hessian: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The minimum of ``x H x / 2 - t x`` over [0, 1]^5 for a positive definite ``hessian``:
    the free minimum if it is inside, else primal-dual active-set steps from the case its
    violations suggest, else the best feasible case of all ``3^5``
    (:func:`~morph3d.core.blendshapes.solve_brows`'s method)."""
    n = len(target)
    out = np.empty(n)
    free = _solve(hessian, target)
    inside = True
    for i in range(n):
        if free[i] < -_BOUND_SLACK or free[i] > 1 + _BOUND_SLACK:
            inside = False
    if inside:
        for i in range(n):
            out[i] = min(max(free[i], 0.0), 1.0)
        return out
    case = np.empty(n)
    for i in range(n):
        case[i] = 0.0 if free[i] < 0 else (1.0 if free[i] > 1 else 2.0)
    for _ in range(_ACTIVE_SET_STEPS):
        candidate = _case_minimum(hessian, target, case)
        optimal = True
        step = case.copy()
        for i in range(n):
            gradient = -target[i]
            for j in range(n):
                gradient += hessian[i, j] * candidate[j]
            slack = _BOUND_SLACK * (1 + abs(target[i]))
            held = case[i] != 2
            low, high = candidate[i] < -_BOUND_SLACK, candidate[i] > 1 + _BOUND_SLACK
            inward = held and (gradient < -slack if case[i] == 0 else gradient > slack)
            if (not held and (low or high)) or inward:
                optimal = False
            if not held and low:
                step[i] = 0.0
            elif not held and high:
                step[i] = 1.0
            if inward:
                step[i] = 2.0
        if optimal:
            for i in range(n):
                out[i] = min(max(candidate[i], 0.0), 1.0)
            return out
        case = step
    best = np.inf
    for c in range(_BOUND_CASES.shape[0]):
        candidate = _case_minimum(hessian, target, _BOUND_CASES[c])
        feasible = True
        for i in range(n):
            if candidate[i] < -_BOUND_SLACK or candidate[i] > 1 + _BOUND_SLACK:
                feasible = False
            candidate[i] = min(max(candidate[i], 0.0), 1.0)
        if not feasible:
            continue
        cost = 0.0
        for i in range(n):
            pulled = 0.0
            for j in range(n):
                pulled += hessian[i, j] * candidate[j]
            cost += 0.5 * candidate[i] * pulled - target[i] * candidate[i]
        if cost < best:
            best = cost
            out[:] = candidate
    return out


@kernel
def one_euro_points(
    value: np.ndarray,
    speed: np.ndarray,
    x: np.ndarray,
    period: float,
    scale: float,
    min_cutoff: float,
    beta: float,
    d_cutoff: float,
) -> None:
    """One step of the 1€ filter on ``(n, d)`` points, in place on its state ``value`` and
    ``speed`` (:class:`~morph3d.core.filters.OneEuroFilter` with ``joint_axis``: one cut-off per
    point, from the norm of its speed over ``scale``), ``period`` seconds after the last."""
    rate = 1.0 / (1.0 + (1.0 / (2.0 * math.pi * d_cutoff)) / period)
    for n in range(value.shape[0]):
        squared = 0.0
        for j in range(value.shape[1]):
            speed[n, j] = speed[n, j] * (1.0 - rate) + (rate / period) * (x[n, j] - value[n, j])
            squared += speed[n, j] * speed[n, j]
        cutoff = min_cutoff + beta * (math.sqrt(squared) / scale)
        alpha = 1.0 / (1.0 + (1.0 / (2.0 * math.pi * cutoff)) / period)
        for j in range(value.shape[1]):
            value[n, j] += alpha * (x[n, j] - value[n, j])


@kernel
def pose_angles(pose: np.ndarray) -> np.ndarray:
    """Yaw, pitch and roll in degrees of a ``(12,)`` pose matrix, as
    :func:`~morph3d.core.pose.decompose_pose` gives them (NaN for a degenerate block).

    The polar factor of the 2x3 block ``B`` is ``(B B^T)^(-1/2) B``, and the square root of the
    2x2 matrix ``M = B B^T`` is ``(M + sqrt(det M) I) / sqrt(tr M + 2 sqrt(det M))``: the SVD's
    ``U V^T`` in closed form.
    """
    b1 = pose[0:3]
    b2 = pose[4:7]
    m00 = b1[0] * b1[0] + b1[1] * b1[1] + b1[2] * b1[2]
    m01 = b1[0] * b2[0] + b1[1] * b2[1] + b1[2] * b2[2]
    m11 = b2[0] * b2[0] + b2[1] * b2[1] + b2[2] * b2[2]
    root = math.sqrt(max(m00 * m11 - m01 * m01, 0.0))
    spread = math.sqrt(m00 + m11 + 2.0 * root)
    out = np.full(3, np.nan)
    if not spread > 0:
        return out
    # the inverse of (M + root I) / spread
    a, b, d = (m00 + root) / spread, m01 / spread, (m11 + root) / spread
    det = a * d - b * b
    if not det > 0:
        return out
    i00, i01, i11 = d / det, -b / det, a / det
    rotation = np.empty((3, 3))
    for c in range(3):
        rotation[0, c] = i00 * b1[c] + i01 * b2[c]
        rotation[1, c] = i01 * b1[c] + i11 * b2[c]
    rotation[2, 0] = rotation[0, 1] * rotation[1, 2] - rotation[0, 2] * rotation[1, 1]
    rotation[2, 1] = rotation[0, 2] * rotation[1, 0] - rotation[0, 0] * rotation[1, 2]
    rotation[2, 2] = rotation[0, 0] * rotation[1, 1] - rotation[0, 1] * rotation[1, 0]
    # rotation_to_angles
    yaw = math.asin(min(max(-rotation[2, 0], -1.0), 1.0))
    if math.sqrt(rotation[2, 1] ** 2 + rotation[2, 2] ** 2) < 1e-6:
        pitch, roll = math.atan2(-rotation[1, 2], rotation[1, 1]), 0.0
    else:
        pitch = math.atan2(rotation[2, 1], rotation[2, 2])
        roll = math.atan2(rotation[1, 0], rotation[0, 0])
    out[0], out[1], out[2] = math.degrees(yaw), math.degrees(pitch), math.degrees(roll)
    return out


@kernel
def mouth_values(params: np.ndarray, mean: np.ndarray, basis: np.ndarray, shape: int) -> np.ndarray:
    """The mouth coefficients of :data:`~morph3d.core.mouth.MOUTH_NAMES`, in that order, of
    ``(62,)`` raw parameters whose first ``shape`` coefficients are the identity's
    (:func:`~morph3d.core.mouth.mouth_coefficients` from the landmark rows ``mean``, ``basis``);
    NaN where the neutral mouth has no width."""
    posed = params.copy()  # in model space, as mouth_coefficients decodes it: no pose
    posed[:12] = 0.0
    posed[0] = posed[5] = posed[10] = 1.0
    unmoved = posed.copy()  # the same face at zero expression
    unmoved[12 + shape :] = 0.0
    points = np.empty((mean.shape[0], 3))
    rest = np.empty((mean.shape[0], 3))
    landmark_rows(posed, mean, basis, _NO_FIELDS, _NO_WEIGHTS, points)
    landmark_rows(unmoved, mean, basis, _NO_FIELDS, _NO_WEIGHTS, rest)
    out = np.full(4, np.nan)
    width_rest = math.hypot(rest[54, 0] - rest[48, 0], rest[54, 1] - rest[48, 1])
    if not width_rest > 0:
        return out
    gap = 0.0
    gap_rest = 0.0
    for upper, lower in _INNER_PAIRS:
        gap += (points[upper, 1] - points[lower, 1]) / len(_INNER_PAIRS)
        gap_rest += (rest[upper, 1] - rest[lower, 1]) / len(_INNER_PAIRS)
    out[0] = min(max((gap - gap_rest) / (_OPEN_FULL * width_rest), 0.0), 1.0)
    centre = (points[48, 0] + points[54, 0]) / 2
    centre_rest = (rest[48, 0] + rest[54, 0]) / 2
    for slot, corner, outward in ((1, 54, 1.0), (2, 48, -1.0)):
        rise = (points[corner, 1] - points[51, 1]) - (rest[corner, 1] - rest[51, 1])
        moved = outward * ((points[corner, 0] - centre) - (rest[corner, 0] - centre_rest))
        out[slot] = min(max((rise + 0.5 * moved) / (_SMILE_FULL * width_rest), 0.0), 1.0)
    width = math.hypot(points[54, 0] - points[48, 0], points[54, 1] - points[48, 1])
    out[3] = min(max((width_rest - width) / (_PUCKER_FULL * width_rest), 0.0), 1.0)
    return out


@kernel
def landmark_motion(
    landmarks: np.ndarray, previous: np.ndarray, width: float, height: float
) -> tuple[float, float, float]:
    """How a face's ``(68, 2|3)`` image landmarks moved from ``previous``: the fraction inside a
    ``width`` x ``height`` frame, the mean motion of a point over the previous face size
    (:func:`~morph3d.core.metrics.landmark_box_size`; infinite for a face of no size) and the
    factor by which that size changed (at least 1)."""
    count = landmarks.shape[0]
    inside = 0
    motion = 0.0
    box = np.array([np.inf, np.inf, -np.inf, -np.inf, np.inf, np.inf, -np.inf, -np.inf])
    for n in range(count):
        x, y = landmarks[n, 0], landmarks[n, 1]
        if 0 <= x < width and 0 <= y < height:
            inside += 1
        motion += math.hypot(x - previous[n, 0], y - previous[n, 1])
        for offset, points in ((0, landmarks), (4, previous)):
            box[offset] = min(box[offset], points[n, 0])
            box[offset + 1] = min(box[offset + 1], points[n, 1])
            box[offset + 2] = max(box[offset + 2], points[n, 0])
            box[offset + 3] = max(box[offset + 3], points[n, 1])
    new_size = math.sqrt((box[2] - box[0]) * (box[3] - box[1]))
    size = math.sqrt((box[6] - box[4]) * (box[7] - box[5]))
    if not size > 0:
        return inside / count, np.inf, np.inf
    zoom = max(new_size / size, size / max(new_size, 1e-9))
    return inside / count, motion / count / size, zoom
