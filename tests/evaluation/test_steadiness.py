from __future__ import annotations

import numpy as np
import pytest


def test_jitter_of_known_motion() -> None:
    from morph3d.evaluation.steadiness import acceleration_jitter, jitter

    face = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])  # size 100
    steps = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [6.0, 8.0]])  # moves 5, 0, 5 px
    tracks = face[None] + steps[:, None]
    assert jitter(tracks) == pytest.approx(100 * np.sqrt((25 + 0 + 25) / 3) / 100)
    # second differences: (0,0)-2(3,4)+(3,4) = (-3,-4) -> 5; (3,4)-2(3,4)+(6,8) = (3,4) -> 5
    assert acceleration_jitter(tracks) == pytest.approx(5.0)
    uniform = face[None] + np.arange(10)[:, None, None] * np.array([2.0, 1.0])
    assert acceleration_jitter(uniform) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="tracks"):
        jitter(face)


def test_track_lag_finds_a_known_delay() -> None:
    from morph3d.evaluation.steadiness import track_lag

    t = np.arange(120)
    truth = np.stack([np.sin(t / 7), np.cos(t / 11)], axis=1)
    delayed = np.stack([np.sin((t - 2.5) / 7), np.cos((t - 2.5) / 11)], axis=1)
    assert track_lag(delayed, truth) == pytest.approx(2.5, abs=0.051)
    assert track_lag(truth, truth) == 0.0
