"""Training the coefficient regressor.

Data: a targets file from ``scripts/fit_3dmm.py`` (:mod:`morph3d.training.targets`). Each epoch
draws a new random augmentation for every training face (:mod:`morph3d.training.augment`); the
targets are the fitted model's 68 landmarks moved by the same transform. The network predicts
whitened parameters; the decoder turns them into landmarks and the Wing loss compares them in crop
pixels.

**Sparse faces** (``targets.sparse``, e.g. AFLW's 21 points, :mod:`morph3d.training.targets`):
their loss is the same Wing (or L2) loss on the visible annotated points only, the predicted
landmarks mapped to the 21-point scheme (:func:`morph3d.core.landmarks21.to_aflw21`, ear lobes
left out) against the annotation moved by the same augmentation, in crop pixels; dense faces
keep the loss on the 68 landmarks. A batch mixes both, one mask per point. Validation NME
(``val_nme``, which picks the best epoch) stays on the dense faces; ``val_nme_sparse`` is the
NME on the sparse faces' visible points, normalised by the box of their fitted landmarks.

**Validation split** (:func:`morph3d.io.datasets.split_indices`): a face is held out by a hash of
its photo's name, so all faces of one photo fall on the same side.

**Stability and distillation.** With ``consistency`` each face is seen in two views whose
landmarks must agree once the augmentations are undone; with ``registration`` a batch of
registration pairs (:mod:`morph3d.training.registration`: consecutive video frames, or a photo
turned a little) rides along, frame t's landmarks moved by the measured flow pulled toward frame
t+1's; with ``distill`` the network also learns a teacher regressor's landmarks on every crop.

Every epoch writes an atomic checkpoint (model, optimiser, schedule, history) that ``resume``
continues from, the best weights so far, a CSV/JSON log and a PNG of the curves.

**Several processes** (``torchrun``, :mod:`morph3d.training.distributed`): the network is
wrapped in ``DistributedDataParallel``; ``batch_size`` is the global batch, which every step
splits across the ranks (:mod:`morph3d.training.batches`). Each rank's loss is its faces' sum
scaled by ``world_size / global batch``, so DDP's average of the gradients is the gradient of
the global batch's mean loss, what one process computes. With ``sync_batchnorm`` (default)
BatchNorm normalises with the global batch's statistics too, so W processes train as one does
(up to float32 rounding, see ``tests/training/test_distributed.py``); without it each rank
normalises its own part of the batch (faster; torchvision's reference recipes' default).
Validation is split across the ranks and gathered, so every rank holds the same history; rank
0 alone writes files.
Every rank resumes from the same ``checkpoint.pt`` (on several machines the run folder must be
shared storage; ranks that read different epochs stop with an error).

**On CUDA** the batches come in pinned memory, the network runs under bf16 autocast (``bf16``;
the decoder and the loss stay float32) and, with ``channels_last``, in that memory format.
``channels_last`` applies on the CPU too, where oneDNN's convolutions run faster in it (width 1.0,
batch 64, one thread: 65 against 55 img/s for a training step); bf16 autocast did not help there
(54 img/s), so it stays CUDA-only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader

from morph3d.core.crop import CROP_SIZE
from morph3d.core.decoder import Decoder
from morph3d.core.landmarks21 import FITTED_21, sparse_nme, to_aflw21
from morph3d.core.landmarks68 import MIRROR
from morph3d.core.losses import l2_loss, wing_loss
from morph3d.core.marching import march_landmarks
from morph3d.core.metrics import landmark_box_size, nme
from morph3d.core.model import MorphableModel
from morph3d.core.pose import turned_by
from morph3d.errors import ModelFormatError
from morph3d.files import atomic_path, write_json
from morph3d.inference.network import Regressor, to_input
from morph3d.io.datasets import split_indices
from morph3d.progress import Progress, no_progress
from morph3d.training.augment import AugmentConfig, Similarity, centre_crop, warp_pose
from morph3d.training.batches import (
    AugmentedFaces,
    FaceBatch,
    ShardedBatches,
    collate_faces,
    face_loader,
)
from morph3d.training.distributed import (
    World,
    all_gather_objects,
    all_sum,
    barrier,
    current_world,
    device_for,
    sync_batchnorm,
)
from morph3d.training.registration import PairBatches, RegisteredPairs, pair_loader, read_pairs
from morph3d.training.targets import Targets, concatenate_targets

__all__ = [
    "TrainConfig",
    "Trainer",
    "mirror_crop_landmarks",
    "read_checkpoint",
    "target_statistics",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (every field is a command-line option of scripts/train.py).

    Attributes:
        width: ShuffleNetV2 width (0.5, 1.0, 1.5, 2.0).
        input_size: Side of the network input in pixels (the crop frame stays 120 units).
        epochs: Number of epochs.
        batch_size: Faces per optimiser step, all processes together (the global batch; each
            of W processes takes B / W of them). The same batch size and seed train the same
            way on any number of processes, so nothing rescales ``lr``; raising the batch
            k-fold, scale ``lr`` by sqrt(k) (the square-root rule for Adam).
        lr: Adam's learning rate.
        schedule: ``"constant"`` (the reference recipe, default) or ``"cosine"`` (decay to 1%
            of ``lr`` over the run). In a 40-epoch comparison (width 1.0, seed 0) cosine did not
            help: best validation NME 5.46 against 5.20 with a constant rate.
        loss: ``"wing"`` (w = 10, eps = 2) or ``"l2"``, on the 68 landmarks (x, y).
        val_fraction: Share of photos held out for validation.
        seed: Seed of the initialisation, the order and the augmentation.
        device: ``"cpu"`` or ``"cuda"`` (under torchrun: each process's ``LOCAL_RANK`` GPU).
        threads: Torch intra-op threads on the CPU (per process).
        workers: Data-loading processes per training process (0: load in the training
            process itself).
        bf16: On CUDA, run the network under bfloat16 autocast (ignored on the CPU).
        channels_last: Keep the network and its input in channels-last memory format (on
            CUDA and on the CPU alike).
        sync_batchnorm: Under several processes, BatchNorm statistics of the whole global
            batch (PyTorch's ``SyncBatchNorm`` on CUDA, morph3d's ``GlooSyncBatchNorm`` on
            the CPU) instead of each process's part: the same training as one process, for
            two small all-reduces per BatchNorm layer and step.
        consistency: Weight of the consistency loss (0: off). Each face is seen in two views
            (:mod:`morph3d.training.batches`); both views' landmarks, mapped back to the
            stored crop, are pulled together by the landmark loss between them, so the network
            learns to give one answer for one face under noise and re-cropping. The landmark
            loss is then the mean of the two views'.
        registration: Weight of the registration loss on video pairs (0: off;
            :mod:`morph3d.training.registration`): frame t's landmarks moved by the optical
            flow against frame t+1's, on the points whose flow passed the forward-backward
            check.
        registration_data: The registration pairs file (``scripts/make_registration.py``),
            needed when ``registration`` is on.
        registration_batch: Video pairs per optimiser step (all processes together), on top
            of the ``batch_size`` faces.
        teacher: A regressor state dict (any width) whose landmarks the network also learns
            (knowledge distillation, e.g. a small fast network from the shipped x1.0); it sees
            every crop the network sees, resized to ``teacher_input`` pixels.
        distill: Weight of the landmark loss toward the teacher's landmarks (0: off).
        teacher_input: Side of the teacher's input in pixels.
        teacher_flip: Learn the teacher's flip-averaged landmarks: the mean of its landmarks on
            the crop and, mirrored back, on the crop flipped left to right (how inference runs
            a network, :class:`~morph3d.inference.flip.FlipAveraged`); twice the teacher's runs.
        init: A regressor state dict to start from (same width), e.g. the shipped weights;
            its output layer is re-expressed for this run's statistics
            (:meth:`~morph3d.inference.network.Regressor.rewhiten`), so the run starts from
            that network's predictions. Empty: a fresh network.
        min_yaw: Train and validate only on the faces whose target |yaw| is at least this many
            degrees (0: every face): a large-pose specialist
            (:mod:`morph3d.inference.specialist`), whose faces another network sends it.
        augment: Augmentation ranges.
    """

    width: float = 1.0
    input_size: int = CROP_SIZE
    epochs: int = 150
    batch_size: int = 32
    lr: float = 1e-3
    schedule: Literal["constant", "cosine"] = "constant"
    loss: Literal["wing", "l2"] = "wing"
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"
    threads: int = 2
    workers: int = 2
    bf16: bool = True
    channels_last: bool = False
    sync_batchnorm: bool = True
    consistency: float = 0.0
    registration: float = 0.0
    registration_data: str = ""
    registration_batch: int = 8
    teacher: str = ""
    distill: float = 0.0
    teacher_input: int = CROP_SIZE
    teacher_flip: bool = False
    init: str = ""
    min_yaw: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.min_yaw < 90:
            raise ValueError(f"min_yaw must be in [0, 90) degrees, got {self.min_yaw}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(values)
        values["augment"] = AugmentConfig(**values.get("augment", {}))
        return cls(**values)


def mirror_crop_landmarks(points: torch.Tensor) -> torch.Tensor:
    """``(B, 68, 2|3)`` crop-frame landmarks of faces in crops flipped left to right -> the
    landmarks of the unflipped faces: ``x -> CROP_SIZE + 1 - x`` (the 1-based crop frame, as
    :func:`~morph3d.training.augment.warp_landmarks` flips) and the rows in
    :data:`~morph3d.core.landmarks68.MIRROR` order."""
    out = points[:, list(MIRROR)].clone()
    out[..., 0] = CROP_SIZE + 1 - out[..., 0]
    return out


def read_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint of :meth:`Trainer.save_checkpoint`, loaded with ``weights_only``.

    Raises:
        ModelFormatError: the file is truncated, not a torch file, or lacks a checkpoint's keys.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # EOFError, RuntimeError, UnpicklingError, ... from torch
        reason = f"not a readable checkpoint ({type(error).__name__})"
        raise ModelFormatError(path, reason) from error
    keys = {"epoch", "best", "config", "network", "optimizer", "scheduler", "history"}
    if not isinstance(state, dict) or not keys <= set(state):
        raise ModelFormatError(path, "not a morph3d training checkpoint")
    return state


def target_statistics(
    params: np.ndarray, config: AugmentConfig, seed: int = 0, draws: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the parameters the network is trained to output.

    Shape and expression statistics are those of the fitted targets; the pose statistics are
    those of the fitted poses moved by random augmentations (a mirror negates the pose
    entries that change sign under ``x -> -x``, as for a symmetric face). A constant entry
    (the depth translation) gets a standard deviation of 1.

    Args:
        params: ``(N, 62)`` fitted raw parameters of the training faces.
        config: The augmentation ranges.
        seed: Seed of the sampled augmentations.
        draws: Augmentations sampled per face.
    """
    rng = np.random.default_rng(seed)
    poses = []
    mirror = np.diag([-1.0, 1.0, 1.0])
    for pose in np.asarray(params, dtype=np.float64)[:, :12].reshape(-1, 3, 4):
        for _ in range(draws):
            similarity = Similarity.random(rng, config)
            moved = warp_pose(pose, dataclasses.replace(similarity, flip=False))
            if similarity.flip:
                moved[:, :3] = moved[:, :3] @ mirror
                moved[0, :3] *= -1
                moved[0, 3] = CROP_SIZE + 1 - moved[0, 3]
            poses.append(moved.reshape(12))
    pose_array = np.asarray(poses)
    mean = np.concatenate([pose_array.mean(axis=0), params[:, 12:].mean(axis=0)])
    std = np.concatenate([pose_array.std(axis=0), params[:, 12:].std(axis=0)])
    return mean, np.where(std > 0, std, 1.0)


class Trainer:
    """Trains a :class:`~morph3d.inference.network.Regressor` on a targets file.

    Args:
        targets: The training targets (all faces; the split is made here), or several
            (e.g. 300W and AFLW), concatenated in order.
        model: The morphable model the targets were fitted with.
        config: Training settings.
        run_dir: Folder of the checkpoint, best weights, logs and curves (rank 0 writes it).
        world: The processes training together (default: those of the initialised process
            group, see :func:`morph3d.training.distributed.distributed_session`; one
            process without one).

    Raises:
        ValueError: ``init`` has another width, the global batch is smaller than the number
            of processes, ``workers`` is negative, ``registration`` is on without pairs or
            ``distill`` without a teacher.
        FileNotFoundError: no registration pairs file where ``registration_data`` says.
    """

    def __init__(
        self,
        targets: Targets | Sequence[Targets],
        model: MorphableModel,
        config: TrainConfig,
        run_dir: Path,
        world: World | None = None,
    ) -> None:
        if not isinstance(targets, Targets):
            targets = concatenate_targets(list(targets))
        self.targets = targets
        self.model = model
        self.config = config
        self.run_dir = Path(run_dir)
        self.world = current_world() if world is None else world
        self.device = device_for(config.device, self.world)
        cuda = self.device.type == "cuda"
        if config.device == "cpu":
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.network = Regressor(config.width, model.layout.size)
        self.train_index, self.val_index = split_indices(targets.name, config.val_fraction)
        if config.min_yaw > 0:
            turned = turned_by(targets.params[:, :12], config.min_yaw)
            self.train_index = self.train_index[turned[self.train_index]]
            self.val_index = self.val_index[turned[self.val_index]]
        statistics = target_statistics(
            targets.params[self.train_index], config.augment, config.seed
        )
        if config.init:
            from morph3d.inference.torch_predictor import load_regressor

            start = load_regressor(config.init)
            if start.width != self.network.width:
                raise ValueError(
                    f"--init {config.init} is width {start.width}, this run {config.width}"
                )
            self.network.load_state_dict(start.state_dict())
            self.network.rewhiten(*statistics)
        else:
            self.network.set_statistics(*statistics)
        self.channels_last = config.channels_last
        self.network.to(self.device)
        if self.channels_last:
            self.network.to(memory_format=torch.channels_last)
        self.decoder = Decoder(model).to(self.device)
        if config.consistency < 0:
            raise ValueError(f"--consistency must be 0 or more, got {config.consistency}")
        self.views = 2 if config.consistency > 0 else 1
        self.sampler = ShardedBatches(
            self.train_index, config.batch_size, config.seed, self.world, self.views
        )
        self.dataset = AugmentedFaces(targets, config.augment, config.input_size, config.seed)
        self.loader = face_loader(self.dataset, self.sampler, config.workers, pin_memory=cuda)
        self.pair_sampler: PairBatches | None = None
        self.pair_loader: DataLoader[Any] | None = None
        if config.registration < 0:
            raise ValueError(f"--registration must be 0 or more, got {config.registration}")
        if config.registration > 0:
            if not config.registration_data:
                raise ValueError("--registration needs --registration-data (a pairs file)")
            pairs = read_pairs(config.registration_data)
            self.pair_sampler = PairBatches(
                len(pairs), config.registration_batch, len(self.sampler), config.seed, self.world
            )
            self.pair_loader = pair_loader(
                RegisteredPairs(pairs, config.augment, config.input_size, config.seed),
                self.pair_sampler,
                config.workers,
                pin_memory=cuda,
            )
        self.teacher: Regressor | None = None
        if config.distill < 0:
            raise ValueError(f"--distill must be 0 or more, got {config.distill}")
        if config.distill > 0:
            if not config.teacher:
                raise ValueError("--distill needs --teacher (a regressor state dict)")
            from morph3d.inference.torch_predictor import load_regressor

            self.teacher = load_regressor(config.teacher).to(self.device).eval()
            for parameter in self.teacher.parameters():
                parameter.requires_grad_(False)
        self.train_network = self._parallel(self.network)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr)
        steps = max(1, len(self.sampler)) * config.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, self._schedule_factor(steps)
        )
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.best = math.inf

    def _parallel(self, network: Regressor) -> torch.nn.Module:
        """The module the training steps run: ``network`` itself, or its DDP wrapper (which
        shares its parameters) when several processes train."""
        if not self.world.distributed:
            return network
        from torch.nn.parallel import DistributedDataParallel

        if self.config.sync_batchnorm:
            sync_batchnorm(network, self.device)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=device_ids)

    def _schedule_factor(self, steps: int) -> Callable[[int], float]:
        if self.config.schedule == "constant":
            return lambda step: 1.0
        return lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))

    @property
    def batch_size_per_rank(self) -> int:
        """The most faces a process takes from a global batch (``ceil(B / W)``)."""
        return math.ceil(self.config.batch_size / self.world.world_size)

    # -- checkpoints ---------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        """``run_dir/checkpoint.pt``: everything needed to resume."""
        return self.run_dir / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        """``run_dir/best.pt``: state dict of the network with the best validation NME."""
        return self.run_dir / "best.pt"

    def save_checkpoint(self) -> None:
        """Write the checkpoint atomically (in a distributed run, :meth:`fit` calls it on
        rank 0 only)."""
        state = {
            "epoch": self.epoch,
            "best": self.best,
            "config": self.config.to_dict(),
            "world_size": self.world.world_size,
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
        }
        with atomic_path(self.checkpoint_path) as temporary:
            torch.save(state, temporary)

    def load_checkpoint(self, path: Path | None = None) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (``weights_only`` loading).

        Every process reads the same file; in a distributed run they then check that they
        all read the same epoch.

        Raises:
            ModelFormatError: the file is not a complete checkpoint.
            RuntimeError: the processes read checkpoints of different epochs.
        """
        state = read_checkpoint(path or self.checkpoint_path, self.device)
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"])
        self.best = float(state["best"])
        epochs = all_gather_objects(self.epoch, self.world)
        if len(set(epochs)) > 1:
            raise RuntimeError(
                f"the processes resumed from different checkpoints (epochs {epochs} by rank): "
                "on several machines the run folder must be on storage they all share"
            )

    # -- one epoch -----------------------------------------------------------------------------

    def _batch(self, indices: np.ndarray, epoch: int = 0) -> FaceBatch:
        """The augmented batch of faces ``indices`` in ``epoch`` (see
        :mod:`morph3d.training.batches`), built in this process."""
        return collate_faces([self.dataset[(epoch, int(i))] for i in indices])

    def _landmarks(self, whitened: torch.Tensor) -> torch.Tensor:
        """``(B, 68, 2)`` crop-frame landmarks (x, y) of ``(B, 62)`` network outputs."""
        return self.decoder.landmarks(self.network.denormalize(whitened))[..., :2]

    def _face_losses(
        self,
        whitened: torch.Tensor,
        target: torch.Tensor,
        sparse_target: torch.Tensor | None = None,
        sparse: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B,)`` landmark loss of each face (see the module docstring).

        Args:
            whitened: ``(B, 62)`` network output.
            target: ``(B, 68, 2|3)`` landmark targets of dense faces (crop frame).
            sparse_target: ``(B, 21, 2)`` sparse targets, NaN where not visible.
            sparse: ``(B,)`` bool, which faces are sparse (default: none).
        """
        return self._point_losses(self._landmarks(whitened), target, sparse_target, sparse)

    @property
    def _landmark_loss(self) -> Callable[..., torch.Tensor]:
        """The configured landmark loss function (``wing_loss`` or ``l2_loss``)."""
        return wing_loss if self.config.loss == "wing" else l2_loss

    def _point_losses(
        self,
        predicted: torch.Tensor,
        target: torch.Tensor,
        sparse_target: torch.Tensor | None = None,
        sparse: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """:meth:`_face_losses` of decoded ``(B, 68, 2)`` landmarks (:meth:`_landmarks`)."""
        loss = self._landmark_loss
        dense_loss = loss(predicted, target[..., :2], reduction="none")  # (B,)
        if sparse is None or not bool(sparse.any()):
            return dense_loss
        assert sparse_target is not None
        points = to_aflw21(predicted)  # (B, 21, 2)
        usable = torch.as_tensor(np.array(FITTED_21), device=points.device)
        mask = (torch.isfinite(sparse_target).all(dim=-1) & usable)[..., None]  # (B, 21, 1)
        # Masked coordinates compare 0 with 0: no loss and no gradient.
        sparse_loss = loss(
            torch.where(mask, points, 0.0),
            torch.where(mask, sparse_target, 0.0),
            reduction="none",
        )
        return torch.where(sparse, sparse_loss, dense_loss)

    def _loss(
        self,
        whitened: torch.Tensor,
        target: torch.Tensor,
        sparse_target: torch.Tensor | None = None,
        sparse: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean over faces of :meth:`_face_losses` (same arguments)."""
        return self._face_losses(whitened, target, sparse_target, sparse).mean()

    def _agreement_losses(
        self,
        predicted: torch.Tensor,
        undo: torch.Tensor,
        flow: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(b,)`` landmark loss between the two views of each face (consistency) or of each
        video pair (registration), both mapped back to the stored crop's frame.

        Args:
            predicted: ``(2b, 68, 2)`` landmarks (:meth:`_landmarks`): every face's first view,
                then its second.
            undo: ``(2b, 3, 3)`` maps from each view's crop frame to the stored crop's frame.
            flow: ``(b, 68, 2)`` how far each landmark moved from the first view's image to
                the second's (stored crop frame); none: the same image.
            valid: ``(b, 68)`` the points that count (default: all).
        """
        back = predicted @ undo[:, :2, :2].transpose(1, 2) + undo[:, None, :2, 2]
        first, second = back.chunk(2)
        if flow is not None:
            first = first + flow
        if valid is not None:
            # Left-out points compare 0 with 0: no loss and no gradient.
            mask = valid[..., None]
            first, second = torch.where(mask, first, 0.0), torch.where(mask, second, 0.0)
        return self._landmark_loss(first, second, reduction="none")

    @torch.no_grad()
    def _teacher_landmarks(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 68, 2)`` the teacher's landmarks (crop frame) of ``(B, 3, S, S)`` inputs."""
        assert self.teacher is not None
        size = self.config.teacher_input
        if images.shape[-1] != size:
            images = torch.nn.functional.interpolate(
                images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        if self.config.teacher_flip:
            images = torch.cat([images, images.flip(-1)])
        with self._autocast():
            whitened = self.teacher(images).float()
        points = self.decoder.landmarks(self.teacher.denormalize(whitened))[..., :2]
        if not self.config.teacher_flip:
            return points
        own, flipped = points.chunk(2)
        return (own + mirror_crop_landmarks(flipped)) / 2

    def _teacher_losses(self, images: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """``(B,)`` landmark loss of ``predicted`` ``(B, 68, 2)`` toward the teacher's
        landmarks of the same ``images``."""
        return self._landmark_loss(predicted, self._teacher_landmarks(images), reduction="none")

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.device.type == "cuda" and self.config.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, batch: FaceBatch) -> FaceBatch:
        images, target, sparse_target, sparse, undo = (
            tensor.to(self.device, non_blocking=True) for tensor in batch
        )
        return self._memory_format(images), target, sparse_target, sparse, undo

    def _memory_format(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def train_epoch(self, progress: Progress = no_progress) -> dict[str, float]:
        """Train one epoch; returns its loss (over all processes) and timing.

        ``images_per_second`` counts the faces of all processes over the epoch's wall time
        (a face seen in two views counts once); ``data_seconds`` is the time this process
        waited for its batches; with ``consistency``, ``train_consistency`` is the mean loss
        between the views; with ``registration``, ``train_registration`` is the mean loss
        between the video pairs' frames.
        """
        world = self.world
        self.sampler.set_epoch(self.epoch)
        pairs: Iterator[Any] = iter(())
        if self.pair_sampler is not None and self.pair_loader is not None:
            self.pair_sampler.set_epoch(self.epoch)
            pairs = iter(self.pair_loader)
        batches = self.sampler.global_batches(self.epoch)
        self.network.train()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        agreement = torch.zeros((), dtype=torch.float64, device=self.device)
        registered = torch.zeros((), dtype=torch.float64, device=self.device)
        learned = torch.zeros((), dtype=torch.float64, device=self.device)
        data_time, step_time = 0.0, 0.0
        started = waited = time.perf_counter()
        steps = progress(
            zip(batches, self.loader, strict=True),
            desc=f"epoch {self.epoch + 1}",
            total=len(batches),
            unit="batch",
        )
        for faces, batch in steps:
            images, target, sparse_target, sparse, undo = self._to_device(batch)
            face_images = images
            pair = next(pairs, None)
            if pair is not None:
                pair_images, pair_undo, flow, valid = (
                    tensor.to(self.device, non_blocking=True) for tensor in pair
                )
                # One forward for faces and pairs: BatchNorm sees them as one batch.
                images = torch.cat([images, self._memory_format(pair_images)])
            loaded = time.perf_counter()
            with self._autocast():
                whitened = self.train_network(images).float()
            predicted = self._landmarks(whitened)
            if pair is not None:
                predicted, pair_predicted = predicted.split([len(undo), len(pair_undo)])
            losses = self._point_losses(predicted, target, sparse_target, sparse)  # (views * b,)
            per_view = losses
            if self.teacher is not None:
                taught = self._teacher_losses(face_images, predicted)
                learned += taught.detach().sum()
                per_view = losses + self.config.distill * taught
            if self.views == 2:
                consistent = self._agreement_losses(predicted, undo)
                agreement += consistent.detach().sum()
                losses = losses.view(2, -1).mean(dim=0)
                objective = per_view.view(2, -1).mean(dim=0) + self.config.consistency * consistent
            else:
                objective = per_view
            # DDP averages the ranks' gradients: this scale makes the average the gradient
            # of the global batch's mean loss, whatever the split (W = 1: the mean).
            loss = objective.sum() * (world.world_size / len(faces))
            if pair is not None:
                pair_losses = self._agreement_losses(pair_predicted, pair_undo, flow, valid)
                registered += pair_losses.detach().sum()
                scale = world.world_size / self.config.registration_batch
                loss = loss + self.config.registration * pair_losses.sum() * scale
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total += losses.detach().sum()
            done = time.perf_counter()
            data_time += loaded - waited
            step_time += done - loaded
            waited = done
        elapsed = time.perf_counter() - started
        loss_sum, agreement_sum, registered_sum, learned_sum, elapsed_sum = all_sum(
            [float(total), float(agreement), float(registered), float(learned), elapsed], world
        )
        count = sum(len(faces) for faces in batches)
        row = {
            "train_loss": loss_sum / max(count, 1),
            "images_per_second": count / max(elapsed_sum / world.world_size, 1e-9),
            "data_seconds": data_time,
            "step_seconds": step_time,
        }
        if self.views == 2:
            row["train_consistency"] = agreement_sum / max(count, 1)
        if self.teacher is not None:
            row["train_distill"] = learned_sum / max(count * self.views, 1)
        if self.pair_sampler is not None:
            row["train_registration"] = registered_sum / max(
                len(batches) * self.config.registration_batch, 1
            )
        return row

    # -- validation ----------------------------------------------------------------------------

    @torch.inference_mode()
    def predict_stored(self, indices: np.ndarray) -> np.ndarray:
        """Raw parameters predicted from the un-augmented crops of the given faces.

        In a distributed run every process predicts every W-th face and all receive all.
        """
        world = self.world
        self.network.eval()
        mine = np.asarray(indices)[world.rank :: world.world_size]
        out = [np.zeros((0, self.model.layout.size))]
        for start in range(0, len(mine), 64):
            part = mine[start : start + 64]
            crops = np.stack(
                [centre_crop(self.targets.image[i], self.config.input_size) for i in part]
            )
            images = to_input(crops).to(self.device)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            whitened = self.network(images)
            out.append(self.network.denormalize(whitened).double().cpu().numpy())
        if not world.distributed:
            return np.concatenate(out)
        params = np.zeros((len(indices), self.model.layout.size))
        for rank, rows in enumerate(all_gather_objects(np.concatenate(out), world)):
            params[rank :: world.world_size] = rows
        return params

    def validate(self) -> dict[str, float]:
        """Validation NME (bbox, %) of the dense photos (profiled views left out): against the
        annotation (jaw marched where it follows the outline) and against the fitted model
        landmarks; and ``val_nme_sparse`` on the sparse faces' visible points."""
        is_sparse = self.targets.sparse[self.val_index]
        figures: dict[str, float] = {}
        sparse_index = self.val_index[is_sparse]
        if len(sparse_index):
            params = self.predict_stored(sparse_index)
            annotated = self.targets.sparse_points[sparse_index]
            visible = np.all(np.isfinite(annotated), axis=-1) & FITTED_21
            size = landmark_box_size(self.targets.fit_landmarks[sparse_index])
            errors = sparse_nme(to_aflw21(self.model.landmarks(params)), annotated, visible, size)
            figures["val_nme_sparse"] = float(np.nanmean(errors))
        # Photos only: a profiled view's "annotation" is our own fit, not somebody's clicks.
        index = self.val_index[~is_sparse & ~self.targets.synthetic[self.val_index]]
        if len(index) == 0:
            return figures
        params = self.predict_stored(index)
        fixed = self.model.landmarks(params)
        marched = march_landmarks(self.model, params)
        silhouette = self.targets.silhouette_jaw[index].astype(bool)
        predicted = np.where(silhouette[:, None, None], marched, fixed)
        annotation = self.targets.annotation[index]
        return {
            "val_nme": float(nme(predicted[..., :2], annotation).mean()),
            "val_nme_fit": float(nme(fixed[..., :2], self.targets.model_landmarks[index]).mean()),
            **figures,
        }

    # -- the run -------------------------------------------------------------------------------

    def fit(self, progress: Progress = no_progress) -> list[dict[str, float]]:
        """Train from the current epoch to ``config.epochs``; returns the history.

        Every process trains; rank 0 alone writes the run folder, and the others wait for it
        at the end of every epoch, so that a checkpoint is complete before anyone goes on.
        """
        main = self.world.is_main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        while self.epoch < self.config.epochs:
            started = time.perf_counter()
            row: dict[str, float] = {"epoch": self.epoch + 1}
            row.update(self.train_epoch(progress if main else no_progress))
            row.update(self.validate())
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["world_size"] = self.world.world_size
            row["seconds"] = time.perf_counter() - started
            self.epoch += 1
            self.history.append(row)
            better = row.get("val_nme", math.inf) < self.best
            if better:
                self.best = row["val_nme"]
            if main:
                if better:
                    with atomic_path(self.best_path) as temporary:
                        torch.save(self.network.state_dict(), temporary)
                self.save_checkpoint()
                self.write_logs()
                logger.info("epoch %d: %s", self.epoch, json.dumps(row))
            barrier(self.world)
        return self.history

    def write_logs(self) -> None:
        """``log.json``, ``log.csv`` and ``curves.png`` in the run folder (in a distributed
        run, :meth:`fit` calls it on rank 0 only)."""
        write_json(
            self.run_dir / "log.json",
            {
                "config": self.config.to_dict(),
                "world_size": self.world.world_size,
                "batch_size_global": self.config.batch_size,
                "batch_size_per_rank": self.batch_size_per_rank,
                "history": self.history,
            },
        )
        keys = list(dict.fromkeys(key for row in self.history for key in row))
        lines = [",".join(keys)] + [
            ",".join(f"{row.get(key, '')}" for key in keys) for row in self.history
        ]
        with atomic_path(self.run_dir / "log.csv") as temporary:
            temporary.write_text("\n".join(lines) + "\n")
        from morph3d.training.curves import plot_training_curves

        plot_training_curves(self.history, self.run_dir / "curves.png")
