"""Spreading displacement fields known at the landmarks over the model's surface grid.

The shared dense model's expression basis does not move its grid: one standard deviation of
any of its 10 components moves a surface vertex by about 1e-5 crop pixels, while the same
component moves the landmarks (whose basis comes from the landmark model) by several pixels,
and a least-squares mix of the 10 dense columns at the vertices nearest the landmarks leaves
69–99 % of each landmark column unexplained: a different basis, not a rescaled one. So the mesh
never smiled or opened its mouth while its landmarks did.

:func:`spread_to_surface` rebuilds such fields on the surface from their values at the
landmarks: the smoothest field on the grid (bending and stretching energy of the grid graph, and
a weak pull to zero, so that motion fades away from the landmarks instead of being extrapolated)
whose interpolation at the landmarks' places matches the given displacements in least squares.
The landmark rows themselves keep their exact fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SPREAD_VERSION",
    "SpreadConfig",
    "grid_laplacian",
    "landmark_weights",
    "spread_to_surface",
]

#: Version of the spreading (and of its default :class:`SpreadConfig`): a model file converted
#: with another version is converted again.
SPREAD_VERSION = 1


@dataclass(frozen=True)
class SpreadConfig:
    """Weights of the energy :func:`spread_to_surface` minimises (every term is a squared
    displacement, so they do not depend on the model's units).

    Attributes:
        bending: Weight of the squared graph Laplacian of the field (smoothness).
        stretching: Weight of the field's squared differences between grid neighbours.
        decay: Weight of the squared field itself: motion fades over about
            ``sqrt(stretching / decay)`` grid steps away from the landmarks.
        neighbours: Surface vertices whose inverse-distance mean places each landmark.
    """

    bending: float = 0.1
    stretching: float = 0.01
    decay: float = 1e-4
    neighbours: int = 4


def grid_laplacian(grid: np.ndarray, n_vertices: int) -> np.ndarray:
    """``(n, n)`` graph Laplacian ``D - A`` of the 4-neighbour grid ``(H, W)`` of vertex
    indices (``n = n_vertices``; vertices in no grid node get an empty row)."""
    adjacency = np.zeros((n_vertices, n_vertices))
    rows, columns = grid.shape
    for down, right in ((0, 1), (1, 0)):
        a = grid[: rows - down, : columns - right].reshape(-1)
        b = grid[down:, right:].reshape(-1)
        adjacency[a, b] = adjacency[b, a] = 1.0
    return np.diag(adjacency.sum(axis=1)) - adjacency


def landmark_weights(surface: np.ndarray, points: np.ndarray, neighbours: int = 4) -> np.ndarray:
    """``(P, n)`` rows that interpolate a surface field at ``(P, 3)`` points: inverse-distance
    weights of each point's ``neighbours`` nearest of the ``(n, 3)`` surface vertices."""
    distance = np.linalg.norm(surface[None] - points[:, None], axis=-1)  # (P, n)
    nearest = np.argsort(distance, axis=1)[:, :neighbours]
    inverse = 1.0 / (np.take_along_axis(distance, nearest, axis=1) + 1e-9 * distance.max())
    weights = np.zeros_like(distance)
    np.put_along_axis(weights, nearest, inverse / inverse.sum(axis=1, keepdims=True), axis=1)
    return weights


def spread_to_surface(
    surface: np.ndarray,
    grid: np.ndarray,
    points: np.ndarray,
    fields: np.ndarray,
    config: SpreadConfig | None = None,
) -> np.ndarray:
    """Displacement fields over the surface grid from their values at some points on it.

    Minimises ``|W S - F|^2 + bending |L S|^2 + stretching tr(S' L S) + decay |S|^2`` over the
    surface field ``S``, where ``W`` interpolates at the points (:func:`landmark_weights`),
    ``L`` is the grid's graph Laplacian (:func:`grid_laplacian`).

    Args:
        surface: ``(n, 3)`` surface vertices (e.g. the mean shape), all in the grid.
        grid: ``(H, W)`` vertex index of each grid node (a permutation of ``0..n-1``).
        points: ``(P, 3)`` where the fields are known (on or near the surface).
        fields: ``(P, 3, K)`` their displacements there.
        config: The energy's weights.

    Raises:
        ValueError: the grid does not hold every surface vertex exactly once.

    Returns:
        ``(n, 3, K)`` float64 displacements of the surface vertices.
    """
    config = config or SpreadConfig()
    surface = np.asarray(surface, dtype=np.float64)
    n = len(surface)
    if sorted(np.asarray(grid).reshape(-1).tolist()) != list(range(n)):
        raise ValueError("the grid must hold every surface vertex exactly once")
    fields = np.asarray(fields, dtype=np.float64)
    weights = landmark_weights(surface, np.asarray(points, dtype=np.float64), config.neighbours)
    laplacian = grid_laplacian(grid, n)
    system = weights.T @ weights + config.bending * laplacian.T @ laplacian
    system += config.stretching * laplacian + config.decay * np.eye(n)
    right = weights.T @ fields.reshape(len(fields), -1)
    return np.linalg.solve(system, right).reshape(n, 3, -1)
