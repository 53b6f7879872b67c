from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest

from morph3d.core.crop import crop_box_from_landmarks, crop_to_image
from morph3d.io.datasets import find_faces
from morph3d.training.targets import STORED_SIZE, build_targets, read_targets, write_targets


@pytest.fixture(scope="module")
def some_faces(shared_data: Path):
    faces, _ = find_faces("300w", shared_data / "300w" / "afw")
    return faces[:6]


def test_build_write_read_round_trip(real_model, some_faces, tmp_path: Path) -> None:
    broken = dataclasses.replace(some_faces[0], name="broken", image_path=tmp_path / "none.jpg")
    targets, failures = build_targets([*some_faces, broken], real_model)
    assert len(targets) == 6 and [f.name for f in failures] == ["broken"]
    assert "no image file" in failures[0].reason
    assert targets.image.shape == (6, STORED_SIZE, STORED_SIZE, 3)
    assert np.all(targets.fit_nme < 5.0)
    # The annotation maps back to the original image's landmarks through the crop box.
    back = crop_to_image(targets.annotation.astype(np.float64), targets.crop_box)
    np.testing.assert_allclose(back, np.stack([f.landmarks for f in some_faces]), atol=1e-3)
    np.testing.assert_allclose(
        targets.crop_box, crop_box_from_landmarks(np.stack([f.landmarks for f in some_faces]))
    )
    path = write_targets(tmp_path / "t.h5", targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]
    loaded = read_targets(path)
    assert loaded.name == targets.name and loaded.attrs["channel_order"] == "RGB"
    np.testing.assert_array_equal(loaded.image, targets.image)
    np.testing.assert_allclose(loaded.params, targets.params)
    np.testing.assert_allclose(
        real_model.landmarks(loaded.params), loaded.model_landmarks, atol=1e-3
    )


def test_stored_image_is_centred_on_the_crop(real_model, some_faces) -> None:
    targets, _ = build_targets(some_faces[:1], real_model)
    wide, crop = targets.image_box[0], targets.crop_box[0]
    np.testing.assert_allclose((wide[:2] + wide[2:]) / 2, (crop[:2] + crop[2:]) / 2)
    np.testing.assert_allclose(wide[2] - wide[0], 2 * (crop[2] - crop[0]))


def test_read_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fit_3dmm"):
        read_targets(tmp_path / "none.h5")
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a targets file"):
        read_targets(tmp_path / "other.h5")


@pytest.mark.unit
def test_files_without_sparse_fields_read_as_dense(real_model, some_faces, tmp_path: Path) -> None:
    from morph3d.training.targets import concatenate_targets

    targets, _ = build_targets(some_faces[:2], real_model)
    assert not targets.sparse.any() and np.all(np.isnan(targets.sparse_points))
    path = write_targets(tmp_path / "t.h5", targets)
    with h5py.File(path, "a") as handle:  # an older file: no sparse datasets
        del handle["sparse"], handle["sparse_points"]
    old = read_targets(path)
    assert old.sparse.shape == (2,) and not old.sparse.any()
    assert old.sparse_points.shape == (2, 21, 2) and np.all(np.isnan(old.sparse_points))
    both = concatenate_targets([old, targets])
    assert len(both) == 4 and both.image.shape[0] == 4 and not both.sparse.any()


@pytest.mark.unit
def test_concatenating_with_consume_keeps_every_image_and_frees_the_parts(tiny_model) -> None:
    from morph3d.training.targets import concatenate_targets

    from ..conftest import make_tiny_targets

    first, second = make_tiny_targets(tiny_model, 3, seed=1), make_tiny_targets(tiny_model, 5)
    expected = np.concatenate([first.image, second.image])
    both = concatenate_targets([first, second], consume=True)
    np.testing.assert_array_equal(both.image, expected)
    np.testing.assert_array_equal(both.params[3:], second.params)
    assert first.image.shape[0] == 0 and second.image.shape[0] == 0
    assert first.image.base is None  # not a view holding the old buffer
