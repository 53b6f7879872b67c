from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.io.aflw21 import Aflw21Faces, Aflw21Filter, filter_aflw21, read_aflw21, read_crop


def _faces(tmp_path: Path) -> Aflw21Faces:
    """Five made-up faces: good, too few points, a point outside, a suspect yaw, blank."""
    import cv2

    rng = np.random.default_rng(0)
    points = rng.uniform(20, 100, (5, 21, 2)).astype(np.float32)
    visible = np.ones((5, 21), dtype=bool)
    visible[1, 5:] = False
    points[~visible] = np.nan
    points[2, 3] = [140.0, 50.0]  # 21 px right of the crop
    yaw = np.array([10.0, 0.0, 0.0, 120.0, 0.0])
    names = np.array([f"image{k:05d}" for k in range(5)])
    (tmp_path / "crops").mkdir()
    for k, name in enumerate(names):
        image = np.full((120, 120, 3), 128, np.uint8)
        if k != 4:
            image = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / "crops" / f"{name}.jpg"), image)
    roi = np.tile([0.0, 0.0, 240.0, 240.0], (5, 1)).astype(np.float32)
    np.savez(
        tmp_path / "aflw21.npz",
        names=names,
        points=points,
        visible=visible,
        roi_box=roi,
        yaw_degrees=yaw.astype(np.float32),
    )
    return read_aflw21(tmp_path)


@pytest.mark.unit
def test_filter_drops_each_reason(tmp_path: Path) -> None:
    faces = _faces(tmp_path)
    assert len(faces) == 5 and faces.visible[1].sum() == 5
    kept, counts = filter_aflw21(faces)
    assert list(kept.names) == ["image00000"]
    assert counts == {
        "too_few_points": 1,
        "outside": 1,
        "suspect_yaw": 1,
        "blank": 1,
        "kept": 1,
    }
    # Without images the blank crop stays; looser thresholds keep more.
    assert filter_aflw21(faces, check_images=False)[1]["kept"] == 2
    loose = Aflw21Filter(min_points=5, max_outside=30.0, max_abs_yaw=180.0, min_image_std=0.0)
    assert filter_aflw21(faces, loose)[1]["kept"] == 5
    crop = read_crop(tmp_path, "image00000")
    assert crop.shape == (120, 120, 3) and crop.dtype == np.uint8


@pytest.mark.unit
def test_missing_set_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"aflw21\.npz"):
        read_aflw21(tmp_path)


@pytest.mark.integration
def test_shared_set_reads(shared_data: Path) -> None:
    faces = read_aflw21(shared_data / "aflw21")
    assert len(faces) == 18997
    assert np.array_equal(faces.visible, np.isfinite(faces.points).all(axis=-1))
    _, counts = filter_aflw21(faces, check_images=False)
    assert counts["suspect_yaw"] > 700 and counts["kept"] > 18000
