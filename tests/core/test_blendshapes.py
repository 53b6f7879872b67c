"""Eyelid and brow blendshapes of the real model: closed lids, round trips, mirror symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.blendshapes import (
    BLENDSHAPE_NAMES,
    _bounded_brows,
    _bounded_case,
    _solve_brows,
    eye_blendshapes,
    eye_rows,
)
from morph3d.core.landmarks68 import BROWS
from morph3d.core.model import MorphableModel


def _apertures(
    model: MorphableModel, values: dict[str, float], mean_coefficients: bool = True
) -> dict[str, float]:
    params = model.layout.mean.copy()
    if not mean_coefficients:
        params[12:] = 0.0  # the mean shape itself, on which the fields are defined
    points = model.landmarks(params, model.blendshape_vector(values))
    return {
        side: float(np.mean([points[up, 1] - points[low, 1] for up, low in eye_rows(side)]))
        for side in ("Left", "Right")
    }


def test_the_model_carries_every_blendshape(real_model: MorphableModel) -> None:
    assert real_model.blendshape_names == BLENDSHAPE_NAMES
    assert real_model.blendshapes.shape == (real_model.n_vertices, 3, len(BLENDSHAPE_NAMES))


def test_a_closed_eye_decodes_to_closed_lids(real_model: MorphableModel) -> None:
    open_ = _apertures(real_model, {})
    assert min(open_.values()) > 0
    closed = _apertures(real_model, {"eyeBlinkLeft": 1.0})
    # the lids meet: on the mean shape to 3 % of the aperture, on the average fitted face
    # (whose shape and expression move the lids a little) to 8 %
    assert closed["Left"] < 0.08 * open_["Left"]
    on_mean = _apertures(real_model, {}, mean_coefficients=False)
    closed_mean = _apertures(real_model, {"eyeBlinkLeft": 1.0}, mean_coefficients=False)
    assert closed_mean["Left"] < 0.03 * on_mean["Left"]
    assert closed["Right"] == pytest.approx(open_["Right"])  # the other eye stays open
    half = _apertures(real_model, {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5})
    assert half["Left"] == pytest.approx(0.5 * (open_["Left"] + closed["Left"]), rel=1e-3)
    wide = _apertures(real_model, {"eyeWideRight": 1.0})
    assert wide["Right"] == pytest.approx(2.0 * open_["Right"], rel=0.05)


def test_coefficients_survive_a_round_trip(real_model: MorphableModel) -> None:
    rng = np.random.default_rng(0)
    layout = real_model.layout
    for values in (
        {"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.3},
        {"eyeBlinkLeft": 0.0, "eyeWideRight": 0.6},
    ):
        params = layout.mean + rng.normal(size=layout.size) * layout.std * 0.5
        lids = real_model.landmarks(params, real_model.blendshape_vector(values))[:, :2]
        found = eye_blendshapes(real_model, params, lids)
        for name in ("eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight"):
            assert found[name] == pytest.approx(values.get(name, 0.0), abs=0.02), name


def test_left_and_right_mirror_each_other(real_model: MorphableModel) -> None:
    grid = real_model.grid
    mirrored = grid[:, ::-1].reshape(-1)
    fields = dict(zip(BLENDSHAPE_NAMES, np.moveaxis(real_model.blendshapes, 2, 0), strict=True))
    for left, right in (
        ("eyeBlinkLeft", "eyeBlinkRight"),
        ("browDownLeft", "browDownRight"),
        ("browOuterUpLeft", "browOuterUpRight"),
        ("browInnerUp", "browInnerUp"),
    ):
        a = fields[left][grid.reshape(-1), 1]
        b = fields[right][mirrored, 1]
        assert np.abs(a).max() > 0
        # the mean face is symmetric to within a few per cent of the motion
        assert np.abs(a - b).max() < 0.25 * np.abs(a).max(), left
        assert np.corrcoef(a, b)[0, 1] > 0.95, left
    # the subject's left eye is on the viewer's right: positive model x
    moved = np.abs(fields["eyeBlinkLeft"][:, 1]) > 0
    assert np.all(real_model.mean[moved, 0] > 0)


def test_without_eye_blendshapes_the_solver_says_so(tiny_model: MorphableModel) -> None:
    with pytest.raises(ValueError, match="convert it again"):
        eye_blendshapes(tiny_model, tiny_model.layout.mean, np.zeros((68, 2)))


def test_brow_coefficients_survive_a_round_trip(real_model: MorphableModel) -> None:
    from morph3d.core.blendshapes import BROW_NAMES, brow_blendshapes

    rng = np.random.default_rng(1)
    layout = real_model.layout
    for values in (
        {"browInnerUp": 0.7, "browOuterUpLeft": 0.4},
        {"browDownLeft": 0.9, "browDownRight": 0.2},
        {},
    ):
        params = layout.mean + rng.normal(size=layout.size) * layout.std * 0.5
        brows = real_model.landmarks(params, real_model.blendshape_vector(values))[:, :2]
        found = brow_blendshapes(real_model, params, brows)
        assert set(found) == set(BROW_NAMES)
        for name in BROW_NAMES:
            assert found[name] == pytest.approx(values.get(name, 0.0), abs=0.03), name


def test_brow_coefficients_stay_in_their_range(real_model: MorphableModel) -> None:
    from morph3d.core.blendshapes import brow_blendshapes

    params = real_model.layout.mean.copy()
    neutral = real_model.landmarks(params)[:, :2]
    raised = neutral.copy()
    raised[17:27, 1] -= 50.0  # 50 units one way, beyond any blendshape's reach
    lowered = neutral.copy()
    lowered[17:27, 1] += 50.0
    for target in (raised, lowered):
        found = brow_blendshapes(real_model, params, target)
        assert all(0.0 <= value <= 1.0 for value in found.values())
        assert max(found.values()) == 1.0
    up = brow_blendshapes(real_model, params, raised)
    down = brow_blendshapes(real_model, params, lowered)
    # one direction raises (inner and outer up), the other lowers: the two never agree
    assert (up["browInnerUp"] > 0.5) != (down["browInnerUp"] > 0.5)
    assert (up["browDownLeft"] > 0.5) != (down["browDownLeft"] > 0.5)


def test_the_brow_solve_equals_the_full_case_search() -> None:
    rng = np.random.default_rng(3)
    faces = 300
    motion = np.zeros((faces, 5, 68, 2))
    motion[:, :, list(BROWS)] = rng.normal(size=(faces, 5, len(BROWS), 2))
    neutral = rng.normal(size=(faces, 68, 2))
    # Half the targets reachable inside the bounds, half pushed past them.
    truth = rng.uniform(0, 1, (faces, 5)) * np.where(np.arange(faces) % 2, 1.0, 3.0)[:, None]
    brows = neutral + np.einsum(
        "fk,fknj->fnj", truth - 0.5 * (np.arange(faces) % 2 == 0)[:, None], motion
    )
    fast = _solve_brows(brows, neutral, motion)
    rows = list(BROWS)
    moves = motion[:, :, rows].reshape(faces, 5, -1)
    residual = (brows - neutral)[:, rows].reshape(faces, -1)
    gram = moves @ np.swapaxes(moves, 1, 2)
    ridge = 1e-3 * np.trace(gram, axis1=1, axis2=2) / 5
    full = _bounded_brows(
        gram + ridge[:, None, None] * np.eye(5), np.einsum("fkp,fp->fk", moves, residual)
    )
    np.testing.assert_allclose(fast, full, atol=1e-9)
    assert (fast == 0).any() and (fast == 1).any() and ((fast > 0) & (fast < 1)).all(axis=1).any()


def test_the_active_set_steps_reach_the_bounded_minimum() -> None:
    rng = np.random.default_rng(5)
    faces = 400
    factors = rng.normal(size=(faces, 5, 8))
    hessian = factors @ np.swapaxes(factors, 1, 2) + 0.1 * np.eye(5)
    target = rng.normal(scale=4.0, size=(faces, 5))
    full = _bounded_brows(hessian, target)
    free = np.linalg.solve(hessian, target[..., None])[..., 0]
    case = np.where(free < 0, 0.0, np.where(free > 1, 1.0, 2.0))
    done = np.zeros(faces, dtype=bool)
    for step in range(6):
        found, optimal, case = _bounded_case(hessian, target, case)
        # the check passes only at the bounded minimum
        np.testing.assert_allclose(found[optimal], full[optimal], atol=1e-9)
        if step == 0:
            assert optimal.mean() < 0.5  # the free minimum's clipped case is often wrong
        done |= optimal
    assert done.mean() > 0.95
    # the true case of the full search passes at once
    truth = np.where(full <= 1e-12, 0.0, np.where(full >= 1 - 1e-12, 1.0, 2.0))
    found, optimal, _ = _bounded_case(hessian, target, truth)
    assert optimal.all()
    np.testing.assert_allclose(found, full, atol=1e-9)
