"""Train the coefficient regressor on targets made by scripts/fit_3dmm.py.

    python scripts/train.py --data work/targets/300w.h5 --run-dir work/runs/w1 --width 1.0
    python scripts/train.py --data work/targets/300w_lp.h5 work/targets/aflw21.h5 \
        --run-dir work/runs/lp --init assets/models/shufflenetv2_x1.pt
    torchrun --standalone --nproc_per_node 2 scripts/train.py --data T.h5 --run-dir RUN

Every TrainConfig field is an option. Writes into --run-dir: checkpoint.pt (resume with
--resume), best.pt (state dict of the best validation epoch), log.json, log.csv and curves.png.
With --export, copies the best weights and a JSON model card to assets/models/. Under torchrun
every process trains (--batch-size is the global batch) and rank 0 alone writes and prints.
(--run is --run-dir's old name; torchrun would read it as its own --run-path, so write
--run-dir there.)
"""

from __future__ import annotations

import argparse
import contextlib
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
from morph3d.training.distributed import distributed_session
from morph3d.training.model_card import export_weights
from morph3d.training.targets import concatenate_targets, read_targets
from morph3d.training.trainer import TrainConfig, Trainer, read_checkpoint


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, type=Path, nargs="+", help="targets HDF5 (one or more)"
    )
    parser.add_argument("--run-dir", "--run", required=True, type=Path, help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue from its checkpoint.pt")
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--export", type=Path, help="copy best weights + model card here")
    add_config_options(parser, TrainConfig, prefixes={"augment": "aug-"})
    args = parser.parse_args(argv)

    try:
        config = config_from_args(args, TrainConfig)
    except ValueError as error:  # a setting out of its range (TrainConfig checks its own)
        parser.error(str(error))
    if config.epochs < 1:
        parser.error("--epochs must be at least 1")
    if not 0 < config.val_fraction < 1:
        parser.error("--val-fraction must be in (0, 1): the best epoch is chosen on held-out faces")
    with distributed_session(config.device) as world:
        # Rank 0 speaks for the run; the others only report problems.
        level = logging.INFO if world.is_main else logging.WARNING
        logging.basicConfig(level=level, format="%(message)s")
        with contextlib.redirect_stdout(None) if not world.is_main else contextlib.nullcontext():
            return _train(args, config)


def _train(args: argparse.Namespace, config: TrainConfig) -> int:
    """Train (in each process under torchrun); returns the exit status."""
    checkpoint = args.run_dir / "checkpoint.pt"
    try:
        if args.resume and checkpoint.is_file():
            saved = read_checkpoint(checkpoint)
            config = dataclasses.replace(
                TrainConfig.from_dict(saved["config"]), epochs=config.epochs
            )
        # One part at a time into the joined set: the images of all files are in memory once.
        targets = concatenate_targets([read_targets(path) for path in args.data], consume=True)
        model = load_model(args.model)
        trainer = Trainer(targets, model, config, args.run_dir)
        if args.resume and trainer.checkpoint_path.is_file():
            trainer.load_checkpoint()
            print(f"train: resuming after epoch {trainer.epoch}")
    except (Morph3DError, FileNotFoundError, ValueError) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 2
    world = trainer.world
    print(
        f"train: {len(trainer.train_index)} training and {len(trainer.val_index)} validation "
        f"faces, width {config.width}, {config.epochs} epochs, device {config.device}; "
        f"{world.world_size} process(es), global batch {config.batch_size} "
        f"({trainer.batch_size_per_rank} per process), {config.workers} loader worker(s) each"
    )
    started = time.perf_counter()
    trainer.fit(progress=partial(tqdm, leave=False))
    elapsed = time.perf_counter() - started
    if not world.is_main:
        return 0
    best = min(trainer.history, key=lambda row: row.get("val_nme", float("inf")))
    # Without dense validation photos (e.g. only AFLW's sparse faces held out) no NME picks
    # a best epoch.
    figure = f"{best['val_nme']:.3f}" if "val_nme" in best else "- (no dense validation photo)"
    print(f"train: done in {elapsed / 60:.1f} min; best val NME {figure} at epoch {best['epoch']}")
    if args.export:
        weights, card = export_weights(trainer, args.data, args.export, elapsed)
        print(f"train: exported {weights} and {weights.with_suffix('.json').name}")
        print(json.dumps({k: card[k] for k in ("epochs", "best_epoch", "val_nme_bbox")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
