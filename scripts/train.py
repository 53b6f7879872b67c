"""Train the coefficient regressor on targets made by scripts/fit_3dmm.py.

    python scripts/train.py --data work/targets/300w.h5 --run work/runs/w1 --width 1.0
    python scripts/train.py --data work/targets/300w_lp.h5 work/targets/aflw21.h5 \
        --run work/runs/lp --init assets/models/shufflenetv2_x1.pt

Every TrainConfig field is an option. Writes into --run: checkpoint.pt (resume with --resume),
best.pt (state dict of the best validation epoch), log.json, log.csv and curves.png. With
--export, copies the best weights and a JSON model card to assets/models/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from functools import partial
from pathlib import Path

from tqdm import tqdm

from morph3d.cli.options import add_config_options, config_from_args
from morph3d.core.model import load_model
from morph3d.errors import Morph3DError
from morph3d.training.model_card import export_weights
from morph3d.training.targets import read_targets
from morph3d.training.trainer import TrainConfig, Trainer, read_checkpoint


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
    add_config_options(parser, TrainConfig, prefixes={"augment": "aug-"})
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    config = config_from_args(args, TrainConfig)
    if config.epochs < 1:
        parser.error("--epochs must be at least 1")
    if not 0 < config.val_fraction < 1:
        parser.error("--val-fraction must be in (0, 1): the best epoch is chosen on held-out faces")
    try:
        if args.resume and (args.run / "checkpoint.pt").is_file():
            saved = read_checkpoint(args.run / "checkpoint.pt")
            config = dataclasses.replace(
                TrainConfig.from_dict(saved["config"]), epochs=config.epochs
            )
        targets = [read_targets(path) for path in args.data]
        model = load_model(args.model)
        trainer = Trainer(targets, model, config, args.run)
        if args.resume and trainer.checkpoint_path.is_file():
            trainer.load_checkpoint()
            print(f"train: resuming after epoch {trainer.epoch}")
    except (Morph3DError, FileNotFoundError, ValueError) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 2
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
        weights, card = export_weights(trainer, args.data, args.export, elapsed)
        print(f"train: exported {weights} and {weights.with_suffix('.json').name}")
        print(json.dumps({k: card[k] for k in ("epochs", "best_epoch", "val_nme_bbox")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
