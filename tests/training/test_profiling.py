from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from morph3d.core.crop import (
    crop_box_from_landmarks,
    crop_to_image,
    image_to_crop,
)
from morph3d.core.marching import march_landmarks
from morph3d.core.model import MorphableModel
from morph3d.core.pose import angles_to_rotation, decompose_pose
from morph3d.io.datasets import photo_name, split_indices
from morph3d.training.profiling import (
    ProfileConfig,
    _head_centre,
    face_mesh,
    profile_face,
    profile_targets,
    rasterize,
    rotate_params,
    view_angles,
)
from morph3d.training.targets import (
    STORED_SIZE,
    Targets,
    concatenate_targets,
    read_targets,
    write_targets,
)

from ..conftest import make_tiny_targets

BOX = np.array([100.0, 80.0, 220.0, 200.0])


@pytest.mark.unit
def test_rotated_params_decode_to_the_rotated_vertices(
    tiny_model: MorphableModel, random_params: np.ndarray
) -> None:
    params = random_params[0]
    centre = np.array([55.0, 62.0, -8.0])
    for angles in ([40.0, 0, 0], [-75.0, 12.0, 0], [90.0, -10.0, 5.0]):
        rotation = angles_to_rotation(np.array(angles))
        moved, box = rotate_params(tiny_model, params, BOX, rotation, centre)
        turned = (tiny_model.decode(params) - centre) @ rotation.T + centre
        expected = image_to_crop(crop_to_image(turned, BOX), box)  # the new crop frame
        np.testing.assert_allclose(tiny_model.decode(moved), expected, rtol=0, atol=1e-9)
        # The box is the rule's box around the view's marched landmarks, in image pixels.
        marched = crop_to_image(march_landmarks(tiny_model, moved[None])[0], box)
        np.testing.assert_allclose(box, crop_box_from_landmarks(marched[:, :2]), atol=1e-9)
        # The rotation is applied to the pose, the coefficients are untouched.
        np.testing.assert_array_equal(moved[12:], params[12:])
        # On an exact scaled rotation, the view's rotation is Q times the face's.
        exact = params.copy()
        exact[:12] = tiny_model.layout.mean[:12]
        moved, _ = rotate_params(tiny_model, exact, BOX, rotation, centre)
        after = decompose_pose(moved[:12]).rotation
        np.testing.assert_allclose(after, rotation @ decompose_pose(exact[:12]).rotation, atol=1e-9)


@pytest.mark.unit
def test_rasterize_matches_a_naive_loop() -> None:
    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(-3, 23, (12, 2)), rng.uniform(-5, 5, 12)])
    triangles = rng.integers(0, 12, (15, 3))
    index, weights = rasterize(points, triangles, (18, 20))
    for row in range(18):
        for column in range(20):
            best, best_depth = -1, -np.inf
            for f, (i, j, k) in enumerate(triangles):
                a, b, c = points[i, :2], points[j, :2], points[k, :2]
                matrix = np.column_stack([b - a, c - a])
                if abs(np.linalg.det(matrix)) < 1e-12:
                    continue
                w1, w2 = np.linalg.solve(matrix, np.array([column, row]) - a)
                w = np.array([1 - w1 - w2, w1, w2])
                depth = w @ points[[i, j, k], 2]
                if np.all(w >= -1e-9) and depth > best_depth:
                    best, best_depth = f, depth
            assert index[row, column] == best
            if best >= 0:
                w = weights[row, column]
                np.testing.assert_allclose(w.sum(), 1.0, atol=1e-12)
                located = w @ points[triangles[best], :2]
                np.testing.assert_allclose(located, [column, row], atol=1e-9)


@pytest.mark.unit
def test_view_angles_reach_profile_and_enough_views() -> None:
    config = ProfileConfig()
    rng = np.random.default_rng(0)
    for yaw in (-40.0, -12.0, 0.0, 3.0, 25.0):
        angles = view_angles(yaw, config, rng)
        targets = np.array([yaw + turn for turn, _ in angles])
        assert len(angles) >= config.min_views
        assert np.all(np.abs(targets) <= config.max_yaw + 1e-9)
        side = 1 if yaw >= 0 else -1
        assert np.isclose(targets * side, config.max_yaw).any()  # out to profile
        assert all(abs(pitch) <= config.pitch for _, pitch in angles)


def test_max_views_draws_a_subset_of_the_allowed_turns() -> None:
    every = ProfileConfig()
    few = ProfileConfig(max_views=3)
    for yaw in (-20.0, 0.0, 12.0):
        allowed = {turn for turn, _ in view_angles(yaw, every, np.random.default_rng(1))}
        drawn = [turn for turn, _ in view_angles(yaw, few, np.random.default_rng(1))]
        assert len(drawn) == 3 and len(set(drawn)) == 3 and set(drawn) <= allowed
    # Different faces (seeds) draw different turns.
    draws = {tuple(t for t, _ in view_angles(0.0, few, np.random.default_rng(s))) for s in range(8)}
    assert len(draws) > 1


def _fake_targets(model: MorphableModel, params: np.ndarray, names: list[str]) -> Targets:
    n = len(names)
    rng = np.random.default_rng(4)
    boxes = np.tile(BOX, (n, 1))
    landmarks = model.landmarks(params).astype(np.float32)
    return Targets(
        name=names,
        source=[f"/photos/{name}.jpg" for name in names],
        image=rng.integers(0, 256, (n, STORED_SIZE, STORED_SIZE, 3), dtype=np.uint8),
        image_box=boxes * 2,
        crop_box=boxes,
        annotation=landmarks[..., :2],
        params=params,
        fit_landmarks=landmarks,
        model_landmarks=landmarks,
        fit_nme=np.full(n, 1.5, dtype=np.float32),
        yaw=np.full(n, np.nan, dtype=np.float32),
        silhouette_jaw=np.ones(n, dtype=np.uint8),
        fit_yaw=np.zeros(n, dtype=np.float32),
        flags=np.zeros(n, dtype=np.uint8),
        attrs={"format_version": 1},
    )


@pytest.mark.unit
def test_views_keep_their_face_in_the_file_and_the_split(
    tiny_model: MorphableModel, random_params: np.ndarray, tmp_path: Path
) -> None:
    names = ["afw/111_1", "afw/111_2", "helen/222_1", "helen/333_1"]
    originals = _fake_targets(tiny_model, random_params, names)
    out = profile_targets(originals, tiny_model, ProfileConfig(min_views=3))
    n = len(names)
    assert list(out.view_of[:n]) == [-1] * n and not out.synthetic[:n].any()
    views = np.flatnonzero(out.synthetic)
    assert len(views) == len(out) - n and len(views) >= 3 * n
    assert np.all(out.view_of[views] >= 0)
    for k in views:
        face = out.view_of[k]
        assert out.name[k].startswith(names[face] + "@")
        assert photo_name(out.name[k]) == photo_name(names[face])
        assert out.source[k] == originals.source[face]
    # The validation split by name puts every view on its face's side, whatever the fraction.
    for fraction in (0.3, 0.5, 0.7):
        _, val = split_indices(out.name, fraction)
        held = np.zeros(len(out), dtype=bool)
        held[val] = True
        np.testing.assert_array_equal(held[views], held[out.view_of[views]])
    path = write_targets(tmp_path / "lp.h5", out)
    again = read_targets(path)
    np.testing.assert_array_equal(again.view_of, out.view_of)
    np.testing.assert_array_equal(again.synthetic, out.synthetic)
    np.testing.assert_array_equal(again.params, out.params)


@pytest.mark.unit
def test_views_alone_of_sparse_faces_are_dense_and_join_their_faces_file(
    tiny_model: MorphableModel, tmp_path: Path
) -> None:
    originals = make_tiny_targets(tiny_model, count=6)
    assert originals.sparse.any()
    chosen = [1, 2, 3]  # sparse, dense, sparse
    views = profile_targets(
        originals, tiny_model, ProfileConfig(max_views=2), chosen, keep_originals=False
    )
    assert len(views) == 2 * len(chosen) and views.synthetic.all()
    assert views.attrs["views_only"] == 1
    assert sorted(set(views.view_of)) == chosen
    # A view's targets are its turned mesh's 68 landmarks: dense, whatever its face was.
    assert not views.sparse.any() and np.isnan(views.sparse_points).all()
    np.testing.assert_allclose(
        views.model_landmarks, tiny_model.landmarks(views.params), rtol=1e-5, atol=1e-3
    )
    for k, face in enumerate(views.view_of):
        assert views.name[k].startswith(originals.name[face] + "@")
    again = read_targets(write_targets(tmp_path / "views.h5", views))
    assert again.attrs["views_only"] == 1
    # Beside the file of their faces, the views' indices point nowhere rather than wrongly.
    both = concatenate_targets([originals, again])
    assert len(both) == len(originals) + len(views)
    assert (both.view_of == -1).all() and "views_only" not in both.attrs
    again_first = concatenate_targets([again, originals])  # its attributes lead: still joined
    assert "views_only" not in again_first.attrs
    np.testing.assert_array_equal(both.sparse[: len(originals)], originals.sparse)


@pytest.mark.unit
def test_files_without_the_view_fields_read_as_originals(
    tiny_model: MorphableModel, random_params: np.ndarray, tmp_path: Path
) -> None:
    path = write_targets(tmp_path / "old.h5", _fake_targets(tiny_model, random_params, ["a", "b"]))
    with h5py.File(path, "a") as file:  # as a file written before the fields existed
        del file["synthetic"], file["view_of"]
    old = read_targets(path)
    assert old.synthetic.dtype == bool and not old.synthetic.any()
    assert list(old.view_of) == [-1, -1]


@pytest.mark.integration
def test_a_marker_on_the_face_lands_where_the_rotated_mesh_says(real_model) -> None:
    model = real_model
    params = model.layout.mean.copy()  # the mean face, near frontal, in a 120 crop
    crop_box = np.array([60.0, 60.0, 180.0, 180.0])
    rng = np.random.default_rng(5)
    stored = np.clip(rng.normal(128, 10, (STORED_SIZE, STORED_SIZE, 3)), 0, 255).astype(np.uint8)
    vertices = model.decode(params)
    # The nose tip and the mouth corners; the corner that turns away hides behind the lips.
    nose, left, right = model.landmark_indices[[30, 48, 54]]
    colours = {nose: (255, 0, 0), left: (0, 0, 255), right: (0, 255, 0)}
    for vertex, colour in colours.items():
        column, row = vertices[vertex, 0] - 1 + 60, 120 - vertices[vertex, 1] + 60
        stored[round(row) - 3 : round(row) + 4, round(column) - 3 : round(column) + 4] = colour
    angles = [(30.0, 0.0), (45.0, 10.0), (-40.0, -10.0), (60.0, 0.0)]
    views = profile_face(model, stored, params, crop_box, angles)
    for (yaw, _), view in zip(angles, views, strict=True):
        turned = model.decode(view.params)
        for vertex in (nose, left if yaw > 0 else right):
            colour = colours[vertex]
            column, row = turned[vertex, 0] - 1 + 60, 120 - turned[vertex, 1] + 60
            pixel = view.image[round(row), round(column)].astype(int)
            assert np.abs(pixel - colour).max() < 40, (vertex, pixel)


@pytest.mark.integration
def test_the_mesh_covers_the_picture_and_stays_behind_the_face(real_model) -> None:
    params = real_model.layout.mean.copy()
    mesh = face_mesh(real_model, params)
    centre = _head_centre(real_model, params, ProfileConfig())
    face = mesh.points[: mesh.n_face]
    assert mesh.n_face > 0.8 * len(real_model.grid.reshape(-1))  # a frontal face is visible
    assert np.all(mesh.points[mesh.n_face :, 2] <= face[:, 2].max())
    assert mesh.back_depth < centre[2] < face[:, 2].max()
    lower, upper = mesh.points[:, :2].min(axis=0), mesh.points[:, :2].max(axis=0)
    assert np.all(lower <= -59) and np.all(upper >= 180)  # the whole stored picture


@pytest.mark.unit
def test_the_torch_rasteriser_draws_the_same_pixels() -> None:
    from morph3d.training.profiling import rasterize_torch

    rng = np.random.default_rng(4)
    points = np.column_stack([rng.uniform(-3, 43, (40, 2)), rng.uniform(-5, 5, 40)])
    triangles = rng.integers(0, 40, (60, 3))
    triangles[-1] = triangles[0]  # a repeated triangle: equal depths, the first one wins
    index, weights = rasterize(points, triangles, (36, 40))
    index_t, weights_t = rasterize_torch(points, triangles, (36, 40), device="cpu")
    np.testing.assert_array_equal(index_t, index)
    np.testing.assert_allclose(weights_t, weights, atol=1e-12)
    assert (index >= 0).mean() > 0.3 and not (index == len(triangles) - 1).any()
    # through the dispatcher, and with nothing in view
    np.testing.assert_array_equal(rasterize(points, triangles, (36, 40), "cpu")[0], index)
    empty, _ = rasterize_torch(points - 1000.0, triangles, (36, 40), device="cpu")
    assert (empty == -1).all()


@pytest.mark.integration
def test_profiling_on_torch_renders_the_same_views(real_model) -> None:
    from morph3d.training.profiling import profile_face

    params = real_model.layout.mean.copy()
    crop_box = np.array([60.0, 60.0, 180.0, 180.0])
    stored = np.random.default_rng(6).integers(0, 255, (STORED_SIZE, STORED_SIZE, 3), np.uint8)
    angles = [(40.0, 5.0), (-75.0, 0.0)]
    plain = profile_face(real_model, stored, params, crop_box, angles)
    torch_views = profile_face(real_model, stored, params, crop_box, angles,
                               ProfileConfig(device="cpu"))  # fmt: skip
    for a, b in zip(plain, torch_views, strict=True):
        assert np.abs(a.image.astype(int) - b.image).max() <= 1
        np.testing.assert_allclose(a.params, b.params)


def test_auto_device_falls_back_without_a_gpu() -> None:
    import torch

    from morph3d.training.distributed import resolve_device

    assert resolve_device("cuda") == "cuda" and resolve_device("numpy") == "numpy"
    expected = "cuda" if torch.cuda.is_available() else "numpy"
    assert resolve_device("auto", cpu="numpy") == expected
