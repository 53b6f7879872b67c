"""The shipped network's files: weight names and the JSON model card beside them.

The name of a network of width ``w`` is ``shufflenetv2_x{w}`` with the dot written ``_``
(``shufflenetv2_x1``, ``shufflenetv2_x0_5``), the same names :mod:`morph3d.paths` looks for.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from morph3d.files import write_json
from morph3d.training.trainer import TrainConfig, Trainer

__all__ = ["export_weights", "model_card", "network_name"]


def network_name(width: float) -> str:
    """The file stem of a network of ShuffleNetV2 width ``width`` (``1.0 -> "shufflenetv2_x1"``)."""
    return f"shufflenetv2_x{width:g}".replace(".", "_")


def model_card(
    config: TrainConfig,
    history: Sequence[dict[str, Any]],
    *,
    targets: str,
    train_faces: int,
    val_faces: int,
    elapsed: float,
    model_name: str | None,
) -> dict[str, Any]:
    """The JSON model card of a training run.

    Args:
        config: The run's settings.
        history: One row per epoch (``epoch``, ``seconds``, ``images_per_second`` of all
            processes, ``world_size`` and, when validated, ``val_nme`` and ``val_nme_fit``), as
            :class:`Trainer` records them.
        targets: Names of the targets files trained on.
        train_faces: Faces in the training split.
        val_faces: Faces in the validation split.
        elapsed: Seconds of this run (a resumed run counts only its own).
        model_name: The morphable model's metadata name.

    Returns:
        The card: network, weights file name, input, data, config, best epoch and figures.
    """
    best = min(history, key=lambda row: row.get("val_nme", float("inf")))
    throughput = sorted(row["images_per_second"] for row in history)
    return {
        "network": f"torchvision ShuffleNetV2 x{config.width:g}, 62 outputs (whitened)",
        "weights": f"{network_name(config.width)}.pt",
        "input": f"{config.input_size}x{config.input_size} RGB, (x - 127.5) / 128",
        "data": {
            "targets": targets,
            "train_faces": train_faces,
            "val_faces": val_faces,
            "split": "sha1(photo name) < val_fraction",
        },
        "config": config.to_dict(),
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "val_nme_bbox": best.get("val_nme"),
        "val_nme_vs_fit": best.get("val_nme_fit"),
        "val_nme_sparse": best.get("val_nme_sparse"),
        "train_minutes_this_run": round(elapsed / 60, 1),
        "train_minutes_total": round(sum(row["seconds"] for row in history) / 60, 1),
        "images_per_second_median": throughput[len(throughput) // 2],
        # images/s counts all processes together (torchrun); runs before it was logged had one.
        "world_size": int(history[-1].get("world_size", 1)),
        "model": model_name,
    }


def export_weights(
    trainer: Trainer, data: Sequence[Path], folder: Path, elapsed: float
) -> tuple[Path, dict[str, Any]]:
    """Copy a run's best weights to ``folder`` with their model card beside them.

    Args:
        trainer: The trainer after :meth:`Trainer.fit`.
        data: The targets files it trained on.
        folder: Destination (``assets/models`` to ship them).
        elapsed: Seconds of this run.

    Returns:
        The copied weights' path and the card written beside them (``<name>.json``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    card = model_card(
        trainer.config,
        trainer.history,
        targets=", ".join(Path(path).name for path in data),
        train_faces=len(trainer.train_index),
        val_faces=len(trainer.val_index),
        elapsed=elapsed,
        model_name=trainer.model.metadata.get("name"),
    )
    weights = folder / card["weights"]
    shutil.copyfile(trainer.best_path, weights)
    write_json(weights.with_suffix(".json"), card)
    return weights, card
