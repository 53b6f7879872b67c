"""Triangle-mesh helpers for the model's surface (numpy).

Triangles are 0-based vertex indices, wound counter-clockwise when seen from outside in a
right-handed frame (the model's crop frame: x right, y up, z toward the viewer), so their
normals ``(b - a) x (c - a)`` point out of the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MeshQuality",
    "grid_triangles",
    "mesh_quality",
    "triangle_normals",
    "vertex_normals",
]


def grid_triangles(grid: np.ndarray) -> np.ndarray:
    """Triangulate a grid of vertices, two triangles per cell.

    Args:
        grid: ``(H, W)`` vertex indices; row 0 is the top of the surface and column 0 its
            left as seen from outside (y up, x right).

    Returns:
        ``(2 (H-1) (W-1), 3)`` triangles wound counter-clockwise as seen from outside.
    """
    grid = np.asarray(grid)
    if grid.ndim != 2 or min(grid.shape) < 2:
        raise ValueError(f"grid must be (H, W) with H, W >= 2, got {grid.shape}")
    top_left, top_right = grid[:-1, :-1], grid[:-1, 1:]
    bottom_left, bottom_right = grid[1:, :-1], grid[1:, 1:]
    # Rows go down (-y) and columns right (+x): (tl, bl, tr) and (tr, bl, br) are both
    # counter-clockwise seen from +z.
    first = np.stack([top_left, bottom_left, top_right], axis=-1).reshape(-1, 3)
    second = np.stack([top_right, bottom_left, bottom_right], axis=-1).reshape(-1, 3)
    return np.concatenate([first, second]).astype(np.int64)


def triangle_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(..., F, 3)`` normals ``(b - a) x (c - a)``; their length is twice the triangle's area.

    Args:
        vertices: ``(..., N, 3)`` vertices.
        triangles: ``(F, 3)`` vertex indices.
    """
    a = vertices[..., triangles[:, 0], :]
    b = vertices[..., triangles[:, 1], :]
    c = vertices[..., triangles[:, 2], :]
    return np.cross(b - a, c - a)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(N, 3)`` unit vertex normals: area-weighted sums of the adjacent triangles' normals.

    Vertices in no triangle get a zero normal.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    face = triangle_normals(vertices, triangles)
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face)
    length = np.linalg.norm(normals, axis=-1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


@dataclass(frozen=True)
class MeshQuality:
    """Checks of a triangulated surface.

    Attributes:
        n_triangles: Number of triangles.
        n_degenerate: Triangles with an area below ``1e-3`` of the median area.
        n_inconsistent_edges: Interior edges that two triangles traverse in the same direction
            (inconsistent winding) or that more than two triangles share.
        n_flipped: Triangles whose normal points against the summed normals of their
            edge neighbours (a fold in the surface).
        outward_fraction: Fraction of triangles whose normal points away from the centre of the
            vertices.
    """

    n_triangles: int
    n_degenerate: int
    n_inconsistent_edges: int
    n_flipped: int
    outward_fraction: float

    @property
    def ok(self) -> bool:
        """No degenerate, inconsistent or flipped triangle, and at least 95% point outward."""
        return (
            self.n_degenerate == 0
            and self.n_inconsistent_edges == 0
            and self.n_flipped == 0
            and self.outward_fraction >= 0.95
        )


def mesh_quality(vertices: np.ndarray, triangles: np.ndarray) -> MeshQuality:
    """Check a surface for degenerate and flipped triangles and for its winding.

    Args:
        vertices: ``(N, 3)`` vertices.
        triangles: ``(F, 3)`` vertex indices.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    normals = triangle_normals(vertices, triangles)
    area = 0.5 * np.linalg.norm(normals, axis=-1)
    degenerate = int(np.sum(area < 1e-3 * np.median(area)))

    # Directed edges (a -> b) of every triangle; a consistently wound surface has each
    # undirected edge at most once per direction.
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    owner = np.tile(np.arange(len(triangles)), 3)
    _, counts = np.unique(directed, axis=0, return_counts=True)
    undirected = np.sort(directed, axis=1)
    _, inverse, shared = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    inconsistent = int(np.sum(counts > 1) + np.sum(shared > 2))

    # Neighbours across each interior edge: compare each normal with its neighbours' sum.
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    sorted_keys = inverse[order]
    pairs = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    first, second = owner[order[pairs]], owner[order[pairs + 1]]
    neighbour_sum = np.zeros_like(normals)
    np.add.at(neighbour_sum, first, normals[second])
    np.add.at(neighbour_sum, second, normals[first])
    flipped = int(np.sum(np.einsum("fc,fc->f", normals, neighbour_sum) < 0))

    centroids = vertices[triangles].mean(axis=1)
    outward = np.einsum("fc,fc->f", centroids - vertices.mean(axis=0), normals) > 0
    return MeshQuality(
        n_triangles=len(triangles),
        n_degenerate=degenerate,
        n_inconsistent_edges=inconsistent,
        n_flipped=flipped,
        outward_fraction=float(outward.mean()),
    )
