from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.core.crop import crop_to_image
from morph3d.errors import ImageError
from morph3d.io.image import as_rgb, crop_image, read_image, write_image


def test_write_read_round_trip_keeps_rgb(tmp_path: Path) -> None:
    image = np.zeros((8, 10, 3), dtype=np.uint8)
    image[..., 0] = 200  # red
    path = write_image(tmp_path / "red.png", image)
    back = read_image(path)
    np.testing.assert_array_equal(back, image)
    assert [p.name for p in tmp_path.iterdir()] == ["red.png"]


def test_bad_images(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no image"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="cannot decode"):
        read_image(tmp_path / "corrupt.jpg")


def test_crop_follows_the_crop_frame_convention() -> None:
    image = np.zeros((300, 400, 3), dtype=np.uint8)
    box = np.array([100.0, 50.0, 340.0, 290.0])  # 2 image px per crop px
    point = np.array([[31.0, 80.0, 0.0]])  # crop frame (y up): 0-based crop pixel (30, 40)
    u, v = crop_to_image(point, box)[0, :2]
    image[int(v), int(u)] = 255
    crop = crop_image(image, box, 120, interpolation=0)  # nearest neighbour
    assert crop[40, 30].max() == 255 and crop.sum() == 3 * 255
    outside = crop_image(image, np.array([-50.0, -50.0, 10.0, 10.0]), 60)
    assert outside[:40, :40].max() == 0  # beyond the border: black


def test_as_rgb_accepts_the_documented_inputs() -> None:
    from PIL import Image

    from morph3d.io.image import as_rgb

    rgb = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(as_rgb(rgb), rgb)
    np.testing.assert_array_equal(as_rgb(rgb[..., ::-1], channel_order="bgr"), rgb)
    rgba = np.concatenate([rgb, np.zeros((6, 8, 1), np.uint8)], axis=2)
    np.testing.assert_array_equal(as_rgb(rgba), rgb)
    np.testing.assert_array_equal(as_rgb(Image.fromarray(rgb)), rgb)
    np.testing.assert_array_equal(as_rgb(rgb / 255.0), rgb)
    gray = as_rgb(rgb[..., 0])
    assert gray.shape == (6, 8, 3) and np.all(gray[..., 0] == gray[..., 2])
    for bad, message in (
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.int32), "dtype"),
        (np.full((4, 4, 3), np.nan), "NaN"),
        ([1, 2, 3], "unsupported image type"),
    ):
        with pytest.raises(ImageError, match=message):
            as_rgb(bad)


def test_sample_colors_bilinear_and_clamped() -> None:
    from morph3d.io.image import sample_colors

    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 1] = 200
    colors = sample_colors(image, np.array([[1.0, 0.0], [0.5, 0.0], [5.0, -3.0]]))
    np.testing.assert_array_equal(colors[:, 0], [200, 100, 200])


@pytest.mark.unit
def test_16_bit_and_0_255_float_images_are_not_misread() -> None:
    from PIL import Image

    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    expected = np.round(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(as_rgb(ramp)[..., 0], expected)
    pil = Image.fromarray(ramp)  # mode I;16
    assert pil.mode.startswith("I;16")
    np.testing.assert_array_equal(as_rgb(pil)[..., 0], expected)
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        as_rgb(np.full((4, 4, 3), 200.0))


def test_turned_crop_is_the_crop_of_the_turned_image() -> None:
    import cv2

    from morph3d.core.crop import turning_matrix

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur((rng.random((300, 400, 3)) * 255).astype(np.uint8), (0, 0), 4)
    box = np.array([100.0, 50.0, 340.0, 290.0])
    turned = cv2.warpAffine(image, turning_matrix(box, 25.0), (400, 300))
    expected = crop_image(turned, box, 120)
    got = crop_image(image, box, 120, angle=25.0)
    # One resampling against two: the same picture to interpolation error.
    assert np.abs(got.astype(int) - expected.astype(int))[8:-8, 8:-8].mean() < 1.0
    np.testing.assert_array_equal(
        crop_image(image, box, 120, angle=0.0), crop_image(image, box, 120)
    )
