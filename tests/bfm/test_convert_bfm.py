"""The default model converted from ../shared/data/bfm (integration tests)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.core.decoder import Decoder
from morph3d.core.mesh import mesh_quality
from morph3d.core.model import load_model

from ..conftest import load_script

convert_bfm = load_script("bfm/convert_bfm.py")


def _independent_landmarks(bfm: Path) -> np.ndarray:
    """Decode the mean parameters straight from the source files, in float64."""
    with open(bfm / "param_mean_std_62d_120x120.pkl", "rb") as stream:
        params = np.asarray(pickle.load(stream)["mean"], dtype=np.float64)  # our own test data
    u = np.loadtxt(bfm / "landmarks68" / "u_base.txt")
    w_shp = np.loadtxt(bfm / "landmarks68" / "w_shp_base.txt")
    w_exp = np.loadtxt(bfm / "landmarks68" / "w_exp_base.txt")
    pose = params[:12].reshape(3, 4)
    points = (u + w_shp @ params[12:52] + w_exp @ params[52:62]).reshape(3, -1, order="F")
    return (pose[:, :3] @ points + pose[:, 3:4]).T  # (68, 3)


def test_mean_landmarks_match_an_independent_decode(real_model, shared_data: Path) -> None:
    expected = _independent_landmarks(shared_data / "bfm")
    mean = real_model.layout.mean
    np.testing.assert_allclose(real_model.landmarks(mean.astype(np.float32)), expected, atol=1e-4)
    decoder = Decoder(real_model)  # float32
    torch_landmarks = decoder.landmarks(torch.from_numpy(mean[None]).float())[0].numpy()
    np.testing.assert_allclose(torch_landmarks, expected, atol=1e-4)
    vertices = decoder(torch.from_numpy(mean[None]).float())[0].numpy()
    np.testing.assert_allclose(vertices[real_model.landmark_indices], expected, atol=1e-4)


def test_landmarks_lie_on_the_dense_surface(real_model) -> None:
    vertices = real_model.decode(real_model.layout.mean)
    dense = vertices[: real_model.grid.size]
    landmarks = vertices[real_model.landmark_indices]
    nearest = np.linalg.norm(landmarks[:, None] - dense[None], axis=-1).min(axis=1)
    assert nearest.max() < 2.5, nearest.max()


def test_layout_of_the_default_model(real_model) -> None:
    assert real_model.n_vertices == 4096 + 68
    assert real_model.grid.shape == (64, 64)
    np.testing.assert_array_equal(real_model.landmark_indices, np.arange(4096, 4164))
    assert real_model.triangles.max() < 4096  # landmark vertices belong to no triangle
    assert "non-commercial" in real_model.metadata["license"]
    vertices = real_model.decode(real_model.layout.mean)
    assert mesh_quality(vertices[:4096], real_model.triangles).ok
    # The grid runs forehead (top, high y) to chin and the viewer's left to right.
    grid_points = vertices[real_model.grid]
    assert grid_points[0, :, 1].mean() > grid_points[-1, :, 1].mean() + 60
    assert grid_points[:, 0, 0].mean() < grid_points[:, -1, 0].mean() - 40
    # Decoded into the 120 crop: the face fills it.
    assert 0 < vertices[:, :2].min() and vertices[:, :2].max() < 121


def test_cache_is_current_and_rebuild_is_identical(real_model, shared_data, tmp_path) -> None:
    bfm = shared_data / "bfm"
    assert real_model.metadata["source_sha256"] == convert_bfm.source_hash(bfm)
    out = tmp_path / "model.npz"
    assert convert_bfm.main(["--source", str(bfm), "--out", str(out)]) == 0
    rebuilt = load_model(out)
    np.testing.assert_array_equal(rebuilt.basis, real_model.basis)
    assert convert_bfm.main(["--source", str(bfm), "--out", str(out)]) == 0  # up to date


def test_pickles_cannot_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"mu": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        convert_bfm._read_pickle(path)


def test_missing_source_is_reported(tmp_path: Path, capsys) -> None:
    assert convert_bfm.main(["--source", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 1
    assert "lacks" in capsys.readouterr().err
