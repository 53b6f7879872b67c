"""Measure training throughput on this machine: the bare network step against the whole step
with the data pipeline (augmentation of every image), per ShuffleNetV2 width.

    python scripts/bench_training.py --data work/targets/300w.h5 --json work/bench_training.json

Prints a table and writes the figures as JSON. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from morph3d.core.model import load_model
from morph3d.files import write_json
from morph3d.training.targets import read_targets
from morph3d.training.trainer import TrainConfig, Trainer


def measure(trainer: Trainer, steps: int) -> dict[str, float]:
    """Seconds per batch of the data pipeline, the bare step and the two together."""
    rng = np.random.default_rng(0)
    config = trainer.config
    order = trainer.train_index

    def batch(k: int):
        start = (k * config.batch_size) % max(1, len(order) - config.batch_size)
        return trainer._batch(order[start : start + config.batch_size], rng)

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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    targets = read_targets(args.data)
    model = load_model()
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
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": torch.get_num_threads(),
        "threads": args.threads,
        "torch": torch.__version__,
        "batch_size": TrainConfig().batch_size,
    }
    if args.json:
        write_json(args.json, {"machine": machine, "widths": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
