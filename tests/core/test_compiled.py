"""The compiled kernels of the core against their numpy counterparts: the landmark decode, the
bounded brow fit (free, active-set and case-search answers) and the 1€ filter step."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core import filters
from morph3d.core.blendshapes import _bounded_brows
from morph3d.core.compiled import (
    bounded_least_squares,
    landmark_motion,
    landmark_rows,
    mouth_values,
    one_euro_points,
    pose_angles,
)
from morph3d.core.filters import FilterConfig, OneEuroFilter
from morph3d.core.metrics import landmark_box_size
from morph3d.core.model import MorphableModel
from morph3d.core.mouth import MOUTH_NAMES, mouth_coefficients
from morph3d.core.pose import decompose_pose


def test_landmark_rows_decode_as_the_model(tiny_model: MorphableModel, random_params) -> None:
    mean, basis, fields = tiny_model.landmark_arrays
    out = np.empty((68, 3))
    for params in random_params:
        landmark_rows(params, mean, basis, fields, np.zeros(0), out)
        np.testing.assert_allclose(out, tiny_model.landmarks(params), rtol=1e-12, atol=1e-9)


def test_landmark_rows_add_the_blendshapes(tiny_model: MorphableModel, random_params) -> None:
    mean, basis, _ = tiny_model.landmark_arrays
    rng = np.random.default_rng(2)
    fields = rng.normal(scale=2e3, size=(68, 3, 4))
    weights = rng.uniform(0, 1, 4)
    params = random_params[0]
    out = np.empty((68, 3))
    landmark_rows(params, mean, basis, fields, weights, out)
    pose = tiny_model.layout.pose_matrix(params)
    shape = mean + (basis @ params[12:]).reshape(68, 3) + fields @ weights
    np.testing.assert_allclose(out, shape @ pose[:, :3].T + pose[:, 3], rtol=1e-12, atol=1e-9)


def test_the_bounded_fit_is_the_full_case_search() -> None:
    rng = np.random.default_rng(5)
    factors = rng.normal(size=(300, 5, 8))
    hessian = factors @ np.swapaxes(factors, 1, 2) + 0.1 * np.eye(5)
    # a third inside the bounds, the rest pushed past them by more and more
    target = rng.normal(size=(300, 5)) * np.repeat([0.3, 4.0, 40.0], 100)[:, None]
    full = _bounded_brows(hessian, target)
    fast = np.array([bounded_least_squares(h, t) for h, t in zip(hessian, target, strict=True)])
    np.testing.assert_allclose(fast, full, atol=1e-9)
    inside = ((full > 0) & (full < 1)).all(axis=1)
    assert inside.any() and (full == 0).any() and (full == 1).any() and not inside.all()


@pytest.mark.parametrize("scale", [1.0, 37.5])
def test_the_filter_step_is_the_numpy_step(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    config = FilterConfig(min_cutoff=0.2, beta=15.0, d_cutoff=2.0)
    rng = np.random.default_rng(0)
    path = np.cumsum(rng.normal(scale=3.0, size=(40, 50, 3)), axis=0)
    times = np.cumsum(rng.uniform(0.02, 0.05, 40))
    compiled = OneEuroFilter(config, joint_axis=True)
    monkeypatch.setattr(filters, "_KERNEL", [None])  # the numpy step
    reference = OneEuroFilter(config, joint_axis=True)
    numpy_out = [reference(x, t, scale) for x, t in zip(path, times, strict=True)]
    monkeypatch.setattr(filters, "_KERNEL", [one_euro_points])
    for x, t, expected in zip(path, times, numpy_out, strict=True):
        np.testing.assert_allclose(compiled(x, t, scale), expected, rtol=1e-12, atol=1e-9)
    assert not np.allclose(numpy_out[-1], path[-1])  # it did smooth


def test_pose_angles_are_those_of_the_polar_decomposition(tiny_model: MorphableModel) -> None:
    rng = np.random.default_rng(4)
    poses = tiny_model.layout.denormalize(rng.normal(size=(200, 62)))[:, :12]
    poses[:50, 4:7] += 0.3 * poses[:50, 0:3]  # blocks far from a scaled rotation
    for pose in poses:
        np.testing.assert_allclose(pose_angles(pose), decompose_pose(pose).angles, atol=1e-9)
    assert np.isnan(pose_angles(np.zeros(12))).all()


def test_mouth_values_are_the_mouth_coefficients(real_model: MorphableModel) -> None:
    mean, basis, _ = real_model.landmark_arrays
    rng = np.random.default_rng(6)
    for params in real_model.layout.denormalize(rng.normal(scale=1.5, size=(40, 62))):
        expected = mouth_coefficients(real_model, params)
        values = mouth_values(params, mean, basis, 40)
        np.testing.assert_allclose(values, [expected[name] for name in MOUTH_NAMES], atol=1e-12)


def test_landmark_motion_is_the_trackers_check() -> None:
    rng = np.random.default_rng(7)
    previous = rng.uniform(100, 300, (68, 3))
    for shift, grow in ((0.0, 1.0), (20.0, 1.3), (-250.0, 0.5)):
        moved = previous.copy()
        moved[:, :2] = (previous[:, :2] - 200) * grow + 200 + shift
        inside, jump, zoom = landmark_motion(moved, previous, 320.0, 240.0)
        x, y = moved[:, 0], moved[:, 1]
        assert inside == pytest.approx(np.mean((x >= 0) & (x < 320) & (y >= 0) & (y < 240)))
        size, new_size = landmark_box_size(previous), landmark_box_size(moved)
        distance = np.linalg.norm(moved[:, :2] - previous[:, :2], axis=1).mean()
        assert jump == pytest.approx(distance / size)
        assert zoom == pytest.approx(max(new_size / size, size / new_size))
    assert landmark_motion(previous, np.zeros((68, 3)), 320.0, 240.0)[1] == np.inf


def test_a_zero_scale_leaves_the_filter_to_numpy() -> None:
    smoother = OneEuroFilter(FilterConfig(), joint_axis=True)
    smoother(np.ones((3, 3)), 0.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # numpy's infinite speed, no exception
        assert smoother(np.zeros((3, 3)), 0.1, 0.0).shape == (3, 3)
