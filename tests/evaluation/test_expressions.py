from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.core.blendshapes import BLENDSHAPE_NAMES
from morph3d.core.mouth import MOUTH_NAMES
from morph3d.evaluation.expressions import (
    annotated_expression,
    blendshape_agreement,
    coefficient_expression,
)


def test_annotated_geometry_of_a_drawn_face() -> None:
    points = np.zeros((68, 2))
    points[36], points[39], points[42], points[45] = [0, 0], [10, 0], [30, 0], [40, 0]
    points[[37, 38]], points[[41, 40]] = [[3, -2], [7, -2]], [[3, 2], [7, 2]]  # aperture 0.4
    points[[43, 44]], points[[47, 46]] = [[33, -2], [37, -2]], [[33, 2], [37, 2]]
    points[17:27, 1] = -10.0  # brows 10 above the eyes, over a corner distance of 40
    points[48], points[54], points[51] = [10, 30], [30, 30], [20, 28]  # corners 2 below 51
    points[[61, 62, 63]], points[[67, 66, 65]] = [[15, 30], [20, 30], [25, 30]], [
        [15, 34], [20, 34], [25, 34]]  # fmt: skip
    closure, brows, gap, corners = annotated_expression(points)
    assert closure == pytest.approx(-0.4)
    assert brows == pytest.approx(0.25)
    assert gap == pytest.approx(4 / 20)
    assert corners == pytest.approx(-2 / 20)


def test_coefficients_sum_up() -> None:
    values = dict.fromkeys(BLENDSHAPE_NAMES + MOUTH_NAMES, 0.0)
    values.update(eyeBlinkLeft=1.0, browInnerUp=0.5, browDownLeft=0.4, jawOpen=0.3,
                  mouthSmileRight=0.6)  # fmt: skip
    np.testing.assert_allclose(coefficient_expression(values), [0.5, 0.3, 0.3, 0.3])


@pytest.mark.integration
def test_agreement_on_real_faces(shared_data: Path) -> None:
    from morph3d.io.datasets import find_faces
    from morph3d.pipeline.reconstructor import Reconstructor

    faces, _ = find_faces("300w", shared_data / "300w")
    report = blendshape_agreement(Reconstructor(), faces[:6])
    assert report["faces"] == 6.0
    assert all(np.isfinite(value) and -1 <= value <= 1 for value in report.values() if value != 6)
    with pytest.raises(ValueError, match="blendshapes=True"):
        blendshape_agreement(Reconstructor(blendshapes=False), faces[:3])
    with pytest.raises(ValueError, match="at least 3"):
        blendshape_agreement(Reconstructor(), faces[:2])
