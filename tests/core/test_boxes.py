"""Box areas and overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.boxes import box_area, box_coverage, box_iou, is_nested


def test_box_iou_known_values() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 21, 21]], float)
    np.testing.assert_allclose(box_iou(np.array([0, 0, 10, 10.0]), boxes), [1.0, 50 / 150, 0.0])


def test_box_area_clips_inverted_boxes() -> None:
    boxes = np.array([[0, 0, 10, 20], [5, 5, 1, 9], [0, 0, 0, 0]], float)
    np.testing.assert_array_equal(box_area(boxes), [200.0, 0.0, 0.0])


def test_coverage_and_nesting() -> None:
    outer = np.array([0.0, 0.0, 100.0, 100.0])
    inner = np.array([10.0, 10.0, 50.0, 50.0])  # 16 % of outer's area, wholly inside
    half_out = np.array([80.0, 10.0, 120.0, 50.0])
    assert box_coverage(inner, np.stack([outer, half_out])) == pytest.approx([1.0, 0.0])
    assert box_coverage(half_out, outer[None]) == pytest.approx([0.5])
    assert is_nested(inner, outer) and not is_nested(outer, inner)
    assert not is_nested(half_out, outer)  # only half of it inside
    assert not is_nested(np.array([0.0, 0.0, 90.0, 90.0]), outer)  # 81 % of the area: same face
    assert box_coverage(np.array([5.0, 5.0, 5.0, 9.0]), outer[None]) == pytest.approx([0.0])
