"""Mouth coefficients: known geometry, the real model's expression, left and right."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.model import MorphableModel
from morph3d.core.mouth import MOUTH_NAMES, mouth_coefficients, mouth_readout


def _mouth() -> np.ndarray:
    """A 68-point set whose mouth is 1 unit wide (48 at x -0.5, 54 at +0.5), lips closed."""
    points = np.zeros((68, 3))
    points[48], points[54] = [-0.5, 0.0, 0.0], [0.5, 0.0, 0.0]
    points[51] = [0.0, 0.05, 0.0]
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        points[upper, 1], points[lower, 1] = 0.0, 0.0
    return points


def test_known_mouths_read_as_they_should() -> None:
    rest = _mouth()
    assert mouth_readout(rest, rest) == dict.fromkeys(MOUTH_NAMES, 0.0)
    opened = rest.copy()
    opened[[65, 66, 67], 1] = -0.1  # lower inner lip 0.1 widths down: half of jawOpen's 0.2
    assert mouth_readout(opened, rest)["jawOpen"] == pytest.approx(0.5)
    smile = rest.copy()
    smile[54, 1] += 0.09  # the subject's left corner (x > 0) rises by half of 0.18
    values = mouth_readout(smile, rest)
    assert values["mouthSmileLeft"] == pytest.approx(0.5) and values["mouthSmileRight"] == 0.0
    narrow = rest.copy()
    narrow[[48, 54], 0] *= 0.9  # 10 % narrower: half a pucker
    assert mouth_readout(narrow, rest)["mouthPucker"] == pytest.approx(0.5, abs=1e-9)
    wide = rest.copy()
    wide[48, 1] += 1.0  # far beyond the scale: clipped to 1
    assert mouth_readout(wide, rest)["mouthSmileRight"] == 1.0
    with pytest.raises(ValueError, match="width"):
        mouth_readout(rest, np.zeros((68, 3)))


def test_mirrored_corners_swap_left_and_right() -> None:
    rest = _mouth()
    smile = rest.copy()
    smile[54] += [0.03, 0.06, 0.0]
    mirrored = smile * [-1.0, 1.0, 1.0]
    mirrored[[48, 54]] = mirrored[[54, 48]]  # the mirror image of the left corner is the right
    a, b = mouth_readout(smile, rest), mouth_readout(mirrored, rest)
    assert a["mouthSmileLeft"] == pytest.approx(b["mouthSmileRight"]) and a["mouthSmileLeft"] > 0
    assert a["mouthSmileRight"] == pytest.approx(b["mouthSmileLeft"])


def test_the_real_models_expression_drives_them(real_model: MorphableModel) -> None:
    layout = real_model.layout
    params = layout.mean.copy()
    params[layout.expression] = 0.0
    assert mouth_coefficients(real_model, params) == dict.fromkeys(MOUTH_NAMES, 0.0)
    # whatever the pose, the same expression reads the same
    turned = params.copy()
    turned[layout.pose] = (2.0 * np.eye(3, 4)).reshape(-1)
    expression = layout.std[layout.expression] * np.random.default_rng(0).normal(size=10)
    params[layout.expression] = turned[layout.expression] = expression
    assert mouth_coefficients(real_model, params) == mouth_coefficients(real_model, turned)
    # some expression direction opens the mouth: the readout follows its amount
    openings = []
    for k in range(layout.n_expression):
        for sign in (-1.0, 1.0):
            probe = layout.mean.copy()
            probe[layout.expression] = 0.0
            probe[layout.expression.start + k] = sign * 2 * layout.std[layout.expression][k]
            openings.append((mouth_coefficients(real_model, probe)["jawOpen"], k, sign))
    best, k, sign = max(openings)
    assert best > 0.3
    half = layout.mean.copy()
    half[layout.expression] = 0.0
    half[layout.expression.start + k] = sign * layout.std[layout.expression][k]
    assert 0 < mouth_coefficients(real_model, half)["jawOpen"] < best
