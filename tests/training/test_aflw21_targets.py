from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.core.crop import crop_to_image
from morph3d.core.landmarks21 import FITTED_21, sparse_nme, to_aflw21
from morph3d.core.metrics import landmark_box_size
from morph3d.io.aflw21 import filter_aflw21, read_aflw21
from morph3d.training.aflw21_targets import build_aflw21_targets, summarize_aflw21
from morph3d.training.augment import centre_crop
from morph3d.training.targets import STORED_SIZE, read_targets, write_targets


@pytest.fixture(scope="module")
def built(shared_data: Path, real_model):
    faces = read_aflw21(shared_data / "aflw21")
    kept, _ = filter_aflw21(faces, check_images=False)
    # Near-frontal and profile faces, both sides.
    yaw = kept.yaw_degrees
    index = np.concatenate(
        [
            np.flatnonzero(np.abs(yaw) < 10)[:8],
            np.flatnonzero(yaw > 70)[:8],
            np.flatnonzero(yaw < -70)[:8],
        ]
    )
    return kept.subset(index), *build_aflw21_targets(kept.subset(index), real_model)


@pytest.mark.integration
def test_sparse_targets_fit_and_round_trip(built, real_model, tmp_path: Path) -> None:
    faces, targets, build = built
    assert targets.sparse.all() and targets.image.shape == (24, STORED_SIZE, STORED_SIZE, 3)
    assert np.median(targets.fit_nme) < 4.0
    # The model yaw is the negated AFLW yaw: the profiles' signs agree.
    profiles = np.abs(faces.yaw_degrees) > 70
    agree = np.sign(-targets.fit_yaw[profiles]) == np.sign(faces.yaw_degrees[profiles])
    assert agree.mean() > 0.8
    # fit_nme is the error of the fitted points on the stored sparse points.
    visible = np.isfinite(targets.sparse_points).all(axis=-1) & FITTED_21
    again = sparse_nme(
        to_aflw21(real_model.landmarks(targets.params)),
        targets.sparse_points,
        visible,
        landmark_box_size(targets.fit_landmarks),
    )
    np.testing.assert_allclose(again, targets.fit_nme, rtol=1e-3, atol=1e-3)
    # The stored image's middle is the AFLW crop, resampled: a visible point's pixel matches.
    box = np.array([0.0, 0.0, 120.0, 120.0])
    pixel = crop_to_image(targets.sparse_points.astype(np.float64), box)
    assert np.all(np.abs(pixel[visible]) < 200)
    crop = centre_crop(targets.image[0])
    assert crop.shape == (120, 120, 3) and crop.std() > 10
    assert 0.1 < np.median(build.real_stored) < 0.5 and np.median(build.real_crop) > 0.6
    summary = summarize_aflw21(targets, build)
    assert summary["count"] == 24 and set(summary["by_yaw"]) == {"0-30", "30-60", "60-90"}
    loaded = read_targets(write_targets(tmp_path / "sparse.h5", targets))
    np.testing.assert_array_equal(loaded.sparse, targets.sparse)
    np.testing.assert_array_equal(loaded.sparse_points, targets.sparse_points)
