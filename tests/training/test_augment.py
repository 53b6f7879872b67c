from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from morph3d.core.crop import CROP_SIZE
from morph3d.core.landmarks68 import MIRROR as MIRROR_68
from morph3d.training.augment import (
    AugmentConfig,
    Similarity,
    augment,
    centre_crop,
    fill_padding,
    occlude,
    padding_mask,
    photometric,
    warp_crop,
    warp_landmarks,
)


def _dot_image(points_crop_frame: np.ndarray) -> np.ndarray:
    """A black stored image (240 px) with one bright pixel per point, each in its own channel."""
    stored = np.zeros((240, 240, 3), dtype=np.uint8)
    for channel, (x, y) in enumerate(points_crop_frame[:, :2]):
        stored[round(CROP_SIZE - y) + 60, round(x - 1) + 60, channel] = 255
    return stored


@pytest.mark.parametrize(
    "similarity",
    [
        Similarity(),
        Similarity(angle=35.0, scale=1.1, shift=(0.08, -0.05)),
        Similarity(angle=-25.0, scale=0.9, shift=(-0.1, 0.1), flip=True),
        Similarity(flip=True),
    ],
)
def test_drawn_landmarks_land_where_the_transform_says(similarity: Similarity) -> None:
    points = np.array([[31.0, 80.0, 4.0], [90.0, 30.0, -2.0], [61.0, 61.0, 0.0]])
    crop = warp_crop(_dot_image(points), similarity).astype(np.float64)
    moved = warp_landmarks(points, similarity)
    for channel, (x, y, _) in enumerate(moved):
        weights = crop[..., channel]
        assert weights.sum() > 0
        rows, columns = np.indices(weights.shape)
        centre = (np.sum(columns * weights), np.sum(rows * weights)) / weights.sum()
        # crop pixel (x - 1, 120 - y), to within bilinear smearing
        np.testing.assert_allclose(centre, [x - 1, CROP_SIZE - y], atol=0.6)
    np.testing.assert_allclose(moved[:, 2], points[:, 2] / similarity.scale)


def test_flip_mirrors_the_landmark_order() -> None:
    assert sorted(MIRROR_68) == list(range(68))
    np.testing.assert_array_equal(MIRROR_68[MIRROR_68], np.arange(68))
    assert MIRROR_68[36] == 45 and MIRROR_68[48] == 54 and MIRROR_68[8] == 8
    points = np.zeros((68, 3))
    points[:, 0] = np.arange(68)  # x encodes the index
    flipped = warp_landmarks(points, Similarity(flip=True))
    # Landmark k of the mirror image comes from landmark MIRROR_68[k], mirrored in x.
    np.testing.assert_allclose(flipped[:, 0], CROP_SIZE - 1 - (MIRROR_68 - 1) + 1)


def test_identity_and_input_size() -> None:
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 255, (240, 240, 3), dtype=np.uint8)
    np.testing.assert_array_equal(centre_crop(stored), stored[60:180, 60:180])
    assert centre_crop(stored, 96).shape == (96, 96, 3)


def test_photometric_keeps_the_shape_and_changes_pixels() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
    config = AugmentConfig(blur=1.0, noise=1.0, jpeg=1.0)
    out = photometric(image, rng, config)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).mean() > 1
    same = photometric(image, rng, AugmentConfig(0, 0, 0, 0, 0, 0, 0, 0, 0))
    np.testing.assert_array_equal(same, image)


def test_augment_is_reproducible() -> None:
    stored = np.random.default_rng(1).integers(0, 255, (240, 240, 3), dtype=np.uint8)
    points = np.random.default_rng(2).uniform(20, 100, (68, 3))
    first = augment(stored, points, np.random.default_rng(5), AugmentConfig())
    second = augment(stored, points, np.random.default_rng(5), AugmentConfig())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("flip", [False, True])
def test_frame_to_source_undoes_the_warp_and_nearby_stays_near(flip: bool) -> None:
    points = np.array([[31.0, 80.0], [90.0, 30.0], [61.0, 61.0]])
    similarity = Similarity(angle=20.0, scale=1.05, shift=(0.04, -0.02), flip=flip)
    moved = warp_landmarks(points, similarity)
    undo = similarity.frame_to_source()
    np.testing.assert_allclose(moved @ undo[:2, :2].T + undo[:2, 2], points, atol=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(50):
        near = similarity.nearby(rng, 5.0, 0.05, 0.03)
        assert near.flip == flip and abs(near.angle - 20.0) <= 5.0
        assert 1.05 * 0.95 <= near.scale <= 1.05 * 1.05
        assert np.all(np.abs(np.subtract(near.shift, similarity.shift)) <= 0.03)


def _padded_photo() -> tuple[np.ndarray, np.ndarray]:
    """A 240 px stored image: a photo (no black pixel but a dark blob inside) in black padding."""
    rng = np.random.default_rng(0)
    stored = np.zeros((240, 240, 3), dtype=np.uint8)
    stored[60:170, 50:200] = rng.integers(1, 256, (110, 150, 3), dtype=np.uint8)
    stored[100:110, 100:110] = 0  # a black shadow inside the photo is not padding
    padding = np.ones((240, 240), dtype=bool)
    padding[60:170, 50:200] = False
    return stored, padding


def test_padding_mask_is_the_black_connected_to_the_border() -> None:
    stored, padding = _padded_photo()
    np.testing.assert_array_equal(padding_mask(stored), padding)
    assert not padding_mask(np.full((240, 240, 3), 7, dtype=np.uint8)).any()


def test_fill_padding_paints_the_padding_and_keeps_the_photo() -> None:
    stored, padding = _padded_photo()
    before = stored.copy()
    painted = fill_padding(stored, np.random.default_rng(1))
    np.testing.assert_array_equal(stored, before)  # the input is not changed
    np.testing.assert_array_equal(painted[~padding], stored[~padding])
    assert (painted[padding].max(axis=-1) > 0).mean() > 0.95
    # smooth: neighbouring painted pixels differ little
    assert np.abs(np.diff(painted[:50].astype(int), axis=1)).mean() < 6
    assert fill_padding(painted, np.random.default_rng(2)) is painted  # nothing left to paint


def test_augment_fills_only_when_asked() -> None:
    stored, _ = _padded_photo()
    landmarks = np.zeros((68, 2)) + 60
    plain = AugmentConfig(rotation=0, translation=0, scale=0, flip=0, brightness=0, contrast=0,
                          blur=0, noise=0, jpeg=0)  # fmt: skip
    crop, _ = augment(stored, landmarks, np.random.default_rng(3), plain)
    filled, _ = augment(stored, landmarks, np.random.default_rng(3), replace(plain, fill=1.0))
    black = (crop.max(axis=-1) == 0).mean()
    assert black > 0.05 and (filled.max(axis=-1) == 0).sum() == 100  # the shadow is kept


def test_occlude_covers_one_patch_of_the_face_and_keeps_the_rest() -> None:
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (120, 120, 3)).astype(np.uint8)
    before = image.copy()
    for seed in range(20):
        covered = np.any(occlude(image, np.random.default_rng(seed)) != image, axis=-1)
        share = covered.mean()
        assert 0.01 < share < 0.35, share  # 16-50 % of the side across
        rows, cols = np.nonzero(covered)
        # centred in the middle 60 %, where the face is
        assert 0.2 * 120 - 1 <= rows.mean() <= 0.8 * 120 + 1
        assert 0.2 * 120 - 1 <= cols.mean() <= 0.8 * 120 + 1
    np.testing.assert_array_equal(image, before)  # the input is not changed


def test_augment_occludes_only_when_asked_and_keeps_the_targets() -> None:
    stored = np.random.default_rng(5).integers(0, 256, (240, 240, 3)).astype(np.uint8)
    landmarks = np.random.default_rng(6).uniform(20, 100, (68, 2))
    plain = AugmentConfig(blur=0, noise=0, jpeg=0)
    crop, moved = augment(stored, landmarks, np.random.default_rng(7), plain)
    same, _ = augment(stored, landmarks, np.random.default_rng(7), replace(plain, occlude=0.0))
    np.testing.assert_array_equal(crop, same)  # occlude=0 draws nothing
    hidden, still = augment(stored, landmarks, np.random.default_rng(7), replace(plain, occlude=1))
    np.testing.assert_array_equal(still, moved)  # the targets stay where the face is
    assert np.any(hidden != crop)
