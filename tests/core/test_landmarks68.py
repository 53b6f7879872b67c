"""The 68-point index groups."""

from __future__ import annotations

import numpy as np

from morph3d.core import landmarks68 as lm


def test_groups_split_the_68_points() -> None:
    groups = [lm.JAW, lm.BROWS, lm.NOSE, lm.EYES, lm.MOUTH]
    assert sorted(i for group in groups for i in group) == list(range(68))
    assert lm.CHIN in lm.JAW and lm.NOSE_TIP in lm.NOSE


def test_eye_groups_agree() -> None:
    assert sorted(i for eye in lm.EYE_ORDER for i in eye) == list(lm.EYES)
    corners = {eye[0] for eye in lm.EYE_ORDER} | {eye[3] for eye in lm.EYE_ORDER}
    assert set(lm.EYELIDS) == set(lm.EYES) - corners
    for (a, b), lids in lm.EYE_APERTURE:
        assert {a, b} <= corners and {i for pair in lids for i in pair} <= set(lm.EYELIDS)
    assert set(lm.RIGID) >= set(lm.NOSE)


def test_mirror_is_an_involution_that_swaps_sides() -> None:
    np.testing.assert_array_equal(lm.MIRROR[lm.MIRROR], np.arange(68))
    assert lm.MIRROR[lm.EYE_ORDER[0][0]] == lm.EYE_ORDER[1][0]
    assert not lm.MIRROR.flags.writeable
