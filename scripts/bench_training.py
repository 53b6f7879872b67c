"""Measure training throughput on this machine: the bare network step against the whole step
with the data pipeline (augmentation of every image), per ShuffleNetV2 width; or, with
--processes, whole epochs of scripts/train.py under torchrun with 1, 2, ... processes.

    python scripts/bench_training.py --data work/targets/300w.h5 --json work/bench_training.json
    python scripts/bench_training.py --data work/targets/300w.h5 --processes 1 2 --epochs 3 \
        --width 0.5 --batch-size 32 --threads 1 --workers 1

With --processes, options it does not know go to scripts/train.py (--device cuda, --workers,
--no-sync-batchnorm, ...); the figure is images/s of all processes together, the median over
the epochs after the first (start-up and warm-up), from the run's log.json. Prints a table and
writes the figures as JSON. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from morph3d.core.model import load_model
from morph3d.files import write_json
from morph3d.training.targets import read_targets
from morph3d.training.trainer import TrainConfig, Trainer

TRAIN = Path(__file__).resolve().parent / "train.py"


def measure(trainer: Trainer, steps: int) -> dict[str, float]:
    """Seconds per batch of the data pipeline, the bare step and the two together."""
    config = trainer.config
    order = trainer.train_index

    def batch(k: int):
        start = (k * config.batch_size) % max(1, len(order) - config.batch_size)
        return trainer._batch(order[start : start + config.batch_size], epoch=k)[:2]

    def step(images, target) -> None:
        loss = trainer._loss(trainer.network(images), target)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    trainer.network.train()
    fixed = batch(0)
    for _ in range(3):  # warm-up
        step(*fixed)
    # Alternate short blocks of bare steps and whole steps, so that drifts in the machine's
    # speed hit both alike; compare medians of single steps.
    bare_times, data_times, whole_times = [], [], []
    for k in range(steps):
        started = time.perf_counter()
        step(*fixed)
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        made = batch(k)
        loaded = time.perf_counter()
        step(*made)
        whole_times.append(time.perf_counter() - started)
        data_times.append(loaded - started)
    bare, data, whole = (float(np.median(t)) for t in (bare_times, data_times, whole_times))
    return {
        "bare_step_s": bare,
        "data_s": data,
        "whole_step_s": whole,
        "bare_images_per_s": config.batch_size / bare,
        "images_per_s": config.batch_size / whole,
        "pipeline_overhead_pct": 100 * (whole - bare) / bare,
    }


def measure_processes(
    data: Path, processes: int, epochs: int, threads: int, options: list[str]
) -> dict[str, float]:
    """images/s of ``epochs`` epochs of scripts/train.py with ``processes`` processes."""
    with tempfile.TemporaryDirectory() as run:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(processes), str(TRAIN), "--data", str(data),
            "--run-dir", run, "--epochs", str(epochs), "--threads", str(threads), *options,
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        log = json.loads((Path(run) / "log.json").read_text())
    rows = log["history"][1:] or log["history"]
    rate = float(np.median([row["images_per_second"] for row in rows]))
    return {
        "processes": processes,
        "images_per_s": rate,
        "images_per_s_per_process": rate / processes,
        "data_wait_s_per_epoch": float(np.median([row["data_seconds"] for row in rows])),
        "batch_size_global": log["batch_size_global"],
        "batch_size_per_rank": log["batch_size_per_rank"],
        "wall_s": time.perf_counter() - started,
    }


def bench_processes(args: argparse.Namespace, options: list[str]) -> dict[str, object]:
    """The --processes table: one torchrun per process count."""
    print(f"{'processes':>9} {'img/s':>8} {'img/s/proc':>11} {'speed-up':>9} {'data wait s':>12}")
    results = []
    for processes in args.processes:
        figures = measure_processes(args.data, processes, args.epochs, args.threads, options)
        results.append(figures)
        gain = figures["images_per_s"] / results[0]["images_per_s"]
        print(
            f"{processes:>9} {figures['images_per_s']:>8.1f} "
            f"{figures['images_per_s_per_process']:>11.1f} {gain:>8.2f}x "
            f"{figures['data_wait_s_per_epoch']:>12.2f}"
        )
    return {"train_options": options, "epochs": args.epochs, "runs": results}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--processes", type=int, nargs="+", help="torchrun process counts")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per --processes run")
    args, options = parser.parse_known_args(argv)
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": torch.get_num_threads(),
        "threads": args.threads,
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    if args.processes:
        model = ["--model", str(args.model)] if args.model else []
        results = bench_processes(args, [*model, *options])
        if args.json:
            write_json(args.json, {"machine": machine, "processes": results})
        return 0
    if options:
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    targets = read_targets(args.data)
    model = load_model(args.model)
    results = {}
    print(
        f"{'width':>6} {'bare img/s':>11} {'whole img/s':>12} {'data ms/batch':>14} {'overhead':>9}"
    )
    for width in args.widths:
        config = TrainConfig(width=width, threads=args.threads)
        trainer = Trainer(targets, model, config, Path("/nonexistent"))
        figures = measure(trainer, args.steps)
        results[str(width)] = figures
        print(
            f"{width:>6} {figures['bare_images_per_s']:>11.1f} {figures['images_per_s']:>12.1f} "
            f"{1000 * figures['data_s']:>14.1f} {figures['pipeline_overhead_pct']:>8.1f}%"
        )
    machine["batch_size"] = TrainConfig().batch_size
    if args.json:
        write_json(args.json, {"machine": machine, "widths": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
