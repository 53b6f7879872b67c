from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.marching import contour_lines, select_silhouette
from morph3d.core.mesh import vertex_normals
from morph3d.core.pose import angles_to_rotation, compose_pose, decompose_pose


def _turned(model, yaw: float) -> np.ndarray:
    params = model.layout.mean.copy()
    base = decompose_pose(params[:12])
    rotation = angles_to_rotation(np.array([yaw, 0.0, 0.0])) @ base.rotation
    params[:12] = compose_pose(base.scale, rotation, base.translation).reshape(12)
    return params


def test_lines_of_the_default_model(real_model) -> None:
    lines = contour_lines(real_model)
    assert list(lines.landmarks) == [k for k in range(17) if k != 8]
    assert list(lines.side) == [-1] * 8 + [1] * 8
    rows = [np.argwhere(real_model.grid == v)[0][0] for v in lines.home]
    for line, row in zip(lines.candidates, rows, strict=True):  # each line is one grid row
        assert {np.argwhere(real_model.grid == v)[0][0] for v in line} == {row}


@pytest.mark.parametrize("yaw", [50.0, -50.0])
def test_far_side_marches_to_the_silhouette(real_model, yaw: float) -> None:
    lines = contour_lines(real_model)
    params = _turned(real_model, yaw)
    vertices = real_model.decode(params)
    chosen = select_silhouette(
        lines, vertices[lines.candidates][None], params[None, :12].reshape(1, 3, 4)
    )[0]
    normals = vertex_normals(vertices[: real_model.grid.size], real_model.triangles)
    far = lines.side == (1 if yaw > 0 else -1)  # positive yaw turns the right side away
    assert np.all(chosen[far] != lines.home[far])
    assert np.all(np.abs(normals[chosen[far], 2]) < 0.2)  # on the silhouette
    assert np.all(normals[lines.home[far], 2] < -0.25)  # the fixed points face away
    np.testing.assert_array_equal(chosen[~far], lines.home[~far])  # the near side keeps them
    # Chosen points are the outermost of their lines in the image.
    reach = vertices[lines.candidates][..., 0] * lines.side[:, None]
    picked = vertices[chosen][:, 0] * lines.side
    np.testing.assert_allclose(picked[far], reach[far].max(axis=1))


def test_needs_a_grid(tiny_model) -> None:
    import dataclasses

    flat = dataclasses.replace(tiny_model, grid=np.zeros((0, 0), dtype=np.int64))
    with pytest.raises(ValueError, match="grid"):
        contour_lines(flat)


def test_march_landmarks_matches_the_fitter(real_model) -> None:
    from morph3d.core.fitting import LandmarkFitter
    from morph3d.core.marching import march_landmarks

    params = np.stack([_turned(real_model, yaw) for yaw in (-45.0, 0.0, 30.0)])
    targets = real_model.landmarks(params)[..., :2] + 0.3
    fit = LandmarkFitter(real_model).fit(targets)
    np.testing.assert_allclose(march_landmarks(real_model, fit.params), fit.landmarks, atol=1e-4)
    marched = march_landmarks(real_model, params)
    fixed = real_model.landmarks(params)
    np.testing.assert_array_equal(marched[:, 17:], fixed[:, 17:])  # only the jaw moves
    assert np.abs(marched[0, 9:17] - fixed[0, 9:17]).max() == 0  # yaw < 0: right side near
    assert np.abs(marched[0, :8] - fixed[0, :8]).max() > 1.0  # left side far: moved
