"""Training batches: which faces each step sees, their augmentation, and loading in workers.

**Order.** Epoch ``e`` visits the training faces in the permutation drawn from
``default_rng([seed, e])``, cut into global batches of ``batch_size`` faces
(:meth:`ShardedBatches.global_batches`). With several processes each takes its consecutive
part of every global batch (:func:`morph3d.training.distributed.shard`): every face once per
epoch across the ranks, like ``DistributedSampler`` with a per-epoch seed, but the global
batch stays the unit, so 1 and N processes step through the same faces.

**Augmentation.** Face ``i`` in epoch ``e`` is augmented with its own stream
(:func:`face_rng`, seeded by ``(seed, e, i)``), not by the position in a rank's or a worker's
sequence: each face gets a new augmentation every epoch, each rank a different stream (it
holds different faces), and the draw does not depend on the number of processes or workers.

**Two views** (consistency training, ``views=2``): each face of a batch is seen twice, the
second time through a similarity near the first (:meth:`Similarity.nearby`, ``PAIR_*``) with
photometry of its own, as a tracker sees a face in two frames; the batch holds every face's
first view, then every face's second view. Each sample carries the map from its crop's
frame back to the stored face's (:meth:`Similarity.frame_to_source`), so the two views'
predictions can be compared where they should agree.

**Workers.** :class:`AugmentedFaces` is a map-style dataset whose keys are ``(epoch, index)``
pairs (``(epoch, index, view)`` for a second view), so worker processes hold no state of their
own; :func:`face_loader` puts it behind a ``torch.utils.data.DataLoader`` with ``workers``
processes (0: in the training process).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from morph3d.core.landmarks21 import MIRROR_21
from morph3d.inference.network import to_input
from morph3d.training.augment import (
    AugmentConfig,
    Similarity,
    photometric,
    random_fill,
    random_occlusion,
    warp_crop,
    warp_landmarks,
)
from morph3d.training.distributed import World, shard
from morph3d.training.targets import Targets

__all__ = [
    "AugmentedFaces",
    "FaceBatch",
    "ShardedBatches",
    "collate_faces",
    "face_loader",
    "face_rng",
    "loader_settings",
]

#: Seconds a loader worker may take for one batch before the epoch fails.
WORKER_TIMEOUT_S = 300.0

#: How far a face's second view moves from its first (see :meth:`Similarity.nearby`): degrees,
#: relative scale and fraction of the crop side, about a tracker's crop-to-crop wander.
PAIR_ANGLE, PAIR_SCALE, PAIR_SHIFT = 5.0, 0.05, 0.03

#: One sample: ``(S, S, 3)`` uint8 crop, ``(68, 3)`` landmarks, ``(21, 2)`` sparse points
#: (NaN where not visible), whether the face is sparse, and the ``(3, 3)`` map from the
#: crop's frame back to the stored face's crop frame.
FaceSample = tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray]

#: A batch: ``(B, 3, S, S)`` network input, ``(B, 68, 3)`` landmark targets, ``(B, 21, 2)``
#: sparse targets, ``(B,)`` bool, which faces are sparse, and ``(B, 3, 3)`` maps back to the
#: stored crops' frames.
FaceBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def face_rng(seed: int, epoch: int, index: int, view: int = 0) -> np.random.Generator:
    """The augmentation stream of face ``index`` in ``epoch`` (0-based) of a run seeded ``seed``
    (``view`` 1: the stream of its second view).

    A child of the epoch's seed sequence (``spawn_key``), so it never coincides with the
    stream ``default_rng([seed, epoch])`` that draws the epoch's order.
    """
    key = (index,) if view == 0 else (index, view)
    return np.random.default_rng(np.random.SeedSequence([seed, epoch], spawn_key=key))


class AugmentedFaces(Dataset[FaceSample]):
    """The training faces of a targets file, augmented afresh in every epoch.

    Args:
        targets: All faces (the trainer's index arrays point into them).
        augment: The augmentation ranges.
        input_size: Side of the network input in pixels.
        seed: The run's seed (see :func:`face_rng`).
    """

    def __init__(self, targets: Targets, augment: AugmentConfig, input_size: int, seed: int):
        self.targets = targets
        self.augment = augment
        self.input_size = input_size
        self.seed = seed

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, key: tuple[int, ...]) -> FaceSample:
        """The sample of face ``index`` in ``epoch``, for ``key = (epoch, index)``; its second
        view for ``(epoch, index, 1)``."""
        epoch, index, *view = key
        rng = face_rng(self.seed, epoch, index)
        # The steps of augment(), so that the sparse points move with the same similarity.
        similarity = Similarity.random(rng, self.augment)
        if view and view[0]:
            rng = face_rng(self.seed, epoch, index, view[0])
            similarity = similarity.nearby(rng, PAIR_ANGLE, PAIR_SCALE, PAIR_SHIFT)
        stored = random_fill(self.targets.image[index], rng, self.augment)
        crop = random_occlusion(warp_crop(stored, similarity, self.input_size), rng, self.augment)
        image = photometric(crop, rng, self.augment)
        landmarks = warp_landmarks(self.targets.model_landmarks[index], similarity)
        sparse = warp_landmarks(self.targets.sparse_points[index], similarity)
        if similarity.flip:
            sparse = sparse[MIRROR_21]
        undo = similarity.frame_to_source()
        return image, landmarks, sparse, bool(self.targets.sparse[index]), undo


def collate_faces(samples: Sequence[FaceSample]) -> FaceBatch:
    """Stack samples into a :data:`FaceBatch` (the crops normalised by ``to_input``)."""
    images, landmarks, sparse_points, sparse, undo = zip(*samples, strict=True)
    return (
        to_input(np.stack(images)),
        torch.as_tensor(np.stack(landmarks), dtype=torch.float32),
        torch.as_tensor(np.stack(sparse_points), dtype=torch.float32),
        torch.as_tensor(np.array(sparse, dtype=bool)),
        torch.as_tensor(np.stack(undo), dtype=torch.float32),
    )


class ShardedBatches(Sampler[list[tuple[int, ...]]]):
    """This rank's part of every global batch of an epoch, as ``(epoch, index)`` keys.

    Call :meth:`set_epoch` before iterating (as with ``DistributedSampler``).

    Args:
        indices: The training faces.
        batch_size: Faces per global batch (all ranks together).
        seed: The run's seed.
        world: The processes; rank ``r`` yields its :func:`shard` of each batch.
        views: Views per face: 1, or 2 for consistency training (the keys of every face's
            first view, then of every face's second, ``(epoch, index, 1)``).

    A last global batch with fewer faces than processes is left out (each process needs a
    face per step); with one process nothing is left out.
    """

    def __init__(
        self,
        indices: np.ndarray,
        batch_size: int,
        seed: int,
        world: World | None = None,
        views: int = 1,
    ) -> None:
        world = World() if world is None else world
        if batch_size < world.world_size:
            raise ValueError(
                f"--batch-size {batch_size} (the global batch) is smaller than the "
                f"{world.world_size} processes: each needs at least one face per step"
            )
        self.indices = np.asarray(indices)
        self.batch_size = batch_size
        self.seed = seed
        self.world = world
        self.views = views
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The 0-based epoch that the next iteration draws."""
        self.epoch = epoch

    def global_batches(self, epoch: int) -> list[np.ndarray]:
        """The global batches of ``epoch``: face indices, every training face at most once."""
        order = np.random.default_rng([self.seed, epoch]).permutation(self.indices)
        size = self.batch_size
        batches = [order[k : k + size] for k in range(0, len(order), size)]
        return [batch for batch in batches if len(batch) >= self.world.world_size]

    def __len__(self) -> int:
        full, rest = divmod(len(self.indices), self.batch_size)
        return full + int(rest >= max(1, self.world.world_size))

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        for batch in self.global_batches(self.epoch):
            mine = [int(i) for i in shard(batch, self.world)]
            keys: list[tuple[int, ...]] = [(self.epoch, i) for i in mine]
            for view in range(1, self.views):
                keys += [(self.epoch, i, view) for i in mine]
            yield keys


def face_loader(
    dataset: AugmentedFaces, sampler: ShardedBatches, workers: int, pin_memory: bool = False
) -> DataLoader[FaceSample]:
    """A ``DataLoader`` over ``dataset`` in ``sampler``'s batches, made by ``workers``
    processes (0: in this one), pinned for the copy to a GPU when ``pin_memory``."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_faces,
        pin_memory=pin_memory,
        **loader_settings(workers),
    )


def loader_settings(workers: int) -> dict[str, Any]:
    """The ``DataLoader`` settings of the training batches made by ``workers`` processes.

    Raises:
        ValueError: ``workers`` is negative.
    """
    if workers < 0:
        raise ValueError(f"--workers must be 0 or more, got {workers}")
    # Forked workers share the targets' images with this process; a spawned or forkserver
    # worker would receive a pickled copy of all of them. (A forked worker must not call
    # cv2.setNumThreads: after this process has used OpenCV's threads it deadlocks there.)
    context = "fork" if workers and "fork" in multiprocessing.get_all_start_methods() else None
    return {
        "num_workers": workers,
        "multiprocessing_context": context,
        # A batch takes well under a second: a worker silent this long is stuck, and an
        # error says so where a hang would not.
        "timeout": WORKER_TIMEOUT_S if workers else 0,
    }
