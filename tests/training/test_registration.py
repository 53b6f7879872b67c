"""Registration pairs: the flow of a known motion, the file round trip, the two views' maps, and
the registration loss in training."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from morph3d.core.crop import crop_box_from_landmarks, image_to_crop
from morph3d.io.datasets import find_faces
from morph3d.training.augment import AugmentConfig
from morph3d.training.registration import (
    REGISTERED,
    PairBatches,
    RegisteredPairs,
    RegistrationPairs,
    collate_pairs,
    concatenate_pairs,
    frame_pairs,
    read_pairs,
    synthetic_pairs,
    track_points,
    write_pairs,
)
from morph3d.training.targets import Targets, build_targets, write_targets
from morph3d.training.trainer import TrainConfig, Trainer

from ..conftest import make_tiny_targets

SHIFT = np.array([3.0, -2.0])  # image pixels: right and up


def _texture(size: int = 256, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (trackable everywhere)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.GaussianBlur(
        cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC), (5, 5), 1
    )


def _shifted(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    matrix = np.array([[1.0, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def _face_points(seed: int = 1) -> np.ndarray:
    """68 points spread over the middle of a 256 px image, like a face's landmarks."""
    return np.random.default_rng(seed).uniform(90, 166, (68, 2))


def test_flow_of_a_shifted_image_is_the_shift() -> None:
    image = _texture()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    points = _face_points()
    moved, valid = track_points(
        grey, cv2.cvtColor(_shifted(image, SHIFT), cv2.COLOR_RGB2GRAY), points
    )
    assert valid.all()
    np.testing.assert_allclose(moved - points, np.tile(SHIFT, (68, 1)), atol=0.1)
    # A point whose neighbourhood changes between the frames fails the backward check.
    other = cv2.cvtColor(_texture(seed=5), cv2.COLOR_RGB2GRAY)
    assert not track_points(grey, other, points)[1].all()


def test_pairs_hold_the_crop_frame_flow_and_both_frames_over_one_box() -> None:
    image = _texture()
    frames = [image, _shifted(image, SHIFT), _shifted(image, 2 * SHIFT)]
    points = _face_points()
    pairs = frame_pairs(frames, [points, None, points + 2 * SHIFT], "clip")
    # Frame 1 has no face and frame 2 is the last: one pair.
    assert len(pairs) == 1 and pairs.frame.tolist() == [0] and pairs.clip == ["clip"]
    box = crop_box_from_landmarks(points)
    expected = image_to_crop(points + SHIFT, box) - image_to_crop(points, box)
    np.testing.assert_allclose(pairs.flow[0], expected, atol=0.05)
    scale = 120 / (box[2] - box[0])
    # Crop frame: x right, y up; the picture moved up by 2 pixels.
    np.testing.assert_allclose(expected.mean(axis=0), [3 * scale, 2 * scale], atol=1e-9)
    # Every point tracked; the jaw never counts.
    np.testing.assert_array_equal(pairs.valid[0], REGISTERED)
    assert not REGISTERED[:17].any() and REGISTERED[17:].all()
    # The second frame is cut over the first frame's box: its content moved by the flow.
    middle = slice(60, 180)
    first, second = pairs.first[0].astype(float), pairs.second[0].astype(float)
    dx, dy = round(3 * scale), round(-2 * scale)
    moved = second[60 + dy : 180 + dy, 60 + dx : 180 + dx]
    assert np.abs(moved - first[middle, middle]).mean() < np.abs(second - first).mean()


def test_pairs_file_round_trip(tmp_path: Path, tiny_model) -> None:
    image = _texture()
    points = _face_points()
    part = frame_pairs([image, _shifted(image, SHIFT)], [points, None], "a")
    pairs = concatenate_pairs([part, frame_pairs([image, image], [points, None], "b")])
    path = write_pairs(tmp_path / "pairs.h5", pairs)
    back = read_pairs(path)
    for name in ("first", "second", "flow", "valid", "frame"):
        np.testing.assert_array_equal(getattr(back, name), getattr(pairs, name))
    assert back.clip == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="make_registration"):
        read_pairs(tmp_path / "none.h5")
    targets = write_targets(tmp_path / "targets.h5", make_tiny_targets(tiny_model, count=2))
    with pytest.raises(ValueError, match="not a registration pairs file"):
        read_pairs(targets)
    with pytest.raises(ValueError, match="no registration pairs"):
        concatenate_pairs([])


def _pairs(count: int, seed: int = 0) -> RegistrationPairs:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 256, (count, 240, 240, 3), dtype=np.uint8)
    return RegistrationPairs(
        first=first,
        second=first[:, ::-1].copy(),
        flow=rng.normal(size=(count, 68, 2)).astype(np.float32),
        valid=rng.random((count, 68)) < 0.8,
        clip=["c"] * count,
        frame=np.arange(count, dtype=np.int32),
    )


def _blob(point: np.ndarray) -> np.ndarray:
    """A stored image (240 px), black but for a bright blob at crop-frame ``point``."""
    image = np.zeros((240, 240, 3), np.float64)
    column, row = point[0] - 1 + 60, 120 - point[1] + 60
    ys, xs = np.mgrid[0:240, 0:240]
    image[...] = (255 * np.exp(-((xs - column) ** 2 + (ys - row) ** 2) / 8.0))[..., None]
    return image.astype(np.uint8)


def _centre(image: np.ndarray) -> np.ndarray:
    """Crop-frame centroid of a view's blob."""
    weight = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    column, row = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
    return np.array([column + 1, 120 - row])


def test_views_map_back_to_the_stored_frame_where_the_flow_says() -> None:
    point, flow = np.array([55.0, 70.0]), np.array([4.0, -3.0])
    flows = np.zeros((1, 68, 2), np.float32)
    flows[0, :] = flow
    pairs = RegistrationPairs(
        first=_blob(point)[None], second=_blob(point + flow)[None], flow=flows,
        valid=np.ones((1, 68), bool), clip=["c"], frame=np.zeros(1, np.int32),
    )  # fmt: skip
    geometric = AugmentConfig(brightness=0, contrast=0, blur=0, noise=0, jpeg=0, flip=0.5)
    dataset = RegisteredPairs(pairs, geometric, 120, seed=0)
    flips = set()
    for epoch in range(6):
        views, undo, _, _ = dataset[(epoch, 0)]
        flips.add(bool(np.linalg.det(undo[0][:2, :2]) < 0))
        back = [
            maps[:2, :2] @ _centre(view) + maps[:2, 2]
            for view, maps in zip(views, undo, strict=True)
        ]
        # Each view's blob, mapped back, is where it was stored: frame t's at the point,
        # frame t+1's moved by the flow.
        np.testing.assert_allclose(back[0], point, atol=0.1)
        np.testing.assert_allclose(back[1], point + flow, atol=0.1)
        assert not np.allclose(undo[0], undo[1])  # the second view is cut nearby, not equal
    assert flips == {False, True}
    images, maps, flow_batch, valid = collate_pairs([dataset[(0, 0)], dataset[(1, 0)]])
    assert images.shape == (4, 3, 120, 120) and maps.shape == (4, 3, 3)
    assert flow_batch.shape == (2, 68, 2) and valid.dtype == torch.bool
    # First frames first: the batch's second half are the second frames.
    np.testing.assert_allclose(maps[2].numpy(), dataset[(0, 0)][1][1], atol=1e-6)


def test_pair_batches_cover_every_pair_before_repeating() -> None:
    sampler = PairBatches(count=10, batch_size=4, steps=5, seed=0)
    batches = sampler.global_batches(0)
    assert len(batches) == 5 and all(len(batch) == 4 for batch in batches)
    drawn = np.concatenate(batches)
    assert sorted(drawn[:10].tolist()) == list(range(10))
    assert not np.array_equal(drawn, np.concatenate(sampler.global_batches(1)))
    with pytest.raises(ValueError):
        PairBatches(count=0, batch_size=4, steps=1, seed=0)


def _config(**changes: object) -> TrainConfig:
    still = AugmentConfig(0, 0, 0, 0, 0, 0, 0, 0, 0)
    base = TrainConfig(
        width=0.5, input_size=64, epochs=2, batch_size=4, val_fraction=0.0, augment=still,
        schedule="constant", workers=0, threads=1,
    )  # fmt: skip
    return TrainConfig.from_dict({**base.to_dict(), **changes, "augment": base.augment.__dict__})


def test_registration_loss_follows_the_flow_and_trains(tiny_model, tmp_path: Path) -> None:
    path = write_pairs(tmp_path / "pairs.h5", _pairs(5))
    targets = make_tiny_targets(tiny_model, count=8)
    config = _config(registration=0.5, registration_data=str(path), registration_batch=3)
    trainer = Trainer(targets, tiny_model, config, tmp_path / "run")
    rng = torch.Generator().manual_seed(0)
    predicted = torch.rand((6, 68, 2), generator=rng) * 100
    undo = torch.eye(3).repeat(6, 1, 1)
    flow = torch.rand((3, 68, 2), generator=rng)
    valid = torch.rand((3, 68), generator=rng) < 0.7
    # Second frames exactly where the flow carries the first: no loss.
    agreeing = predicted.clone()
    agreeing[3:] = agreeing[:3] + flow
    assert float(trainer._agreement_losses(agreeing, undo, flow, valid).abs().max()) < 1e-6
    # Points that failed the check do not count, whatever is predicted there.
    wild = agreeing.clone()
    wild[3:][~valid] += 50.0
    assert float(trainer._agreement_losses(wild, undo, flow, valid).abs().max()) < 1e-6
    wild[3:][valid] += 1.0
    losses = trainer._agreement_losses(wild.requires_grad_(), undo, flow, valid)
    assert bool((losses > 0).all())
    losses.sum().backward()
    assert wild.grad is not None and bool((wild.grad[:3].abs().sum(dim=-1)[valid] > 0).all())
    history = trainer.fit()
    assert len(history) == 2 and all(np.isfinite(row["train_registration"]) for row in history)
    assert history[-1]["train_registration"] != history[0]["train_registration"]


def test_registration_needs_its_pairs(tiny_model, tmp_path: Path) -> None:
    targets = make_tiny_targets(tiny_model, count=8)
    with pytest.raises(ValueError, match="--registration-data"):
        Trainer(targets, tiny_model, _config(registration=0.5), tmp_path)
    with pytest.raises(FileNotFoundError):
        Trainer(targets, tiny_model, _config(registration=0.5, registration_data="x.h5"), tmp_path)
    with pytest.raises(ValueError, match="--registration must"):
        Trainer(targets, tiny_model, _config(registration=-1.0), tmp_path)


def _two_faces(shared_data: Path, real_model) -> Targets:
    faces, _ = find_faces("300w", shared_data / "300w" / "helen_trainset")
    return build_targets(faces[:2], real_model)[0]


def _green_centre(image: np.ndarray) -> np.ndarray:
    """Stored-pixel centroid (column, row) of the green marker."""
    rgb = image.astype(np.float64)
    weight = np.clip(rgb[..., 1] - (rgb[..., 0] + rgb[..., 2]) / 2 - 60, 0, None)
    rows, columns = np.nonzero(weight)
    total = weight[rows, columns].sum()
    return (
        np.array([(weight[rows, columns] * columns).sum(), (weight[rows, columns] * rows).sum()])
        / total
    )


def test_turned_photos_move_a_marker_by_their_flow(shared_data: Path, real_model) -> None:
    targets = _two_faces(shared_data, real_model)
    nose = real_model.landmarks(targets.params[0])[30]
    column, row = nose[0] - 1 + 60, 120 - nose[1] + 60
    ys, xs = np.mgrid[0:240, 0:240]
    blob = np.exp(-((xs - column) ** 2 + (ys - row) ** 2) / 2.0)[..., None]
    image = targets.image[0].astype(np.float64)
    targets.image[0] = np.clip(image * (1 - blob) + blob * [0, 255, 0], 0, 255).astype(np.uint8)
    pairs = synthetic_pairs(targets, real_model, [0, 1], seed=1, step=(2.0, 1.5))
    assert len(pairs) == 2 and pairs.valid.all() and pairs.clip[0].startswith("turned:")
    assert np.abs(pairs.flow).max() > 0.1  # the face moved
    moved = _green_centre(pairs.second[0]) - _green_centre(pairs.first[0])
    flow = pairs.flow[0, 30]
    # Crop frame y up, stored pixels y down; the marker sits on the nose tip's vertex.
    np.testing.assert_allclose(moved, [flow[0], -flow[1]], atol=0.3)
    # No further turn: the same frame twice and no flow.
    still = synthetic_pairs(targets, real_model, [1], seed=1, step=(0.0, 0.0))
    np.testing.assert_array_equal(still.first, still.second)
    assert np.abs(still.flow).max() < 1e-9
