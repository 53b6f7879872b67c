"""Plots people look at: training curves, cumulative error distributions, tracking steadiness
and eye aperture over time (layer 2).

matplotlib is imported here only, with its non-interactive Agg backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from morph3d.files import atomic_path

__all__ = ["plot_ced", "plot_eye_aperture", "plot_steadiness", "plot_training_curves"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    with atomic_path(target) as temporary:
        figure.savefig(temporary, format=target.suffix.lstrip(".") or "png", dpi=110)
    _pyplot().close(figure)
    return target


def plot_training_curves(
    history: Sequence[Mapping[str, float]], path: str | os.PathLike[str]
) -> Path:
    """Training loss and validation NME per epoch, side by side, saved to ``path``."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
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
    return _save(figure, path)


def plot_ced(
    runs: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    limit: float = 10.0,
    title: str = "cumulative error distribution",
) -> Path:
    """Cumulative error distribution curves of several runs on one plot.

    Args:
        runs: Label -> per-face NME (%).
        path: Output image.
        limit: Largest NME on the x axis.
        title: Plot title.
    """
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.2))
    thresholds = np.linspace(0, limit, 501)
    for label, errors in runs.items():
        values = np.sort(np.asarray(errors, dtype=np.float64))
        share = np.searchsorted(values, thresholds, side="right") / max(len(values), 1)
        axis.plot(thresholds, share, label=f"{label} (mean {values.mean():.2f})")
    axis.set(xlabel="NME (%)", ylabel="share of faces", title=title, xlim=(0, limit), ylim=(0, 1))
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    return _save(figure, path)


def plot_steadiness(
    panels: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    fps: float,
    ylabel: str = "x (px)",
) -> Path:
    """One panel per test (e.g. still and moving), each with one curve per track.

    Args:
        panels: Panel title -> (curve label -> ``(T,)`` values per frame).
        path: Output image.
        fps: Frame rate, for the time axis.
        ylabel: Label of the value axis.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for axis, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for label, values in curves.items():
            values = np.asarray(values, dtype=np.float64)
            style = {"color": "black", "lw": 1.0, "ls": "--"} if label == "truth" else {"lw": 1.0}
            axis.plot(np.arange(len(values)) / fps, values, label=label, **style)
        axis.set(xlabel="time (s)", ylabel=ylabel, title=title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def plot_eye_aperture(
    clips: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    fps: Mapping[str, float],
) -> Path:
    """Eye aperture over time, one row per clip, one curve per tracker.

    Args:
        clips: Clip name -> (tracker label -> ``(T,)`` aperture, NaN where no face).
        path: Output image.
        fps: Clip name -> frame rate.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(len(clips), 1, figsize=(10, 1.9 * len(clips)), squeeze=False)
    for axis, (name, curves) in zip(axes[:, 0], clips.items(), strict=True):
        for label, values in curves.items():
            values = np.asarray(values, dtype=np.float64)
            axis.plot(np.arange(len(values)) / fps[name], values, label=label, lw=0.9)
        axis.set_ylabel(f"{name}\naperture")
        axis.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, ncol=3, loc="upper right")
    axes[0, 0].set_title("eye aperture (eyelid distance / eye width, both eyes averaged)")
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    return _save(figure, path)
