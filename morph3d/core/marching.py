"""Landmark marching: jaw landmarks that follow the visible silhouette.

2D annotations put the jaw points (0-16 of the 68) on the face's visible outline, while the
morphable model's landmarks are fixed vertices. When a face turns, the outline on the far side
moves toward the nose. Marching lets each jaw landmark slide along a horizontal line of the
model's grid and picks, for the current pose, the vertex on the silhouette.

For jaw landmark ``k`` (not the chin, 8) let ``(r, c)`` be its nearest grid node on the mean face.
Its candidates are the nodes of grid row ``r`` from column ``c`` to the middle column. Seen in the
image, the silhouette is the candidate that lies farthest out along the head's x axis: the
smallest projection for the viewer's-left side (landmarks 0-7), the largest for the right side
(9-16). On a frontal face that is ``c`` itself; on the far side of a turned face it moves inward.
The near side keeps ``c``: a jaw turned toward the camera shows its real edge.

A marched landmark is ``L_k + V[chosen] - V[home]``: the exact landmark vertex moved by the
displacement between the chosen and the home grid node, so that no marching (``chosen == home``)
gives the landmark exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from morph3d.core.landmarks68 import CHIN, JAW
from morph3d.core.model import MorphableModel

__all__ = ["ContourLines", "contour_lines", "march_landmarks", "select_silhouette"]


@dataclass(frozen=True)
class ContourLines:
    """Candidate vertices of the marching jaw landmarks.

    Attributes:
        landmarks: ``(K,)`` landmark numbers that march (the jaw without the chin).
        home: ``(K,)`` vertex index of each landmark's nearest grid node.
        candidates: ``(K, C)`` candidate vertex indices along its grid row, padded by
            repeating ``home``.
        side: ``(K,)`` -1 for the viewer's left (pick the smallest projection), +1 for the right.
    """

    landmarks: np.ndarray
    home: np.ndarray
    candidates: np.ndarray
    side: np.ndarray


def contour_lines(model: MorphableModel) -> ContourLines:
    """Build the contour lines of a model with a grid (see the module docstring).

    Raises:
        ValueError: the model has no grid.
    """
    grid = model.grid
    if grid.size == 0:
        raise ValueError("landmark marching needs a model with a vertex grid")
    nodes = model.mean[grid.reshape(-1)].astype(np.float64)  # (H*W, 3)
    middle = grid.shape[1] // 2
    landmarks, homes, lines, sides = [], [], [], []
    for k in JAW:
        if k == CHIN:
            continue
        point = model.mean[model.landmark_indices[k]].astype(np.float64)
        row, column = np.unravel_index(np.argmin(np.linalg.norm(nodes - point, axis=1)), grid.shape)
        side = -1 if k < CHIN else 1
        columns = np.arange(column, middle + 1) if side < 0 else np.arange(middle, column + 1)
        landmarks.append(k)
        homes.append(grid[row, column])
        lines.append(grid[row, columns])
        sides.append(side)
    width = max(len(line) for line in lines)
    candidates = np.stack(
        [
            np.concatenate([line, np.full(width - len(line), home)])
            for line, home in zip(lines, homes, strict=True)
        ]
    )
    return ContourLines(
        landmarks=np.asarray(landmarks),
        home=np.asarray(homes),
        candidates=candidates,
        side=np.asarray(sides),
    )


def select_silhouette(lines: ContourLines, candidates: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Choose the silhouette vertex of each contour line for each face.

    Args:
        lines: The model's contour lines.
        candidates: ``(B, K, C, 3)`` the candidate vertices decoded for each face (crop frame).
        pose: ``(B, 3, 4)`` pose matrices of the faces.

    Returns:
        ``(B, K)`` vertex indices (entries of ``lines.candidates``) on the silhouette.
    """
    axis = np.asarray(pose)[:, :2, 0]  # the head's x axis as seen in the image
    axis = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    reach = np.einsum("bkcj,bj->bkc", np.asarray(candidates)[..., :2], axis)  # (B, K, C)
    best = np.argmax(reach * lines.side[None, :, None], axis=2)  # (B, K)
    return lines.candidates[np.arange(len(lines.home))[None], best]


def march_landmarks(
    model: MorphableModel, params: np.ndarray, lines: ContourLines | None = None
) -> np.ndarray:
    """Landmarks of decoded faces with the jaw on the silhouette, as 2D annotations place it.

    Args:
        model: The morphable model.
        params: ``(B, 62)`` raw parameters.
        lines: The model's contour lines (computed when not given).

    Returns:
        ``(B, 68, 3)`` landmarks in the crop frame: the fixed landmarks with the jaw marched.
    """
    lines = lines or contour_lines(model)
    params = np.asarray(params, dtype=np.float64).reshape(-1, model.layout.size)
    landmarks = model.landmarks(params)
    # Decode only the candidate vertices: (B, K, C, 3).
    basis = model.basis.reshape(model.n_vertices, 3, -1)[lines.candidates]
    coefficients = params[:, model.layout.coefficients]
    shapes = model.mean[lines.candidates] + np.einsum("kcjm,bm->bkcj", basis, coefficients)
    pose = model.layout.pose_matrix(params)
    candidates = np.einsum("bij,bkcj->bkci", pose[:, :, :3], shapes) + pose[:, None, None, :, 3]
    chosen = select_silhouette(lines, candidates, pose)  # (B, K)
    column = np.argmax(lines.candidates[None] == chosen[..., None], axis=2)  # (B, K)
    home_column = np.argmax(lines.candidates == lines.home[:, None], axis=1)  # (K,)
    rows = np.arange(len(lines.home))
    batch = np.arange(len(params))[:, None]
    shift = candidates[batch, rows[None], column] - candidates[:, rows, home_column]
    landmarks[:, lines.landmarks] += shift
    return landmarks
