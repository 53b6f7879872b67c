"""Training in several processes (gloo on the CPU) against one process."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from morph3d.training.augment import AugmentConfig
from morph3d.training.distributed import (
    GlooSyncBatchNorm,
    World,
    all_gather_objects,
    all_sum,
    current_world,
    distributed_session,
    shard,
    sync_batchnorm,
)
from morph3d.training.trainer import TrainConfig, Trainer

from ..conftest import make_tiny_model, make_tiny_targets

#: Small but not trivial: two epochs of three global batches of 8 (24 training faces), with
#: the default augmentation, so that the faces' own augmentation streams are exercised.
CONFIG = TrainConfig(
    width=0.5,
    input_size=64,
    epochs=2,
    batch_size=8,
    val_fraction=0.0,
    workers=0,
    threads=1,
    augment=AugmentConfig(),
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rank_entry(
    rank: int, world_size: int, port: int, function: Callable[..., None], args: tuple[Any, ...]
) -> None:
    # What torchrun sets for each process.
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
    )
    with distributed_session("cpu") as world:
        assert dist.get_backend() == "gloo" and world.rank == rank
        function(world, *args)


def run_processes(world_size: int, function: Callable[..., None], *args: Any) -> None:
    """Run ``function(world, *args)`` in ``world_size`` forked processes joined by gloo."""
    mp.start_processes(
        _rank_entry,
        args=(world_size, _free_port(), function, args),
        nprocs=world_size,
        start_method="fork",
    )


@pytest.mark.unit
def test_without_torchrun_there_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed_session("cpu") as world:
        assert world == World() and world.is_main and not world.distributed
        assert not dist.is_initialized() and current_world() == world
        assert all_sum([1.5, 2.0], world) == [1.5, 2.0]
        assert all_gather_objects("x", world) == ["x"]


@pytest.mark.unit
def test_shards_split_a_batch_in_consecutive_parts() -> None:
    batch = np.arange(10, 17)  # 7 faces over 3 ranks: 3, 2, 2
    parts = [shard(batch, World(rank, 3)) for rank in range(3)]
    assert [len(p) for p in parts] == [3, 2, 2]
    np.testing.assert_array_equal(np.concatenate(parts), batch)


def _collectives(world: World, out: Path) -> None:
    sums = all_sum([world.rank, 1.0], world)
    gathered = all_gather_objects({"rank": world.rank}, world)
    torch.save({"sums": sums, "gathered": gathered}, out / f"rank{world.rank}.pt")


@pytest.mark.slow
def test_collectives_over_gloo(tmp_path: Path) -> None:
    run_processes(2, _collectives, tmp_path)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert result["sums"] == [1.0, 2.0]
        assert result["gathered"] == [{"rank": 0}, {"rank": 1}]


def _batchnorm_parts(world: World, out: Path) -> None:
    x, g = _batchnorm_inputs()
    part = shard(np.arange(len(x)), world)
    layer = _batchnorm(GlooSyncBatchNorm)
    mine = x[part].clone().requires_grad_(True)
    y = layer(mine)
    (y * g[part]).sum().backward()
    assert mine.grad is not None and layer.weight.grad is not None
    torch.save(
        {
            "y": y.detach(), "x_grad": mine.grad, "weight_grad": layer.weight.grad,
            "bias_grad": layer.bias.grad, "state": layer.state_dict(),
        },
        out / f"bn{world.rank}.pt",
    )  # fmt: skip


def _batchnorm_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(5, 4, 3, 3, generator=generator, dtype=torch.float64) + 7
    return x, torch.randn(x.shape, generator=generator, dtype=torch.float64)


def _batchnorm(kind: type[torch.nn.BatchNorm2d]) -> torch.nn.BatchNorm2d:
    layer = kind(4).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    return layer


@pytest.mark.slow
def test_gloo_sync_batchnorm_is_batchnorm_of_the_whole_batch(tmp_path: Path) -> None:
    """Float64, 5 faces as 3 + 2 on two ranks, against one BatchNorm2d over all 5."""
    x, g = _batchnorm_inputs()
    reference = _batchnorm(torch.nn.BatchNorm2d)
    whole = x.clone().requires_grad_(True)
    y = reference(whole)
    (y * g).sum().backward()
    run_processes(2, _batchnorm_parts, tmp_path)
    parts = [torch.load(tmp_path / f"bn{rank}.pt", weights_only=True) for rank in range(2)]
    close = {"rtol": 1e-10, "atol": 1e-10}
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y.detach(), **close)
    torch.testing.assert_close(torch.cat([p["x_grad"] for p in parts]), whole.grad, **close)
    for name in ("weight", "bias"):
        total = parts[0][f"{name}_grad"] + parts[1][f"{name}_grad"]  # what DDP would sum
        torch.testing.assert_close(total, getattr(reference, name).grad, **close)
    for part in parts:  # the same running statistics on every rank, as one process's
        for key, value in reference.state_dict().items():
            torch.testing.assert_close(part["state"][key], value, **close)


@pytest.mark.unit
def test_sync_batchnorm_keeps_the_parameters_and_is_batchnorm_alone() -> None:
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), _batchnorm(torch.nn.BatchNorm2d))
    weight = network[1].weight
    before = {key: value.clone() for key, value in network.state_dict().items()}
    sync_batchnorm(network, torch.device("cpu"))
    assert isinstance(network[1], GlooSyncBatchNorm) and network[1].weight is weight
    assert network.state_dict().keys() == before.keys()
    # Without a process group it is BatchNorm2d.
    x, _ = _batchnorm_inputs()
    reference = _batchnorm(torch.nn.BatchNorm2d)
    torch.testing.assert_close(network[1](x), reference(x), rtol=1e-12, atol=1e-12)


def _train(world: World, config: TrainConfig, out: Path, resume: Path | None = None) -> None:
    """Train on 24 tiny faces into ``out/run`` (one process) or ``out/run_rank<r>`` (each
    rank its own folder, to see which ranks write), resuming from the checkpoint ``resume``
    (the same file for every rank); each rank's end state goes to ``out/result<r>.pt``."""
    model = make_tiny_model()
    targets = make_tiny_targets(model, count=24)
    run = out / f"run_rank{world.rank}" if world.distributed else out / "run"
    trainer = Trainer(targets, model, config, run, world)
    if resume is not None:
        trainer.load_checkpoint(resume)
    trainer.fit()
    result = {"network": trainer.network.state_dict(), "history": trainer.history}
    torch.save(result, out / f"result{world.rank}.pt")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)["network"]
    return {key: value for key, value in state.items() if value.is_floating_point()}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Euclidean distance between the trainable parameters of two state dicts."""
    keys = [k for k in a if "running" not in k and k not in ("param_mean", "param_std")]
    return float(torch.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in keys)))


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path: Path) -> None:
    """2 gloo processes, the same global batch and seed: the same faces and augmentation per
    step, synchronised BatchNorm, and DDP's averaged gradient equals the global batch's.

    Tolerance: the weights after 6 Adam steps (lr 1e-3) lie within 25% of the distance that
    training moved them. Adam turns float32 rounding in tiny gradients into whole +-lr steps,
    so that is the floor: one process with 1 thread against 2 threads differs by 12.5%, and
    the 2 processes by the same 12.5%. Per-rank BatchNorm (``sync_batchnorm=False``, which
    normalises each rank's 4 faces alone) differs by 130% and fails it.
    """
    single, double, plain = (tmp_path / name for name in ("one", "two", "plain"))
    for folder in (single, double, plain):
        folder.mkdir()
    _train(World(), CONFIG, single)
    run_processes(2, _train, CONFIG, double)
    run_processes(2, _train, dataclasses.replace(CONFIG, sync_batchnorm=False), plain)

    # Only rank 0 wrote a run folder; both ranks hold the same parameters (BatchNorm's
    # running statistics are each rank's own until DDP copies rank 0's at the next step).
    assert sorted(p.name for p in (double / "run_rank0").iterdir()) == [
        "checkpoint.pt", "curves.png", "log.csv", "log.json",
    ]  # fmt: skip
    assert not (double / "run_rank1").exists()
    rank0, rank1 = _weights(double / "result0.pt"), _weights(double / "result1.pt")
    for key, value in rank0.items():
        if "running" not in key:
            torch.testing.assert_close(rank1[key], value, rtol=0, atol=0)

    start = Trainer(make_tiny_targets(make_tiny_model(), 24), make_tiny_model(), CONFIG, tmp_path)
    one = _weights(single / "run" / "checkpoint.pt")
    moved = _distance(one, start.network.state_dict())
    two = _weights(double / "run_rank0" / "checkpoint.pt")
    per_rank = _weights(plain / "run_rank0" / "checkpoint.pt")
    assert _distance(two, one) < 0.25 * moved < _distance(per_rank, one)

    history = torch.load(double / "result0.pt", weights_only=True)["history"]
    reference = torch.load(single / "result0.pt", weights_only=True)["history"]
    assert [row["world_size"] for row in history] == [2, 2]
    # The first epoch's loss (the weights apart by rounding only) agrees closely; the second
    # one's as the weights do.
    losses = [[row["train_loss"] for row in rows] for rows in (history, reference)]
    np.testing.assert_allclose(losses[0][0], losses[1][0], rtol=1e-5)
    np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-2)


@pytest.mark.slow
def test_every_rank_resumes_from_the_same_checkpoint(tmp_path: Path) -> None:
    """One epoch, stop, resume for the second: the same weights as two epochs in one go."""
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    for folder in (whole, halves):
        folder.mkdir()
    run_processes(2, _train, CONFIG, whole)
    run_processes(2, _train, dataclasses.replace(CONFIG, epochs=1), halves)
    checkpoint = halves / "run_rank0" / "checkpoint.pt"
    assert torch.load(checkpoint, weights_only=True)["world_size"] == 2
    run_processes(2, _train, CONFIG, halves, checkpoint)
    for rank in range(2):
        resumed = torch.load(halves / f"result{rank}.pt", weights_only=True)
        assert [row["epoch"] for row in resumed["history"]] == [1, 2]
    expected, resumed = _weights(whole / "result0.pt"), _weights(halves / "result0.pt")
    for key, value in expected.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-6, atol=1e-7)
    assert not (halves / "run_rank1").exists()


def _resume_mismatch(world: World, out: Path) -> None:
    run = out / f"run_rank{world.rank}"
    run.mkdir()
    trainer = Trainer(make_tiny_targets(make_tiny_model(), 24), make_tiny_model(), CONFIG, run)
    trainer.epoch = world.rank  # as if rank 1 read another machine's older checkpoint
    trainer.save_checkpoint()
    try:
        trainer.load_checkpoint()
    except RuntimeError as error:
        assert "different checkpoints" in str(error)
        (out / f"refused{world.rank}").touch()


@pytest.mark.slow
def test_ranks_that_read_different_checkpoints_stop(tmp_path: Path) -> None:
    run_processes(2, _resume_mismatch, tmp_path)
    assert (tmp_path / "refused0").is_file() and (tmp_path / "refused1").is_file()
