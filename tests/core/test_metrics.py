from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.metrics import (
    landmark_box_size,
    nme,
    yaw_bin_index,
    yaw_bin_labels,
    yaw_bin_summary,
)


def _face(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, size=(68, 2))


def test_identical_is_zero_and_scale_invariant() -> None:
    gt = _face()
    pred = gt + np.random.default_rng(1).normal(size=gt.shape)
    assert nme(gt, gt) == 0.0
    for normalizer in ("bbox", "interocular"):
        assert nme(pred * 3.7, gt * 3.7, normalizer) == pytest.approx(nme(pred, gt, normalizer))


def test_hand_computed() -> None:
    gt = np.zeros((68, 2))
    gt[:, 0] = np.linspace(0, 40, 68)  # box 40 x 10 -> sqrt(400) = 20
    gt[:, 1] = np.linspace(0, 10, 68)
    pred = gt.copy()
    pred[:, 0] += 3.0
    pred[:, 1] += 4.0  # every point 5 px off
    assert nme(pred, gt, "bbox") == pytest.approx(100 * 5 / 20)
    interocular = np.linalg.norm(gt[36] - gt[45])
    assert nme(pred, gt, "interocular") == pytest.approx(100 * 5 / interocular)
    assert landmark_box_size(gt) == pytest.approx(20.0)


def test_batched_and_third_coordinate_ignored() -> None:
    gt = np.stack([_face(0), _face(1)])
    pred = gt + 1.0
    batched = nme(pred, gt)
    assert batched.shape == (2,)
    assert batched[1] == pytest.approx(nme(pred[1], gt[1]))
    with_z = np.concatenate([pred, np.full((2, 68, 1), 50.0)], axis=-1)
    np.testing.assert_allclose(nme(with_z, gt), batched)


def test_errors() -> None:
    with pytest.raises(ValueError, match="do not match"):
        nme(np.zeros((68, 2)), np.zeros((67, 2)))
    with pytest.raises(ValueError, match="zero-size"):
        nme(np.zeros((68, 2)), np.zeros((68, 2)))
    with pytest.raises(ValueError, match="normalizer"):
        nme(_face(), _face(), "diagonal")  # type: ignore[arg-type]


def test_yaw_bins() -> None:
    errors = np.array([1.0, 3.0, 2.0, 10.0, 6.0])
    yaws = np.array([5.0, -29.9, 30.0, -75.0, 95.0])
    summary = yaw_bin_summary(errors, yaws)
    assert summary.counts == (2, 1, 2)
    assert summary.means == (2.0, 2.0, 8.0)
    assert summary.balanced == pytest.approx(4.0)
    assert summary.mean == pytest.approx(4.4)
    assert summary.labels() == ["[0, 30)", "[30, 60)", "[60, 90+]"]
    assert summary.to_dict()["bins"]["[60, 90+]"] == {"count": 2, "nme": 8.0}


def test_yaw_bins_empty_bin_is_left_out_of_the_balanced_mean() -> None:
    summary = yaw_bin_summary(np.array([1.0, 3.0]), np.array([0.0, 70.0]))
    assert np.isnan(summary.means[1]) and summary.balanced == pytest.approx(2.0)
    assert summary.to_dict()["bins"]["[30, 60)"] == {"count": 0, "nme": None}


def test_eye_aperture() -> None:
    from morph3d.core.metrics import eye_aperture

    points = np.zeros((68, 2))
    # right eye: corners 36 (0,0) and 39 (30,0); lids 37/41 and 38/40 6 px and 12 px apart
    points[36], points[39] = [0, 0], [30, 0]
    points[37], points[41], points[38], points[40] = [10, -3], [10, 3], [20, -6], [20, 6]
    points[42], points[45] = [50, 0], [70, 0]  # left eye closed: lids on the corner line
    points[43], points[47], points[44], points[46] = [55, 0], [55, 0], [65, 0], [65, 0]
    np.testing.assert_allclose(eye_aperture(points), [9 / 30, 0.0])
    assert eye_aperture(np.stack([points] * 3)).shape == (3, 2)


def test_yaw_bin_index_and_labels() -> None:
    yaw = np.array([0.0, -29.9, 30.0, 59.99, -60.0, 95.0, np.nan])
    assert yaw_bin_index(yaw).tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert yaw_bin_labels() == ["[0, 30)", "[30, 60)", "[60, 90+]"]
