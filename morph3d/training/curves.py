"""The training curves of a run, as a picture."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from morph3d.files import save_figure

__all__ = ["plot_training_curves"]


def plot_training_curves(
    history: Sequence[Mapping[str, float]], path: str | os.PathLike[str]
) -> Path:
    """Training loss and validation NME per epoch, side by side, saved to ``path``."""
    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(10, 3.8))
    left, right = figure.subplots(1, 2)
    left.plot(epochs, [row["train_loss"] for row in history], color="tab:blue")
    left.set(xlabel="epoch", ylabel="training loss", title="training loss", yscale="log")
    for key, label in (("val_nme", "vs annotation"), ("val_nme_fit", "vs fitted landmarks")):
        values = [row.get(key, np.nan) for row in history]
        if not np.all(np.isnan(values)):
            right.plot(epochs, values, label=label)
    right.set(xlabel="epoch", ylabel="NME (bbox, %)", title="validation NME")
    right.grid(alpha=0.3)
    if right.get_legend_handles_labels()[0]:
        right.legend()
    best = min((row.get("val_nme", np.inf) for row in history), default=np.inf)
    if np.isfinite(best):
        right.axhline(best, color="gray", lw=0.8, ls="--")
        right.text(epochs[0], best, f" best {best:.2f}", va="bottom", fontsize=8)
        # Early spikes would flatten the part people look at: cap the axis at 4x the best.
        top = max((row.get("val_nme", 0.0) for row in history), default=0.0)
        right.set_ylim(0, min(top * 1.05, 4 * best))
    figure.tight_layout()
    return save_figure(figure, path)
