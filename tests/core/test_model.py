from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from morph3d.core.model import MorphableModel, load_model
from morph3d.errors import ModelFormatError, ModelNotFoundError


def naive_decode(model: MorphableModel, params: np.ndarray) -> np.ndarray:
    """One face, one vertex at a time, straight from the formula."""
    pose = params[:12].reshape(3, 4)
    alpha, beta = params[12:52], params[52:62]
    out = np.empty((model.n_vertices, 3))
    for i in range(model.n_vertices):
        point = (
            model.mean[i].astype(np.float64)
            + model.shape_basis[i].astype(np.float64) @ alpha
            + model.expression_basis[i].astype(np.float64) @ beta
        )
        out[i] = pose[:, :3] @ point + pose[:, 3]
    return out


def test_decode_matches_naive_loop(tiny_model, random_params) -> None:
    vertices = tiny_model.decode(random_params)
    assert vertices.shape == (4, tiny_model.n_vertices, 3) and vertices.dtype == np.float64
    for face, params in zip(vertices, random_params, strict=True):
        np.testing.assert_allclose(face, naive_decode(tiny_model, params), rtol=1e-10, atol=1e-9)


def test_landmarks_are_rows_of_the_vertices(tiny_model, random_params) -> None:
    landmarks = tiny_model.landmarks(random_params)
    assert landmarks.shape == (4, 68, 3)
    np.testing.assert_array_equal(
        landmarks, tiny_model.decode(random_params)[:, tiny_model.landmark_indices]
    )


def test_float32_decode(tiny_model, random_params) -> None:
    single = tiny_model.decode(random_params.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, tiny_model.decode(random_params), atol=1e-3)


def test_save_load_round_trip(tiny_model, tmp_path: Path) -> None:
    path = tiny_model.save(tmp_path / "sub" / "model.npz")
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # no temporary left
    loaded = load_model(path)
    for name in ("mean", "shape_basis", "expression_basis", "triangles", "grid"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(tiny_model, name))
    np.testing.assert_array_equal(loaded.layout.std, tiny_model.layout.std)
    assert loaded.metadata == {"name": "tiny", "version": 1}


def _with_blendshape(model: MorphableModel) -> MorphableModel:
    field = np.zeros((model.n_vertices, 3, 1), dtype=np.float32)
    field[:, 1, 0] = 1.0  # everything up by one unit
    return dataclasses.replace(model, blendshapes=field, blendshape_names=("up",))


def test_blendshapes_decode_and_round_trip(tiny_model, random_params, tmp_path: Path) -> None:
    model = _with_blendshape(tiny_model)
    params = random_params[0]
    moved = model.decode(params, np.array([2.0])) - model.decode(params)
    pose = model.layout.pose_matrix(params)[:3, :3]
    np.testing.assert_allclose(moved, np.broadcast_to(pose @ [0, 2.0, 0], moved.shape), atol=1e-6)
    np.testing.assert_allclose(
        model.landmarks(params, model.blendshape_vector({"up": 2.0})),
        model.decode(params, np.array([2.0]))[model.landmark_indices],
    )
    loaded = load_model(model.save(tmp_path / "model.npz"))
    assert loaded.blendshape_names == ("up",)
    np.testing.assert_array_equal(loaded.blendshapes, model.blendshapes)
    with pytest.raises(ValueError, match="expected 1 blendshape"):
        model.decode(params, np.zeros(3))
    with pytest.raises(ValueError, match="no blendshapes"):
        model.blendshape_vector({"eyeBlinkLeft": 1.0})


def test_a_version_1_file_loads_without_blendshapes(tiny_model, tmp_path: Path) -> None:
    good = _with_blendshape(tiny_model).save(tmp_path / "v2.npz")
    old = _rewrite(
        good, tmp_path / "v1.npz", format_version=np.asarray(1), blendshapes=None,
        blendshape_names=None,
    )  # fmt: skip
    loaded = load_model(old)
    assert loaded.blendshape_names == () and loaded.blendshapes.shape == (98, 3, 0)
    np.testing.assert_allclose(loaded.decode(tiny_model.layout.mean), tiny_model.decode(
        tiny_model.layout.mean))  # fmt: skip


def test_missing_model_names_path_and_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MORPH3D_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as raised:
        load_model()
    assert str(tmp_path) in str(raised.value) and "setup.sh" in str(raised.value)


def _rewrite(source: Path, target: Path, **changes) -> Path:
    with np.load(source) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del arrays[key]
    np.savez(target, **arrays)
    return target


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mean": None}, "missing arrays"),
        ({"triangles": np.zeros((3, 3), dtype=np.float32)}, "must be integer"),
        ({"shape_basis": np.zeros((5, 3, 40), dtype=np.float32)}, "shape_basis must be"),
        ({"landmark_indices": np.arange(67)}, "landmark_indices"),
        ({"triangles": np.full((2, 3), 10_000, dtype=np.int32)}, "triangles index"),
        ({"format_version": np.asarray(99)}, "format version 99"),
        ({"metadata": np.asarray("{not json")}, "not JSON"),
        ({"mean": np.full((98, 3), np.nan, dtype=np.float32)}, "non-finite"),
        ({"blendshapes": None}, "needs blendshapes"),
        ({"blendshapes": np.zeros((98, 3, 2), dtype=np.float32)}, "2 blendshapes but 0 names"),
    ],
)
def test_bad_files_raise_clear_errors(tiny_model, tmp_path: Path, changes, message) -> None:
    good = tiny_model.save(tmp_path / "good.npz")
    bad = _rewrite(good, tmp_path / "bad.npz", **changes)
    with pytest.raises(ModelFormatError, match=message) as raised:
        load_model(bad)
    assert str(bad) in str(raised.value)


def test_pickled_or_corrupt_files_are_refused(tiny_model, tmp_path: Path) -> None:
    good = tiny_model.save(tmp_path / "good.npz")
    pickled = _rewrite(
        good, tmp_path / "pickled.npz", metadata=np.asarray([{"a": 1}], dtype=object)
    )
    with pytest.raises(ModelFormatError, match="readable"):
        load_model(pickled)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelFormatError, match="readable"):
        load_model(corrupt)


def test_metadata_is_json(tiny_model, tmp_path: Path) -> None:
    path = tiny_model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert json.loads(str(archive["metadata"]))["name"] == "tiny"
