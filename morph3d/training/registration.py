"""Supervision by registration: how landmarks move between video frames, measured by optical flow.

Dong, Yu, Weng, Wei, Yang and Sheikh, "Supervision-by-Registration: An Unsupervised Approach to
Improve the Precision of Facial Landmark Detectors", CVPR 2018. Unlabelled video teaches the
network that its landmarks must move with the image: frame t's predicted landmarks, carried to
frame t+1 by optical flow, should be where the network puts them on frame t+1.

**Pairs.** :func:`frame_pairs` cuts frames t and t+1 of a clip with the same stored box (twice
the crop box of frame t's landmarks, as in a targets file, :mod:`morph3d.training.targets`) and
measures the flow with OpenCV's pyramidal Lucas-Kanade at frame t's landmarks (a teacher: any
tracker's landmarks; ``scripts/make_registration.py`` uses morph3d's own), on the full frames,
forward and backward. A point counts (``valid``) where both passes converge and the backward pass
returns within ``max_error`` pixels of where it started (the jaw never: :data:`REGISTERED`); the
flow is kept as a displacement in the stored crop's frame (120 units, y up), per landmark.

**Photos in motion** (:func:`synthetic_pairs`): a fitted training photo turned a little
between two frames by 3D face profiling, its flow exact; many more faces than a few clips hold.

**Loss** (:meth:`morph3d.training.trainer.Trainer`, ``registration``): each pair is seen in two
views like a face in consistency training (the second view's similarity near the first's, each
with its own photometry; :class:`RegisteredPairs`); both views' predicted landmarks are mapped
back to the stored crop's frame, the first moved by the flow, and the landmark loss between
them, on the valid points, is added with weight ``registration``. The gradient reaches both
frames' predictions, as in the paper's registration loss. The flow is measured once, at the
teacher's landmarks rather than at the network's current ones: over the few pixels they differ
the flow of a face barely changes.

File layout (HDF5, one row per pair):

=============  ==============  ==========================================================
dataset        shape, dtype    content
=============  ==============  ==========================================================
``first``      (N,S,S,3) u8    frame t over the stored box (S = 240), RGB
``second``     (N,S,S,3) u8    frame t+1 over the same box
``flow``       (N,68,2) f4     landmark displacement t -> t+1, crop frame (y up)
``valid``      (N,68) bool     the forward-backward check passed
``clip``       (N,) str        the video it came from
``frame``      (N,) i4         t
=============  ==============  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from morph3d.core.crop import CROP_SIZE, crop_box_from_landmarks, image_to_crop, scale_box
from morph3d.core.landmarks68 import JAW
from morph3d.core.marching import contour_lines
from morph3d.core.model import MorphableModel
from morph3d.files import atomic_path
from morph3d.inference.network import to_input
from morph3d.io.image import crop_image
from morph3d.progress import Progress, no_progress
from morph3d.training.augment import AugmentConfig, Similarity, photometric, warp_crop
from morph3d.training.batches import PAIR_ANGLE, PAIR_SCALE, PAIR_SHIFT, loader_settings
from morph3d.training.distributed import World, shard
from morph3d.training.profiling import ProfileConfig, motion_pair
from morph3d.training.targets import STORED_SIZE, Targets

__all__ = [
    "LK_WINDOW",
    "MAX_FB_ERROR",
    "REGISTERED",
    "PairBatch",
    "PairBatches",
    "RegisteredPairs",
    "RegistrationPairs",
    "collate_pairs",
    "concatenate_pairs",
    "frame_pairs",
    "pair_loader",
    "pair_rng",
    "read_pairs",
    "synthetic_pairs",
    "track_points",
    "write_pairs",
]

#: Lucas-Kanade window (pixels of the full frame) and pyramid levels.
LK_WINDOW, LK_LEVELS = 21, 3
#: Largest forward-backward distance (pixels of the full frame) for a point to count.
MAX_FB_ERROR = 1.0
#: :func:`synthetic_pairs`: largest first turn and further turn (yaw, pitch), degrees.
SYNTHETIC_TURN, SYNTHETIC_STEP = (20.0, 8.0), (1.5, 1.0)
#: The landmarks whose flow can count: all but the jaw (0-16). The model's jaw landmarks are
#: vertices of the cheeks and chin that reach the silhouette as the head turns, where a
#: Lucas-Kanade window takes in the background too and follows it.
REGISTERED = np.array([k not in JAW for k in range(68)])

#: One pair's two views: ``(2, S, S, 3)`` crops, ``(2, 3, 3)`` maps back to the stored crop's
#: frame, ``(68, 2)`` flow and ``(68,)`` validity.
PairSample = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: A batch of ``b`` pairs: ``(2b, 3, S, S)`` network input (every pair's first frame, then every
#: pair's second), ``(2b, 3, 3)`` maps back, ``(b, 68, 2)`` flow, ``(b, 68)`` bool validity.
PairBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class RegistrationPairs:
    """Consecutive video frames with the flow of their landmarks (see the module docstring)."""

    first: np.ndarray
    second: np.ndarray
    flow: np.ndarray
    valid: np.ndarray
    clip: list[str]
    frame: np.ndarray

    def __len__(self) -> int:
        return len(self.clip)


def track_points(
    previous: np.ndarray, following: np.ndarray, points: np.ndarray, max_error: float = MAX_FB_ERROR
) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas-Kanade flow of ``points`` from one image to the next, checked backward.

    Args:
        previous: ``(H, W)`` uint8 grey image at t.
        following: ``(H, W)`` uint8 grey image at t+1.
        points: ``(n, 2)`` image pixels (x right, y down) at t.
        max_error: Largest forward-backward distance in pixels for a point to count.

    Returns:
        ``(n, 2)`` positions at t+1 and ``(n,)`` bool: both passes converged and the backward
        pass came back within ``max_error``.
    """
    start = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 1, 2)
    window = (LK_WINDOW, LK_WINDOW)
    moved, forward, _ = cv2.calcOpticalFlowPyrLK(
        previous, following, start, start.copy(), winSize=window, maxLevel=LK_LEVELS
    )
    back, backward, _ = cv2.calcOpticalFlowPyrLK(
        following, previous, moved, moved.copy(), winSize=window, maxLevel=LK_LEVELS
    )
    error = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
    valid = forward.reshape(-1).astype(bool) & backward.reshape(-1).astype(bool)
    valid &= np.isfinite(error) & (error <= max_error)
    return moved.reshape(-1, 2).astype(np.float64), valid


def _stacked_pairs(
    first: list[np.ndarray],
    second: list[np.ndarray],
    flow: list[np.ndarray],
    valid: list[np.ndarray],
    clips: list[str],
    frames: list[int],
) -> RegistrationPairs:
    """Pairs from per-pair lists (possibly empty) as arrays of the file's dtypes and shapes."""
    n = len(clips)
    return RegistrationPairs(
        first=np.asarray(first, dtype=np.uint8).reshape(n, STORED_SIZE, STORED_SIZE, 3),
        second=np.asarray(second, dtype=np.uint8).reshape(n, STORED_SIZE, STORED_SIZE, 3),
        flow=np.asarray(flow, dtype=np.float32).reshape(n, 68, 2),
        valid=np.asarray(valid, dtype=bool).reshape(n, 68),
        clip=clips,
        frame=np.asarray(frames, dtype=np.int32).reshape(n),
    )


def frame_pairs(
    frames: Sequence[np.ndarray],
    landmarks: Sequence[np.ndarray | None],
    clip: str,
    max_error: float = MAX_FB_ERROR,
    points_used: np.ndarray = REGISTERED,
) -> RegistrationPairs:
    """The registration pairs of one clip: every frame t with landmarks, and frame t+1.

    Args:
        frames: ``T`` RGB frames of one clip, in order.
        landmarks: ``T`` arrays of ``(68, 2|3)`` teacher landmarks in image pixels, ``None``
            where the frame has no face.
        clip: The clip's name (stored with each pair).
        max_error: Forward-backward limit of :func:`track_points` (full-frame pixels).
        points_used: ``(68,)`` bool, the landmarks that may count (:data:`REGISTERED`); the
            others are never ``valid``.

    Returns:
        The pairs (none where frame t has no landmarks or t is the last frame).
    """
    if len(frames) != len(landmarks):
        raise ValueError(f"{len(frames)} frames but {len(landmarks)} landmark sets")
    grey = [cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2GRAY) for frame in frames]
    first, second, flow, valid, index = [], [], [], [], []
    for t in range(len(frames) - 1):
        points = landmarks[t]
        if points is None:
            continue
        points = np.asarray(points, dtype=np.float64)[:, :2]
        box = crop_box_from_landmarks(points)
        moved, ok = track_points(grey[t], grey[t + 1], points, max_error)
        start_crop = image_to_crop(points, box)
        moved_crop = image_to_crop(moved, box)
        wide = scale_box(box, STORED_SIZE / CROP_SIZE)
        first.append(crop_image(frames[t], wide, STORED_SIZE))
        second.append(crop_image(frames[t + 1], wide, STORED_SIZE))
        flow.append(moved_crop - start_crop)
        valid.append(ok & points_used)
        index.append(t)
    return _stacked_pairs(first, second, flow, valid, [clip] * len(index), index)


def synthetic_pairs(
    targets: Targets,
    model: MorphableModel,
    indices: Sequence[int],
    seed: int = 0,
    turn: tuple[float, float] = SYNTHETIC_TURN,
    step: tuple[float, float] = SYNTHETIC_STEP,
    progress: Progress = no_progress,
) -> RegistrationPairs:
    """Registration pairs from photos: each fitted face turned a little between two frames
    (3D face profiling, :func:`morph3d.training.profiling.motion_pair`).

    The first frame turns the face by a random ``(yaw, pitch)`` within +- ``turn`` degrees, the
    second by up to +- ``step`` more; both are rendered over the first frame's box. The flow is
    exact (the model's landmarks of the two turned faces), every point valid: no optical flow
    is needed where the motion is known.

    Args:
        targets: Fitted faces (dense or sparse; photos or views).
        model: The morphable model they were fitted with.
        indices: The faces to use (training faces only: the pairs teach the network).
        seed: Seed of the turns.
        turn: Largest first-frame yaw and pitch turn, degrees.
        step: Largest further turn to the second frame, degrees.
        progress: Wraps the faces to show progress.
    """
    config = ProfileConfig()
    lines = contour_lines(model)
    rng = np.random.default_rng(seed)
    first, second, flow = [], [], []
    chosen = [int(i) for i in indices]
    for index in progress(chosen, desc="turning faces", total=len(chosen), unit="face"):
        start = rng.uniform(-1, 1, 2) * turn
        end = start + rng.uniform(-1, 1, 2) * step
        one, two, params_one, params_two, _ = motion_pair(
            model, targets.image[index], targets.params[index], targets.crop_box[index],
            (float(start[0]), float(start[1])), (float(end[0]), float(end[1])), config, lines,
        )  # fmt: skip
        first.append(one)
        second.append(two)
        landmarks = model.landmarks(np.stack([params_one, params_two]))[..., :2]
        flow.append(landmarks[1] - landmarks[0])
    n = len(chosen)
    clips = [f"turned:{targets.name[i]}" for i in chosen]
    return _stacked_pairs(first, second, flow, [np.ones(68, bool)] * n, clips, [0] * n)


def concatenate_pairs(parts: Sequence[RegistrationPairs]) -> RegistrationPairs:
    """All pairs of several clips in one set, in order."""
    if not parts:
        raise ValueError("no registration pairs to join")
    return RegistrationPairs(
        first=np.concatenate([part.first for part in parts]),
        second=np.concatenate([part.second for part in parts]),
        flow=np.concatenate([part.flow for part in parts]),
        valid=np.concatenate([part.valid for part in parts]),
        clip=[name for part in parts for name in part.clip],
        frame=np.concatenate([part.frame for part in parts]),
    )


_ARRAYS = (("first", np.uint8), ("second", np.uint8), ("flow", np.float32), ("valid", bool))


def write_pairs(path: str | os.PathLike[str], pairs: RegistrationPairs) -> Path:
    """Write pairs to an HDF5 file atomically (a temporary file renamed into place)."""
    import h5py

    with atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as out:
            for name, dtype in _ARRAYS:
                data = np.asarray(getattr(pairs, name), dtype=dtype)
                chunks = (1, *data.shape[1:]) if data.ndim == 4 and len(data) else None
                out.create_dataset(name, data=data, chunks=chunks)
            text = h5py.string_dtype("utf-8")
            out.create_dataset("clip", data=np.asarray(pairs.clip, dtype=object), dtype=text)
            out.create_dataset("frame", data=np.asarray(pairs.frame, dtype=np.int32))
            out.attrs["kind"] = "registration pairs"
    return Path(path)


def read_pairs(path: str | os.PathLike[str]) -> RegistrationPairs:
    """Read a file written by :func:`write_pairs` into memory.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a registration pairs file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no registration pairs at {path}; make them with scripts/make_registration.py"
        )
    with h5py.File(path, "r") as source:
        if source.attrs.get("kind") != "registration pairs":
            raise ValueError(f"{path} is not a registration pairs file")
        arrays = {name: source[name][()] for name, _ in _ARRAYS}
        clips = [v.decode() if isinstance(v, bytes) else str(v) for v in source["clip"][()]]
        frames = source["frame"][()]
    return RegistrationPairs(clip=clips, frame=frames, **arrays)


def pair_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation stream of pair ``index`` in ``epoch`` (apart from every face's stream,
    :func:`morph3d.training.batches.face_rng`, by its spawn key)."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch], spawn_key=(index, 0, 1)))


class RegisteredPairs(Dataset[PairSample]):
    """Registration pairs, augmented afresh in every epoch.

    Frame t is cut through a random similarity of ``augment``, frame t+1 through one near it
    (:meth:`Similarity.nearby`, as a tracker's next crop), each with its own photometry; no
    padding paint (the stored boxes of video frames rarely leave the frame).

    Args:
        pairs: The pairs.
        augment: The augmentation ranges.
        input_size: Side of the network input in pixels.
        seed: The run's seed.
    """

    def __init__(
        self, pairs: RegistrationPairs, augment: AugmentConfig, input_size: int, seed: int
    ) -> None:
        self.pairs = pairs
        self.augment = augment
        self.input_size = input_size
        self.seed = seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> PairSample:
        """Pair ``index`` in ``epoch``, for ``key = (epoch, index)``."""
        epoch, index = key
        rng = pair_rng(self.seed, epoch, index)
        similarity = Similarity.random(rng, self.augment)
        near = similarity.nearby(rng, PAIR_ANGLE, PAIR_SCALE, PAIR_SHIFT)
        images, undo = [], []
        views = ((self.pairs.first[index], similarity), (self.pairs.second[index], near))
        for stored, view in views:
            images.append(photometric(warp_crop(stored, view, self.input_size), rng, self.augment))
            undo.append(view.frame_to_source())
        return np.stack(images), np.stack(undo), self.pairs.flow[index], self.pairs.valid[index]


def collate_pairs(samples: Sequence[PairSample]) -> PairBatch:
    """Stack samples into a :data:`PairBatch`."""
    images, undo, flow, valid = zip(*samples, strict=True)
    views = np.stack(images)  # (b, 2, S, S, 3)
    maps = np.stack(undo)  # (b, 2, 3, 3)
    return (
        to_input(np.concatenate([views[:, 0], views[:, 1]])),
        torch.as_tensor(np.concatenate([maps[:, 0], maps[:, 1]]), dtype=torch.float32),
        torch.as_tensor(np.stack(flow), dtype=torch.float32),
        torch.as_tensor(np.stack(valid), dtype=torch.bool),
    )


class PairBatches(Sampler[list[tuple[int, int]]]):
    """``steps`` global batches of ``batch_size`` pairs per epoch, drawn without replacement
    while the pairs last (then a new permutation), this rank's part of each.

    Args:
        count: Number of pairs.
        batch_size: Pairs per global batch.
        steps: Batches per epoch (the number of face batches).
        seed: The run's seed.
        world: The processes.
    """

    def __init__(
        self, count: int, batch_size: int, steps: int, seed: int, world: World | None = None
    ) -> None:
        if count < 1 or batch_size < 1:
            raise ValueError(f"need pairs and a batch size, got {count} pairs, batch {batch_size}")
        self.count, self.batch_size, self.steps, self.seed = count, batch_size, steps, seed
        self.world = World() if world is None else world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The 0-based epoch that the next iteration draws."""
        self.epoch = epoch

    def global_batches(self, epoch: int) -> list[np.ndarray]:
        """The epoch's global batches of pair indices."""
        rng = np.random.default_rng([self.seed, epoch, 1])
        needed = self.steps * self.batch_size
        rounds = -(-needed // self.count)
        order = np.concatenate([rng.permutation(self.count) for _ in range(rounds)])
        return [order[k * self.batch_size : (k + 1) * self.batch_size] for k in range(self.steps)]

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.global_batches(self.epoch):
            yield [(self.epoch, int(i)) for i in shard(batch, self.world)]


def pair_loader(
    dataset: RegisteredPairs, sampler: PairBatches, workers: int, pin_memory: bool = False
) -> DataLoader[PairSample]:
    """A ``DataLoader`` over ``dataset`` in ``sampler``'s batches (see
    :func:`morph3d.training.batches.face_loader`, whose settings it shares)."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_pairs,
        pin_memory=pin_memory,
        **loader_settings(workers),
    )
