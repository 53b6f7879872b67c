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

Every epoch writes an atomic checkpoint (model, optimiser, schedule, history) that ``resume``
continues from, the best weights so far, a CSV/JSON log and a PNG of the curves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from morph3d.core.crop import CROP_SIZE
from morph3d.core.decoder import Decoder
from morph3d.core.landmarks21 import FITTED_21, MIRROR_21, sparse_nme, to_aflw21
from morph3d.core.losses import l2_loss, wing_loss
from morph3d.core.marching import march_landmarks
from morph3d.core.metrics import landmark_box_size, nme
from morph3d.core.model import MorphableModel
from morph3d.errors import ModelFormatError
from morph3d.files import atomic_path, write_json
from morph3d.inference.network import Regressor, to_input
from morph3d.io.datasets import split_indices
from morph3d.progress import Progress, no_progress
from morph3d.training.augment import (
    AugmentConfig,
    Similarity,
    centre_crop,
    photometric,
    warp_crop,
    warp_landmarks,
    warp_pose,
)
from morph3d.training.targets import Targets, concatenate_targets

__all__ = ["TrainConfig", "Trainer", "read_checkpoint", "target_statistics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (every field is a command-line option of scripts/train.py).

    Attributes:
        width: ShuffleNetV2 width (0.5, 1.0, 1.5, 2.0).
        input_size: Side of the network input in pixels (the crop frame stays 120 units).
        epochs: Number of epochs.
        batch_size: Faces per step.
        lr: Adam's learning rate.
        schedule: ``"constant"`` (the reference recipe, default) or ``"cosine"`` (decay to 1%
            of ``lr`` over the run). In a 40-epoch comparison (width 1.0, seed 0) cosine did not
            help: best validation NME 5.46 against 5.20 with a constant rate.
        loss: ``"wing"`` (w = 10, eps = 2) or ``"l2"``, on the 68 landmarks (x, y).
        val_fraction: Share of photos held out for validation.
        seed: Seed of the initialisation, the order and the augmentation.
        device: ``"cpu"`` or ``"cuda"``.
        threads: Torch intra-op threads on the CPU.
        init: A regressor state dict to start from (same width), e.g. the shipped weights;
            its output layer is re-expressed for this run's statistics
            (:meth:`~morph3d.inference.network.Regressor.rewhiten`), so the run starts from
            that network's predictions. Empty: a fresh network.
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
    init: str = ""
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(values)
        values["augment"] = AugmentConfig(**values.get("augment", {}))
        return cls(**values)


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
        run_dir: Folder of the checkpoint, best weights, logs and curves.
    """

    def __init__(
        self,
        targets: Targets | Sequence[Targets],
        model: MorphableModel,
        config: TrainConfig,
        run_dir: Path,
    ) -> None:
        if not isinstance(targets, Targets):
            targets = concatenate_targets(list(targets))
        self.targets = targets
        self.model = model
        self.config = config
        self.run_dir = Path(run_dir)
        self.device = torch.device(config.device)
        if config.device == "cpu":
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.network = Regressor(config.width, model.layout.size)
        self.train_index, self.val_index = split_indices(targets.name, config.val_fraction)
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
        self.network.to(self.device)
        self.decoder = Decoder(model).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.lr)
        steps = max(1, math.ceil(len(self.train_index) / config.batch_size)) * config.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, self._schedule_factor(steps)
        )
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.best = math.inf

    def _schedule_factor(self, steps: int) -> Callable[[int], float]:
        if self.config.schedule == "constant":
            return lambda step: 1.0
        return lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))

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
        """Write the checkpoint atomically."""
        state = {
            "epoch": self.epoch,
            "best": self.best,
            "config": self.config.to_dict(),
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
        }
        with atomic_path(self.checkpoint_path) as temporary:
            torch.save(state, temporary)

    def load_checkpoint(self, path: Path | None = None) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (``weights_only`` loading).

        Raises:
            ModelFormatError: the file is not a complete checkpoint.
        """
        state = read_checkpoint(path or self.checkpoint_path, self.device)
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"])
        self.best = float(state["best"])

    # -- one epoch -----------------------------------------------------------------------------

    def _batch(self, indices: np.ndarray, rng: np.random.Generator):
        """Augmented crops, ``(B, 68, 3)`` landmark targets, ``(B, 21, 2)`` sparse targets
        (NaN where not visible) and ``(B,)`` which faces are sparse."""
        images, landmarks, sparse_points = [], [], []
        config = self.config.augment
        for i in indices:
            # The steps of augment(), so that the sparse points move with the same similarity.
            similarity = Similarity.random(rng, config)
            crop = warp_crop(self.targets.image[i], similarity, self.config.input_size)
            images.append(photometric(crop, rng, config))
            landmarks.append(warp_landmarks(self.targets.model_landmarks[i], similarity))
            sparse = warp_landmarks(self.targets.sparse_points[i], similarity)
            sparse_points.append(sparse[MIRROR_21] if similarity.flip else sparse)
        return (
            to_input(np.stack(images)),
            torch.as_tensor(np.stack(landmarks), dtype=torch.float32),
            torch.as_tensor(np.stack(sparse_points), dtype=torch.float32),
            torch.as_tensor(self.targets.sparse[indices]),
        )

    def _loss(
        self,
        whitened: torch.Tensor,
        target: torch.Tensor,
        sparse_target: torch.Tensor | None = None,
        sparse: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean over faces of the landmark loss (see the module docstring).

        Args:
            whitened: ``(B, 62)`` network output.
            target: ``(B, 68, 2|3)`` landmark targets of dense faces (crop frame).
            sparse_target: ``(B, 21, 2)`` sparse targets, NaN where not visible.
            sparse: ``(B,)`` bool, which faces are sparse (default: none).
        """
        predicted = self.decoder.landmarks(self.network.denormalize(whitened))[..., :2]
        loss = wing_loss if self.config.loss == "wing" else l2_loss
        if sparse is None or not bool(sparse.any()):
            return loss(predicted, target[..., :2])
        assert sparse_target is not None
        dense_loss = loss(predicted, target[..., :2], reduction="none")  # (B,)
        points = to_aflw21(predicted)  # (B, 21, 2)
        usable = torch.as_tensor(np.array(FITTED_21), device=points.device)
        mask = (torch.isfinite(sparse_target).all(dim=-1) & usable)[..., None]  # (B, 21, 1)
        # Masked coordinates compare 0 with 0: no loss and no gradient.
        sparse_loss = loss(
            torch.where(mask, points, 0.0),
            torch.where(mask, sparse_target, 0.0),
            reduction="none",
        )
        return torch.where(sparse, sparse_loss, dense_loss).mean()

    def train_epoch(self, progress: Progress = no_progress) -> dict[str, float]:
        """Train one epoch; returns its loss and timing."""
        config = self.config
        rng = np.random.default_rng([config.seed, self.epoch])
        order = rng.permutation(self.train_index)
        batches = [
            order[k : k + config.batch_size] for k in range(0, len(order), config.batch_size)
        ]
        self.network.train()
        total, count, data_time, step_time = 0.0, 0, 0.0, 0.0
        for indices in progress(batches, desc=f"epoch {self.epoch + 1}", unit="batch"):
            started = time.perf_counter()
            images, target, sparse_target, sparse = (
                tensor.to(self.device) for tensor in self._batch(indices, rng)
            )
            loaded = time.perf_counter()
            loss = self._loss(self.network(images), target, sparse_target, sparse)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach()) * len(indices)
            count += len(indices)
            data_time += loaded - started
            step_time += time.perf_counter() - loaded
        return {
            "train_loss": total / max(count, 1),
            "images_per_second": count / max(data_time + step_time, 1e-9),
            "data_seconds": data_time,
            "step_seconds": step_time,
        }

    # -- validation ----------------------------------------------------------------------------

    @torch.inference_mode()
    def predict_stored(self, indices: np.ndarray) -> np.ndarray:
        """Raw parameters predicted from the un-augmented crops of the given faces."""
        self.network.eval()
        out = []
        for start in range(0, len(indices), 64):
            part = indices[start : start + 64]
            crops = np.stack(
                [centre_crop(self.targets.image[i], self.config.input_size) for i in part]
            )
            whitened = self.network(to_input(crops).to(self.device))
            out.append(self.network.denormalize(whitened).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.layout.size))

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
        """Train from the current epoch to ``config.epochs``; returns the history."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        while self.epoch < self.config.epochs:
            started = time.perf_counter()
            row: dict[str, float] = {"epoch": self.epoch + 1}
            row.update(self.train_epoch(progress))
            row.update(self.validate())
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["seconds"] = time.perf_counter() - started
            self.epoch += 1
            self.history.append(row)
            if row.get("val_nme", math.inf) < self.best:
                self.best = row["val_nme"]
                with atomic_path(self.best_path) as temporary:
                    torch.save(self.network.state_dict(), temporary)
            self.save_checkpoint()
            self.write_logs()
            logger.info("epoch %d: %s", self.epoch, json.dumps(row))
        return self.history

    def write_logs(self) -> None:
        """``log.json``, ``log.csv`` and ``curves.png`` in the run folder."""
        write_json(
            self.run_dir / "log.json", {"config": self.config.to_dict(), "history": self.history}
        )
        keys = list(dict.fromkeys(key for row in self.history for key in row))
        lines = [",".join(keys)] + [
            ",".join(f"{row.get(key, '')}" for key in keys) for row in self.history
        ]
        with atomic_path(self.run_dir / "log.csv") as temporary:
            temporary.write_text("\n".join(lines) + "\n")
        from morph3d.training.curves import plot_training_curves

        plot_training_curves(self.history, self.run_dir / "curves.png")
