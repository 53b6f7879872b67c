"""Box areas and overlaps."""

from __future__ import annotations

import numpy as np

from morph3d.core.boxes import box_area, box_iou


def test_box_iou_known_values() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 21, 21]], float)
    np.testing.assert_allclose(box_iou(np.array([0, 0, 10, 10.0]), boxes), [1.0, 50 / 150, 0.0])


def test_box_area_clips_inverted_boxes() -> None:
    boxes = np.array([[0, 0, 10, 20], [5, 5, 1, 9], [0, 0, 0, 0]], float)
    np.testing.assert_array_equal(box_area(boxes), [200.0, 0.0, 0.0])
