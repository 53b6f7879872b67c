"""Which faces each step and each rank sees, and their augmentation streams."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from morph3d.training.augment import AugmentConfig
from morph3d.training.batches import AugmentedFaces, ShardedBatches, face_loader, face_rng
from morph3d.training.distributed import World

from ..conftest import REPO, make_tiny_model, make_tiny_targets

pytestmark = pytest.mark.unit


def _keys(sampler: ShardedBatches, epoch: int) -> list[list[tuple[int, int]]]:
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_every_face_once_per_epoch_across_the_ranks(world_size: int) -> None:
    faces = np.arange(100, 121)  # 21 faces, global batch 8: 8, 8, 5
    samplers = [ShardedBatches(faces, 8, seed=3, world=World(r, world_size)) for r in range(3)]
    samplers = samplers[:world_size]
    single = ShardedBatches(faces, 8, seed=3)
    for epoch in (0, 1):
        per_rank = [_keys(sampler, epoch) for sampler in samplers]
        assert all(len(keys) == len(single) == 3 for keys in per_rank)
        for step, batch in enumerate(single.global_batches(epoch)):
            # The ranks' parts, in rank order, are the global batch of one process.
            joined = [key for keys in per_rank for key in keys[step]]
            assert joined == [(epoch, int(i)) for i in batch]
        seen = sorted(index for keys in per_rank for batch in keys for _, index in batch)
        assert seen == list(faces)
    assert not np.array_equal(single.global_batches(0)[0], single.global_batches(1)[0])


def test_a_last_batch_smaller_than_the_processes_is_left_out() -> None:
    sampler = ShardedBatches(np.arange(9), 4, seed=0, world=World(0, 2))  # 4, 4, 1
    assert len(sampler) == 2 and [len(b) for b in sampler.global_batches(0)] == [4, 4]
    assert len(ShardedBatches(np.arange(9), 4, seed=0)) == 3
    with pytest.raises(ValueError, match="smaller than the 4 processes"):
        ShardedBatches(np.arange(9), 3, seed=0, world=World(0, 4))


def test_a_face_has_its_own_stream_per_epoch() -> None:
    draws = {(e, i): face_rng(0, e, i).random() for e in (0, 1) for i in (0, 1, 2)}
    assert len(set(draws.values())) == len(draws)
    assert face_rng(0, 1, 2).random() == draws[(1, 2)]
    # Not the stream that draws the epoch's order.
    assert face_rng(0, 0, 0).random() != np.random.default_rng([0, 0]).random()
    assert face_rng(1, 0, 0).random() != draws[(0, 0)]


def test_workers_load_the_same_batches_as_the_training_process() -> None:
    model = make_tiny_model()
    targets = make_tiny_targets(model, count=12)
    dataset = AugmentedFaces(targets, AugmentConfig(), input_size=32, seed=0)
    sampler = ShardedBatches(np.arange(12), 5, seed=0, world=World(1, 2))
    sampler.set_epoch(4)
    loaded = {workers: list(face_loader(dataset, sampler, workers)) for workers in (0, 2)}
    assert [len(batch[0]) for batch in loaded[0]] == [2, 2, 1]  # rank 1 of 5, 5, 2
    for inline, forked in zip(loaded[0], loaded[2], strict=True):
        for a, b in zip(inline, forked, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    image, landmarks, sparse_points, sparse, undo = dataset[(4, 7)]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert landmarks.shape == (68, 3) and sparse_points.shape == (21, 2) and sparse
    assert undo.shape == (3, 3)
    with pytest.raises(ValueError, match="--workers"):
        face_loader(dataset, sampler, -1)


_AFTER_OPENCV = """
import cv2, numpy as np
from tests.conftest import make_tiny_model, make_tiny_targets
from morph3d.training.augment import AugmentConfig
from morph3d.training.batches import AugmentedFaces, ShardedBatches, face_loader
# This process keeps OpenCV's thread pool busy (as validation crops do between epochs).
cv2.warpAffine(np.zeros((2000, 2000, 3), np.uint8), np.eye(2, 3), (2000, 2000))
targets = make_tiny_targets(make_tiny_model(), 12)
dataset = AugmentedFaces(targets, AugmentConfig(), 32, 0)
sampler = ShardedBatches(np.arange(12), 5, 0)
for epoch in range(4):
    sampler.set_epoch(epoch)
    assert len(list(face_loader(dataset, sampler, 2))) == 3
    cv2.warpAffine(np.zeros((2000, 2000, 3), np.uint8), np.eye(2, 3), (2000, 2000))
print("done")
"""


def test_forked_workers_after_opencv_threads_do_not_hang() -> None:
    """Workers forked from a process whose OpenCV threads ran, epoch after epoch (they
    deadlocked in cv2.setNumThreads); in a child process, so that a hang fails the test."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_OPENCV], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "done" in done.stdout, done.stderr


def test_second_views_follow_the_first_and_map_back_to_the_stored_face() -> None:
    targets = make_tiny_targets(make_tiny_model(), count=6)
    dataset = AugmentedFaces(targets, AugmentConfig(flip=0.5), input_size=32, seed=3)
    sampler = ShardedBatches(np.arange(6), 4, seed=0, views=2)
    sampler.set_epoch(1)
    keys = next(iter(sampler))
    faces = [key[1] for key in keys[:4]]
    assert keys[:4] == [(1, i) for i in faces] and keys[4:] == [(1, i, 1) for i in faces]
    first, second = dataset[keys[0]], dataset[keys[4]]
    # The first view is the one-view run's sample: the same stream.
    for a, b in zip(first, dataset[(1, faces[0])], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], second[0])
    stored = targets.model_landmarks[faces[0]][:, :2]
    for _, landmarks, _, _, undo in (first, second):
        back = landmarks[:, :2] @ undo[:2, :2].T + undo[:2, 2]
        # The same positions (a mirrored view also mirrors the order of the points).
        order = np.argsort(np.linalg.norm(back[:, None] - stored[None], axis=-1), axis=1)[:, 0]
        np.testing.assert_allclose(back, stored[order], atol=1e-6)
    # Both views map the same point k back to the same place: what the consistency loss uses.
    back = [view[1][:, :2] @ view[4][:2, :2].T + view[4][:2, 2] for view in (first, second)]
    np.testing.assert_allclose(back[0], back[1], atol=1e-6)
