"""Several training processes: the process group, who is who, and what only rank 0 does.

morph3d does not launch processes: ``torchrun`` does, and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` for each. :func:`distributed_session` reads
them, joins the group (gloo on the CPU, NCCL on CUDA) and leaves it at the end; a plain
``python`` run has no ``WORLD_SIZE`` and stays one process, with no process group at all.
:class:`~morph3d.training.trainer.Trainer` wraps its network in PyTorch's
``DistributedDataParallel`` when a group of more than one process exists.

**Global and per-rank batches.** ``TrainConfig.batch_size`` is the *global* batch: the faces of
one optimiser step summed over all processes. :func:`shard` gives rank ``r`` its consecutive
part of every global batch (``B / W`` faces, the first ``B mod W`` ranks one more), so the same
``batch_size`` and seed train on the same faces per step with any number of processes.

**BatchNorm.** Plain BatchNorm normalises with each process's own part of the batch, the one
thing that makes W processes train differently from one. :func:`sync_batchnorm` makes the
statistics those of the global batch: PyTorch's ``SyncBatchNorm`` on CUDA, and on the CPU,
where PyTorch has none, :class:`GlooSyncBatchNorm`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn

__all__ = [
    "GlooSyncBatchNorm",
    "World",
    "all_gather_objects",
    "all_sum",
    "barrier",
    "current_world",
    "device_for",
    "distributed_session",
    "resolve_device",
    "shard",
    "sync_batchnorm",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """The processes of a training run, seen from one of them.

    Attributes:
        rank: This process's number, 0 to ``world_size - 1`` (0 writes the files).
        world_size: Number of processes.
        local_rank: This process's number on its machine (its GPU on CUDA).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, logs, plots and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process (and so a process group to talk through)."""
        return self.world_size > 1


def current_world() -> World:
    """The :class:`World` of the initialised process group; one process when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def resolve_device(device: str, cpu: str = "cpu") -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is there, else ``cpu``; other names pass."""
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else cpu


def device_for(device: str, world: World) -> torch.device:
    """The torch device of this process: ``"cuda"`` becomes ``cuda:<local_rank>``.

    Args:
        device: ``"cpu"``, ``"cuda"`` or an explicit ``"cuda:K"`` (kept as given).
        world: The processes.
    """
    if device == "cuda":
        return torch.device("cuda", world.local_rank)
    return torch.device(device)


@contextlib.contextmanager
def distributed_session(device: str, timeout_minutes: float = 30.0) -> Iterator[World]:
    """Join the process group that ``torchrun`` set up, and leave it at the end.

    Without torchrun's ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) nothing is initialised and
    the single process's :class:`World` is yielded. A group that is already initialised is
    used as it is and left to its owner.

    Args:
        device: ``TrainConfig.device``: gloo on ``"cpu"``, NCCL on CUDA (whose process then
            works on GPU ``LOCAL_RANK``).
        timeout_minutes: How long a collective waits for the other processes.

    Yields:
        This process's place among the processes.

    Raises:
        RuntimeError: CUDA was asked for and this machine has fewer GPUs than processes on it.
    """
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size <= 1 or dist.is_initialized():
        yield current_world()
        return
    cuda = device.startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {local_rank} on this machine needs a GPU, {torch.cuda.device_count()} "
                "found: start at most one process per GPU (--nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
    dist.init_process_group(
        backend="nccl" if cuda else "gloo",
        timeout=datetime.timedelta(minutes=timeout_minutes),
        # Binds NCCL to this process's GPU up front (gloo takes no device).
        device_id=torch.device("cuda", local_rank) if cuda else None,
    )
    try:
        world = current_world()
        logger.debug("rank %d of %d joined (%s)", world.rank, world.world_size, dist.get_backend())
        yield world
    finally:
        dist.destroy_process_group()


def shard(indices: np.ndarray, world: World) -> np.ndarray:
    """This rank's consecutive part of one global batch (the first ``len % W`` ranks get one
    more face; a part may be empty when the batch has fewer faces than processes)."""
    return np.array_split(np.asarray(indices), world.world_size)[world.rank]


def all_sum(values: Sequence[float], world: World) -> list[float]:
    """``values`` summed over all processes (float64; unchanged with one process)."""
    if not world.distributed:
        return [float(v) for v in values]
    # gloo and NCCL both reduce tensors of the group's device; CPU is what gloo takes.
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    total = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return [float(v) for v in total.cpu()]


def all_gather_objects(value: Any, world: World) -> list[Any]:
    """Every process's ``value`` (a picklable object), in rank order."""
    if not world.distributed:
        return [value]
    out: list[Any] = [None] * world.world_size
    dist.all_gather_object(out, value)
    return out


def barrier(world: World) -> None:
    """Wait until every process gets here (nothing to wait for with one process)."""
    if world.distributed:
        dist.barrier()


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of all processes' inputs together,
    for the CPU (gloo), where ``torch.nn.SyncBatchNorm`` refuses to run.

    In training, with a process group of more than one process, every process ``r`` measures
    its count ``n_r``, mean ``m_r`` and sum of squared deviations ``M_r`` per channel; one
    differentiable all-reduce (``torch.distributed.nn.functional``, whose backward
    all-reduces the gradients) hands everyone all of them, combined as one two-pass
    computation over the global batch would give them (Chan et al.'s parallel variance):

        n = sum n_r,   mean = sum n_r m_r / n,   var = (sum M_r + sum n_r (m_r - mean)^2) / n.

    (Sums of ``x`` and ``x^2`` would need one number less, but their difference cancels to
    noise wherever a channel's mean is large against its spread, gradients included.) The
    running statistics are updated as ``BatchNorm2d`` does (unbiased variance). Otherwise
    (evaluation, one process) it is ``BatchNorm2d`` itself; parameters and buffers are the
    same, so a state dict moves freely between the two.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normalised ``(B, C, H, W)``."""
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        world_size, rank = dist.get_world_size(), dist.get_rank()
        count = input.numel() // input.shape[1]
        local_mean = input.mean(dim=(0, 2, 3))  # (C,)
        local_squares = (input - local_mean.view(1, -1, 1, 1)).square().sum(dim=(0, 2, 3))
        counts = input.new_full((1,), float(count))
        mine = torch.cat([counts, local_mean, local_squares])  # (1 + 2C,)
        # An all-gather as an all-reduce of one row per process (gloo's all-gather has no
        # differentiable counterpart that runs on it).
        rows = torch.zeros(world_size, 1, dtype=input.dtype, device=input.device)
        rows[rank] = 1
        gathered = dist_nn.all_reduce(rows * mine)  # (W, 1 + 2C)
        channels = input.shape[1]
        counts = gathered[:, :1]  # (W, 1)
        means = gathered[:, 1 : 1 + channels]  # (W, C)
        squares = gathered[:, 1 + channels :]  # (W, C)
        n = counts.sum()
        mean = (counts * means).sum(dim=0) / n
        var = (squares.sum(dim=0) + (counts * (means - mean).square()).sum(dim=0)) / n
        if self.training and self.track_running_stats and self.running_mean is not None:
            assert self.running_var is not None and self.num_batches_tracked is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # cumulative moving average
                    factor = 1.0 / float(self.num_batches_tracked)
                else:
                    factor = self.momentum
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * (n / (n - 1).clamp_min(1)), factor)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        out = (input - mean.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1)
        return out + self.bias.view(1, -1, 1, 1) if self.affine else out


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Make every ``BatchNorm2d`` of ``module`` share its statistics across the processes.

    ``torch.nn.SyncBatchNorm`` on CUDA, :class:`GlooSyncBatchNorm` elsewhere. The layers are
    replaced in place and keep their parameter and buffer objects (create the optimiser
    after, or before: it holds the same parameters either way).

    Returns:
        ``module`` (a BatchNorm layer itself is returned converted).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, GlooSyncBatchNorm):
        synced = GlooSyncBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        synced.weight, synced.bias = module.weight, module.bias
        synced.running_mean, synced.running_var = module.running_mean, module.running_var
        synced.num_batches_tracked = module.num_batches_tracked
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        setattr(module, name, sync_batchnorm(child, device))
    return module
