from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from morph3d.io.annotations import read_pts
from morph3d.io.datasets import find_faces


def test_300w_faces_are_zero_based(shared_data: Path) -> None:
    faces, failures = find_faces("300w", shared_data / "300w" / "afw")
    assert len(faces) == 337 and failures == []
    first = faces[0]
    np.testing.assert_array_equal(
        first.landmarks, read_pts(first.image_path.with_suffix(".pts")) - 1
    )
    assert first.silhouette_jaw and np.isnan(first.yaw)


def test_mat_faces(shared_data: Path) -> None:
    aflw, _ = find_faces("mat", shared_data / "aflw2000_3d_samples")
    lp, _ = find_faces("mat", shared_data / "300w_lp_sample")
    assert [f.name for f in aflw] == ["image00050", "image02420", "image03614"]
    assert not any(f.silhouette_jaw for f in aflw)  # pt3d_68 are fixed model points
    assert aflw[1].yaw == pytest.approx(70.9, abs=0.1)
    assert len(lp) == 1 and lp[0].silhouette_jaw  # pt2d follows the outline


def test_dlib_faces(shared_data: Path) -> None:
    faces, failures = find_faces("dlib", shared_data / "dlib_faces")
    xml = find_faces("dlib", shared_data / "dlib_faces" / "testing_with_face_landmarks.xml")[0]
    assert failures == [] and len(xml) < len(faces)
    assert all("#" in face.name for face in faces)


def test_failures_are_recorded(tmp_path: Path, shared_data: Path) -> None:
    source = sorted((shared_data / "300w" / "afw").glob("*.pts"))[:2]
    for pts in source:
        shutil.copy(pts, tmp_path / pts.name)
    shutil.copy(source[0].with_suffix(".jpg"), tmp_path / source[0].with_suffix(".jpg").name)
    (tmp_path / "broken.pts").write_text("version: 1\nn_points: 68\n{\n1 2\n}\n")
    (tmp_path / "broken.jpg").write_bytes(b"")
    faces, failures = find_faces("300w", tmp_path)
    assert len(faces) == 1
    reasons = {failure.name: failure.reason for failure in failures}
    assert "no image" in reasons[source[1].stem]
    assert "header says 68" in reasons["broken"]
    with pytest.raises(FileNotFoundError):
        find_faces("300w", tmp_path / "nowhere")
