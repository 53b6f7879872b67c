"""The per-region filter study: known signals through the offline filter."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.filters import FilterConfig
from morph3d.evaluation.regions import QUICK_POINTS, filter_regions, region_filter_figures

pytestmark = pytest.mark.unit

FPS = 30.0
STEADY = FilterConfig(0.2, 15.0, 2.0)


def _face(frames: int = 120, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """A still 68-point face (landmarks in a 100 px box) that blinks at frame 60, with noise."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 100, (68, 2))
    # Eye corners apart, lids 10 px apart: an open eye.
    for corners, lids in (((36, 39), ((37, 41), (38, 40))), ((42, 45), ((43, 47), (44, 46)))):
        base[corners[0]], base[corners[1]] = [20 + corners[0], 40], [50 + corners[0], 40]
        for upper, lower in lids:
            base[upper], base[lower] = [30 + upper, 35], [30 + upper, 45]
    tracks = np.repeat(base[None], frames, axis=0)
    closing = np.exp(-0.5 * ((np.arange(frames) - 60) / 2.0) ** 2)  # a 4-frame blink
    for upper in (37, 38, 43, 44):
        tracks[:, upper, 1] += 9 * closing
    return tracks + rng.normal(0, noise, tracks.shape)


def test_the_same_filter_everywhere_filters_every_point_alike() -> None:
    raw = _face()
    same = filter_regions(raw, FPS, STEADY, STEADY)
    fast = filter_regions(raw, FPS, STEADY, FilterConfig(5.0, 30.0, 4.0))
    rest = np.setdiff1d(np.arange(68), QUICK_POINTS)
    np.testing.assert_array_equal(same[:, rest], fast[:, rest])  # the rest is untouched
    assert not np.allclose(same[:, list(QUICK_POINTS)], fast[:, list(QUICK_POINTS)])
    np.testing.assert_array_equal(same[0], raw[0])  # a 1€ filter starts at its first sample


def test_a_faster_eye_filter_keeps_more_of_a_blink_and_shakes_more() -> None:
    raw = _face()
    steady = region_filter_figures(raw, FPS, STEADY, STEADY)
    quick = region_filter_figures(raw, FPS, STEADY, FilterConfig(2.0, 40.0, 4.0))
    assert 0 < steady["blink_depth"] < quick["blink_depth"] <= 1.05
    assert quick["blink_lag"] <= steady["blink_lag"]
    assert quick["jitter_eyes"] > steady["jitter_eyes"]
    assert quick["jitter_rest"] == steady["jitter_rest"]
    # No noise and no blink: nothing to lose.
    still = region_filter_figures(np.repeat(_face(noise=0.0)[:1], 120, axis=0), FPS, STEADY, STEADY)
    assert still["jitter_all"] == pytest.approx(0.0, abs=1e-9)
