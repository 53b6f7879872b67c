from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.crop import CROP_SIZE, params_to_image
from morph3d.inference.predictor import predict_boxes


class DotFinder:
    """A stand-in network that finds the brightest pixel of each crop and answers a face of
    zero size sitting there: its pose's translation is the pixel in the crop frame (y up)."""

    def __init__(self) -> None:
        self.seen = 0

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.seen += len(crops)
        params = np.zeros((len(crops), 62))
        for k, crop in enumerate(crops):
            row, column = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
            params[k, [3, 7]] = column + 1, CROP_SIZE - row  # crop_to_image's convention
        return params


def _dot_image(x: int, y: int) -> np.ndarray:
    image = np.zeros((300, 400, 3), np.uint8)
    image[y, x] = 255
    return image


@pytest.mark.parametrize("angle", [None, 90.0])
def test_jittered_crops_agree_in_the_box_frame(angle: float | None) -> None:
    # One image pixel a crop pixel: the 6 px moves of the jittered crops are whole pixels, so
    # the dot sits on a pixel of every crop and their mean lands on it exactly.
    box = np.array([[100.0, 80.0, 220.0, 200.0]])
    dot = (150, 130)
    image = _dot_image(*dot)
    angles = None if angle is None else np.array([angle])
    finder = DotFinder()
    plain, _ = predict_boxes(finder, [image], box, angles=angles)
    jittered, crops = predict_boxes(finder, [image], box, angles=angles, jitter=0.05)
    assert finder.seen == 1 + 5
    assert crops.shape == (1, CROP_SIZE, CROP_SIZE, 3)
    for params in (plain, jittered):
        np.testing.assert_allclose(params_to_image(params, box)[0, [3, 7]], dot, atol=1e-9)
    np.testing.assert_allclose(jittered, plain, atol=1e-9)


def test_jitter_averages_the_five_answers() -> None:
    class Biased(DotFinder):  # answers 3 crop units right of the dot in the unmoved crop only
        def predict(self, crops: np.ndarray) -> np.ndarray:
            params = super().predict(crops)
            params[0, 3] += 3.0
            return params

    box = np.array([[100.0, 80.0, 220.0, 200.0]])
    jittered, _ = predict_boxes(Biased(), [_dot_image(150, 130)], box, jitter=0.05)
    np.testing.assert_allclose(params_to_image(jittered, box)[0, [3, 7]], [150 + 3 / 5, 130])


def test_negative_jitter_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        predict_boxes(DotFinder(), [_dot_image(1, 1)], np.array([[0.0, 0, 120, 120]]), jitter=-1)
