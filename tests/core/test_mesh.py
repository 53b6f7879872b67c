from __future__ import annotations

import numpy as np

from morph3d.core.mesh import grid_triangles, mesh_quality, triangle_normals, vertex_normals


def _cap(rows: int = 6, columns: int = 7) -> tuple[np.ndarray, np.ndarray]:
    r, c = np.divmod(np.arange(rows * columns), columns)
    x, y = c - (columns - 1) / 2, -(r - (rows - 1) / 2)
    vertices = np.stack([x, y, 5 - (x**2 + y**2) / 10], axis=1)
    return vertices, np.arange(rows * columns).reshape(rows, columns)


def test_grid_triangles_face_the_viewer() -> None:
    vertices, grid = _cap()
    triangles = grid_triangles(grid)
    assert triangles.shape == (2 * 5 * 6, 3)
    assert np.all(triangle_normals(vertices, triangles)[:, 2] > 0)
    quality = mesh_quality(vertices, triangles)
    assert quality.ok and quality.outward_fraction == 1.0


def test_flipped_and_degenerate_triangles_are_found() -> None:
    vertices, grid = _cap()
    triangles = grid_triangles(grid)
    flipped = triangles.copy()
    flipped[7] = flipped[7, ::-1]
    quality = mesh_quality(vertices, flipped)
    assert quality.n_flipped == 1 and quality.n_inconsistent_edges > 0 and not quality.ok
    collapsed = vertices.copy()
    collapsed[grid[2, 3]] = collapsed[grid[2, 4]]  # two vertices on top of each other
    assert mesh_quality(collapsed, triangles).n_degenerate == 2
    folded = vertices.copy()
    folded[grid[3, 3], 2] -= 50  # a deep pit folds its triangles over
    assert mesh_quality(folded, triangles).n_flipped > 0


def test_vertex_normals_are_unit_and_zero_when_unused() -> None:
    vertices, grid = _cap()
    vertices = np.concatenate([vertices, [[0.0, 0.0, 100.0]]])  # one vertex in no triangle
    normals = vertex_normals(vertices, grid_triangles(grid))
    np.testing.assert_allclose(np.linalg.norm(normals[:-1], axis=1), 1.0)
    np.testing.assert_array_equal(normals[-1], 0.0)
    centre = grid[grid.shape[0] // 2, grid.shape[1] // 2]
    assert normals[centre, 2] > 0.99
