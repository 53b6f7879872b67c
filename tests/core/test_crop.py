from __future__ import annotations

import numpy as np
import torch

from morph3d.core.crop import CROP_SIZE, crop_to_image, image_to_crop


def test_known_values() -> None:
    box = np.array([100.0, 50.0, 340.0, 290.0])  # 240 px side: 2 px per crop unit
    points = np.array([[1.0, 120.0, 10.0], [61.0, 60.0, -5.0]])
    image = crop_to_image(points, box)
    # (x - 1, 120 - y) is the 0-based crop pixel; then scale and shift.
    np.testing.assert_allclose(image, [[100.0, 50.0, 20.0], [220.0, 170.0, -10.0]])


def test_round_trip_batched_non_square() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, CROP_SIZE, size=(3, 68, 3))
    boxes = np.array([[0, 0, 120, 120], [10, 20, 250, 200], [-5, 7, 60, 90]], dtype=float)
    back = image_to_crop(crop_to_image(points, boxes), boxes)
    np.testing.assert_allclose(back, points, atol=1e-10)


def test_torch_matches_numpy_and_is_differentiable() -> None:
    points = np.random.default_rng(1).uniform(0, 120, size=(2, 5, 2))
    boxes = np.array([[10.0, 20, 130, 140], [0, 0, 60, 60]])
    tensor = torch.from_numpy(points).requires_grad_()
    out = crop_to_image(tensor, torch.from_numpy(boxes))
    np.testing.assert_allclose(out.detach().numpy(), crop_to_image(points, boxes))
    out.sum().backward()
    assert tensor.grad is not None
    # d u / d x = sx, d v / d y = -sy
    np.testing.assert_allclose(tensor.grad[0, 0].numpy(), [1.0, -1.0])
    np.testing.assert_allclose(tensor.grad[1, 0].numpy(), [0.5, -0.5])


def test_mismatched_batch_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="match the points"):
        crop_to_image(np.zeros((3, 68, 3)), np.zeros((3, 1, 4)))


def test_params_fold_into_image_pixels(tiny_model, random_params) -> None:
    from morph3d.core.crop import params_to_crop, params_to_image

    boxes = np.array([[10.0, 20, 130, 140], [0, 0, 60, 60], [-5, 3, 90, 98], [7, 7, 8, 9]])
    image_params = params_to_image(random_params, boxes)
    np.testing.assert_allclose(
        tiny_model.decode(image_params),
        crop_to_image(tiny_model.decode(random_params), boxes),
        rtol=1e-9,
        atol=1e-6,
    )
    np.testing.assert_array_equal(image_params[:, 12:], random_params[:, 12:])
    np.testing.assert_allclose(params_to_crop(image_params, boxes), random_params, rtol=1e-12)


def test_turned_params_land_where_the_turn_is_undone(tiny_model, random_params) -> None:
    from morph3d.core.crop import turn_params, turning_matrix

    boxes = np.array([[10.0, 20, 130, 140], [0, 0, 60, 60], [-5, 3, 90, 98], [7, 7, 8, 9]])
    degrees = np.array([30.0, -75.0, 0.0, 180.0])
    turned = crop_to_image(tiny_model.decode(random_params), boxes)  # in the turned image
    back = crop_to_image(tiny_model.decode(turn_params(random_params, boxes, degrees)), boxes)
    for k, matrix in enumerate(turning_matrix(boxes, degrees)):  # image -> turned image
        moved = back[k, :, :2] @ matrix[:, :2].T + matrix[:, 2]
        np.testing.assert_allclose(moved, turned[k, :, :2], atol=1e-6 * np.ptp(turned[k]))
        np.testing.assert_allclose(back[k, :, 2], turned[k, :, 2], rtol=1e-9)  # depth kept
    # The centre stays, a quarter turn swaps the axes (y down): (1, 0) -> (0, -1) as seen.
    quarter = turning_matrix(np.array([0.0, 0.0, 10.0, 10.0]), 90.0)
    np.testing.assert_allclose(quarter @ [5.0, 5.0, 1.0], [5.0, 5.0], atol=1e-12)
    np.testing.assert_allclose(quarter @ [6.0, 5.0, 1.0], [5.0, 4.0], atol=1e-12)
    np.testing.assert_array_equal(
        turn_params(random_params, boxes, 0.0)[:, 12:], random_params[:, 12:]
    )


def test_jitter_boxes_known_values() -> None:
    from morph3d.core.crop import jitter_boxes

    boxes = jitter_boxes(np.array([[10.0, 20.0, 110.0, 220.0]]), 0.05)  # 100 wide, 200 high
    assert boxes.shape == (1, 5, 4)
    np.testing.assert_allclose(boxes[0, 0], [10, 20, 110, 220])
    np.testing.assert_allclose(boxes[0, 1:], [
        [5, 20, 105, 220], [15, 20, 115, 220], [10, 10, 110, 210], [10, 30, 110, 230],
    ])  # fmt: skip
