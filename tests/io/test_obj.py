"""morph3d.io.obj: OBJ text that trimesh reads back as it writes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from morph3d.io.obj import obj_text, write_obj


def _mesh(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vertices = rng.normal(size=(30, 3)) * 100
    triangles = rng.integers(0, 30, (50, 3))
    colors = rng.integers(0, 256, (30, 4), dtype=np.uint8)
    return vertices, triangles, colors


def test_trimesh_reads_back_positions_faces_and_colours(tmp_path: Path) -> None:
    vertices, triangles, colors = _mesh()
    path = write_obj(tmp_path / "mesh.obj", vertices, triangles, colors)
    mesh = trimesh.load(path, process=False)
    np.testing.assert_allclose(mesh.vertices, vertices, atol=1e-7)
    np.testing.assert_array_equal(mesh.faces, triangles)
    np.testing.assert_array_equal(mesh.visual.vertex_colors[:, :3], colors[:, :3])


def test_the_same_lines_as_trimesh_writes() -> None:
    vertices, triangles, colors = _mesh(1)
    theirs = trimesh.Trimesh(vertices, triangles, vertex_colors=colors, process=False)
    expected = [line for line in theirs.export(file_type="obj").splitlines()
                if line[:2] in ("v ", "f ")]  # fmt: skip
    assert obj_text(vertices, triangles, colors).splitlines() == expected
    plain = obj_text(vertices, triangles).splitlines()
    assert len(plain[0].split()) == 4 and len(plain) == 80


def test_bad_meshes_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    vertices, triangles, colors = _mesh()
    with pytest.raises(ValueError, match="indices"):
        write_obj(tmp_path / "a.obj", vertices, triangles + 30)
    with pytest.raises(ValueError, match="colours"):
        obj_text(vertices, triangles, colors[:5])
    with pytest.raises(ValueError, match="triangles"):
        obj_text(vertices[:, :2], triangles)
    assert list(tmp_path.iterdir()) == []
