from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.errors import AnnotationError
from morph3d.io.annotations import read_dlib_xml, read_mat, read_pts

HEADER = "version: 1\nn_points:  3\n{\n"


def _write(tmp_path: Path, text: str, name: str = "face.pts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pts_with_and_without_header(tmp_path: Path) -> None:
    body = "1.5 2\n3 4.25\n-1 0\n"
    with_header = read_pts(_write(tmp_path, HEADER + body + "}\n"), n_points=3)
    without = read_pts(_write(tmp_path, body, "plain.pts"), n_points=3)
    np.testing.assert_array_equal(with_header, [[1.5, 2], [3, 4.25], [-1, 0]])
    np.testing.assert_array_equal(without, with_header)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "1 2\n3 4\n}\n", "header says 3 points, file has 2"),
        (HEADER + "1 2\n3 x\n5 6\n}\n", "line 5"),
        (HEADER + "1 2\n3 nan\n5 6\n}\n", "non-finite"),
        ("1 2 3\n", "expected 'x y'"),
        ("", "no points"),
        ("1 2\n3 4\n", "expected 68 points, got 2"),
    ],
)
def test_malformed_pts(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(AnnotationError, match=message) as raised:
        read_pts(path, n_points=68 if "68" in message else 3)
    assert str(path) in str(raised.value)


def test_missing_files(tmp_path: Path) -> None:
    for reader in (read_pts, read_mat, read_dlib_xml):
        with pytest.raises(AnnotationError, match="not found"):
            reader(tmp_path / "nothing")


def test_real_300w_pts(shared_data: Path) -> None:
    files = sorted((shared_data / "300w" / "afw").glob("*.pts"))[:20]
    assert files
    for path in files:
        points = read_pts(path)
        assert points.shape == (68, 2) and np.all(points > 0)


def test_real_aflw2000_and_300w_lp_mat(shared_data: Path) -> None:
    aflw = read_mat(shared_data / "aflw2000_3d_samples" / "image00050.mat")
    assert aflw.landmarks.shape == (68, 2) and aflw.landmarks_3d is not None
    np.testing.assert_array_equal(aflw.landmarks, aflw.landmarks_3d[:, :2])
    assert aflw.yaw_degrees == pytest.approx(np.degrees(1.6389934e-02), rel=1e-5)
    lp = read_mat(shared_data / "300w_lp_sample" / "IBUG_image_008_1_0.mat")
    assert lp.landmarks.shape == (68, 2) and lp.landmarks_3d is None and lp.roi is not None


def test_bad_mat(tmp_path: Path) -> None:
    import scipy.io

    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, {"pt2d": np.zeros((2, 21)), "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(AnnotationError, match="no 68-point landmarks"):
        read_mat(path)
    scipy.io.savemat(path, {"pt3d_68": np.full((3, 68), np.nan), "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(AnnotationError, match="NaN"):
        read_mat(path)
    garbage = _write(tmp_path, "not a mat file", "garbage.mat")
    with pytest.raises(AnnotationError, match="readable"):
        read_mat(garbage)


def test_real_dlib_xml(shared_data: Path) -> None:
    images = read_dlib_xml(shared_data / "dlib_faces" / "testing_with_face_landmarks.xml")
    faces = [face for image in images for face in image.faces]
    assert len(faces) == 25
    assert all(image.path.is_file() for image in images)
    marked = [face for face in faces if face.landmarks is not None]
    assert marked and all(face.landmarks.shape == (68, 2) for face in marked)
    for face in marked:  # landmarks sit roughly inside their box
        x0, _, x1, _ = face.box
        margin = 0.5 * (x1 - x0)
        assert np.all(face.landmarks[:, 0] > x0 - margin)
        assert np.all(face.landmarks[:, 0] < x1 + margin)


def test_malformed_dlib_xml(tmp_path: Path) -> None:
    broken = _write(tmp_path, "<dataset><images><image file='a.jpg'>", "broken.xml")
    with pytest.raises(AnnotationError, match="not valid XML"):
        read_dlib_xml(broken)
    few_parts = _write(
        tmp_path,
        "<dataset><images><image file='a.jpg'><box top='1' left='2' width='3' height='4'>"
        "<part name='00' x='1' y='2'/></box></image></images></dataset>",
        "few.xml",
    )
    with pytest.raises(AnnotationError, match=r"expected 0\.\.67"):
        read_dlib_xml(few_parts)
    no_width = _write(
        tmp_path,
        "<dataset><images><image file='a.jpg'><box top='1' left='2' height='4'/></image>"
        "</images></dataset>",
        "nowidth.xml",
    )
    with pytest.raises(AnnotationError, match="width"):
        read_dlib_xml(no_width)


@pytest.mark.unit
def test_a_point_beyond_any_image_is_refused(tmp_path: Path) -> None:
    from morph3d.errors import AnnotationError
    from morph3d.io.annotations import read_pts

    path = tmp_path / "far.pts"
    lines = ["version: 1", "n_points: 2", "{", "10 20", "1e30 5", "}"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match="beyond any image"):
        read_pts(path, n_points=2)
