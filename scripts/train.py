"""Train the coefficient regressor on targets made by scripts/fit_3dmm.py.

    python scripts/train.py --data work/targets/300w.h5 --run work/runs/w1 --width 1.0
    python scripts/train.py --data work/targets/300w.h5 work/targets/aflw21.h5 --run work/runs/w2

Every TrainConfig field is an option. Writes into --run: checkpoint.pt (resume with --resume),
best.pt (state dict of the best validation epoch), log.json, log.csv and curves.png. With
--export, copies the best weights and a JSON model card to assets/models/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from morph3d.training.augment import AugmentConfig
from morph3d.files import write_json
from morph3d.core.model import load_model
from morph3d.training.targets import read_targets
from morph3d.training.trainer import TrainConfig, Trainer


def _add_options(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    for item in dataclasses.fields(cls):
        if dataclasses.is_dataclass(item.type) or item.name == "augment":
            continue
        default = getattr(cls(), item.name)
        kind = type(default)
        parser.add_argument(
            f"--{prefix}{item.name.replace('_', '-')}",
            type=kind,
            default=default,
            help=f"(default: {default})",
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, type=Path, nargs="+", help="targets HDF5 (one or more)"
    )
    parser.add_argument("--run", required=True, type=Path, help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue from run/checkpoint.pt")
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--export", type=Path, help="copy best weights + model card here")
    _add_options(parser, TrainConfig)
    _add_options(parser, AugmentConfig, prefix="aug-")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    augment = AugmentConfig(
        **{f.name: getattr(args, f"aug_{f.name}") for f in dataclasses.fields(AugmentConfig)}
    )
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "augment"
    }
    config = TrainConfig(**values, augment=augment)
    if args.resume and (args.run / "checkpoint.pt").is_file():
        saved = torch.load(args.run / "checkpoint.pt", map_location="cpu", weights_only=True)
        config = dataclasses.replace(TrainConfig.from_dict(saved["config"]), epochs=config.epochs)
    targets = [read_targets(path) for path in args.data]
    model = load_model(args.model)
    trainer = Trainer(targets, model, config, args.run)
    if args.resume and trainer.checkpoint_path.is_file():
        trainer.load_checkpoint()
        print(f"train: resuming after epoch {trainer.epoch}")
    print(
        f"train: {len(trainer.train_index)} training and {len(trainer.val_index)} validation "
        f"faces, width {config.width}, {config.epochs} epochs, device {config.device}"
    )
    started = time.perf_counter()
    trainer.fit(progress=partial(tqdm, leave=False))
    elapsed = time.perf_counter() - started
    best = min(trainer.history, key=lambda row: row.get("val_nme", float("inf")))
    print(
        f"train: done in {elapsed / 60:.1f} min; best val NME {best.get('val_nme'):.3f} "
        f"at epoch {best['epoch']}"
    )
    if args.export:
        export(trainer, args.data, args.export, elapsed)
    return 0


def export(trainer: Trainer, data: list[Path], folder: Path, elapsed: float) -> None:
    """Copy the best weights to ``folder`` with a JSON model card beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"shufflenetv2_x{trainer.config.width:g}".replace(".", "_")
    weights = folder / f"{name}.pt"
    shutil.copyfile(trainer.best_path, weights)
    history = trainer.history
    best = min(history, key=lambda row: row.get("val_nme", float("inf")))
    throughput = [row["images_per_second"] for row in history]
    card = {
        "network": f"torchvision ShuffleNetV2 x{trainer.config.width:g}, 62 outputs (whitened)",
        "weights": weights.name,
        "input": f"{trainer.config.input_size}x{trainer.config.input_size} RGB, (x - 127.5) / 128",
        "data": {
            "targets": ", ".join(path.name for path in data),
            "train_faces": len(trainer.train_index),
            "val_faces": len(trainer.val_index),
            "split": "sha1(photo name) < val_fraction",
        },
        "config": trainer.config.to_dict(),
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "val_nme_bbox": best.get("val_nme"),
        "val_nme_vs_fit": best.get("val_nme_fit"),
        "val_nme_sparse": best.get("val_nme_sparse"),
        "train_minutes_this_run": round(elapsed / 60, 1),
        "train_minutes_total": round(sum(row["seconds"] for row in history) / 60, 1),
        "images_per_second_median": sorted(throughput)[len(throughput) // 2],
        "model": trainer.model.metadata.get("name"),
    }
    write_json(folder / f"{name}.json", card)
    print(f"train: exported {weights} and {name}.json")
    print(json.dumps({k: card[k] for k in ("epochs", "best_epoch", "val_nme_bbox")}))


if __name__ == "__main__":
    sys.exit(main())
