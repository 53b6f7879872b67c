"""Plots people look at: cumulative error distributions, tracking steadiness and eye aperture
over time.

Figures are made with matplotlib's object-oriented API (``matplotlib.figure.Figure``), which
needs no backend and changes no global state; :func:`morph3d.files.save_figure` writes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from morph3d.core.metrics import YAW_BIN_EDGES, yaw_bin_index, yaw_bin_labels
from morph3d.files import save_figure

if TYPE_CHECKING:
    from morph3d.evaluation.blinks import BlinkSeries

__all__ = [
    "plot_blink_frames",
    "plot_blinks",
    "plot_ced",
    "plot_ced_by_yaw",
    "plot_eye_aperture",
    "plot_noise_ladder",
    "plot_steadiness",
]


def _ced_axis(
    axis: Any, runs: Mapping[str, Sequence[float] | np.ndarray], limit: float, title: str
) -> None:
    thresholds = np.linspace(0, limit, 501)
    for label, errors in runs.items():
        values = np.sort(np.asarray(errors, dtype=np.float64))
        share = np.searchsorted(values, thresholds, side="right") / max(len(values), 1)
        mean = f"mean {values.mean():.2f}" if len(values) else "no faces"
        axis.plot(thresholds, share, label=f"{label} ({mean})")
    axis.set(xlabel="NME (%)", ylabel="share of faces", title=title, xlim=(0, limit), ylim=(0, 1))
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")


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
    figure = Figure(figsize=(6, 4.2))
    _ced_axis(figure.subplots(), runs, limit, title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_ced_by_yaw(
    runs: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike[str],
    edges: tuple[float, ...] = YAW_BIN_EDGES,
    limit: float = 15.0,
    title: str = "cumulative error distribution",
) -> Path:
    """CED curves of several runs, one panel per |yaw| bin and one for all faces.

    Args:
        runs: Label -> (per-face NME (%), per-face yaw in degrees).
        path: Output image.
        edges: Lower edges of the |yaw| bins (:func:`~morph3d.core.metrics.yaw_bin_index`).
        limit: Largest NME on the x axis.
        title: Prefix of the panel titles.
    """
    labels = [f"|yaw| {name}" for name in yaw_bin_labels(edges)]
    figure = Figure(figsize=(5.2 * (len(edges) + 1), 4.4))
    axes = figure.subplots(1, len(edges) + 1, sharey=True)
    split = {
        label: (np.asarray(errors, dtype=np.float64), yaw_bin_index(np.asarray(yaw), edges))
        for label, (errors, yaw) in runs.items()
    }
    _ced_axis(axes[0], {label: e for label, (e, _) in split.items()}, limit, f"{title}: all")
    for k, name in enumerate(labels):
        in_bin = {label: e[which == k] for label, (e, which) in split.items()}
        count = len(next(iter(in_bin.values()))) if in_bin else 0
        _ced_axis(axes[k + 1], in_bin, limit, f"{name}, {count} faces")
    figure.tight_layout()
    return save_figure(figure, path)


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
    figure = Figure(figsize=(5.2 * len(panels), 3.6))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for label, values in curves.items():
            values = np.asarray(values, dtype=np.float64)
            style = {"color": "black", "lw": 1.0, "ls": "--"} if label == "truth" else {"lw": 1.0}
            axis.plot(np.arange(len(values)) / fps, values, label=label, **style)
        axis.set(xlabel="time (s)", ylabel=ylabel, title=title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


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
    figure = Figure(figsize=(10, 1.9 * len(clips)))
    axes = figure.subplots(len(clips), 1, squeeze=False)
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
    return save_figure(figure, path)


def plot_noise_ladder(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Still-face jitter per rung of the noise ladder (:func:`~morph3d.evaluation.steadiness.
    noise_ladder`): bars for the tracker raw and filtered and for the other landmarker."""
    rungs = report["rungs"]
    labels = list(rungs)
    series = [("raw", "morph3d raw"), ("filtered", "morph3d 1€ filter")]
    if report.get("other"):
        series.append(("other", report["other"]))
    figure = Figure(figsize=(max(8, 0.75 * len(labels)), 4.2))
    axis = figure.subplots()
    width = 0.8 / len(series)
    positions = np.arange(len(labels))
    for k, (key, name) in enumerate(series):
        values = [rungs[label].get(key, np.nan) for label in labels]
        axis.bar(positions + (k - (len(series) - 1) / 2) * width, values, width, label=name)
    axis.set_xticks(positions, labels, rotation=35, ha="right")
    axis.set_ylabel("jitter (% of face size)")
    axis.set_title(
        f"still face, {report['frames']} frames per rung: RMS frame-to-frame motion "
        f"(mean over {max(r['photos'] for r in rungs.values())} photos)"
    )
    axis.grid(axis="y", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return save_figure(figure, path)


def plot_blinks(series: Mapping[str, BlinkSeries], path: str | os.PathLike[str]) -> Path:
    """Blinks over time, one row per clip: the eye aperture the eyelid refiner reads and the
    mesh's (left axis) beside the mean eyeBlink coefficient (right axis, shaded).

    Args:
        series: Clip name -> its :class:`~morph3d.evaluation.blinks.BlinkSeries`.
        path: Output image.
    """
    figure = Figure(figsize=(10, 1.9 * len(series)))
    axes = figure.subplots(len(series), 1, squeeze=False)
    for axis, (name, record) in zip(axes[:, 0], series.items(), strict=True):
        time = np.arange(len(record.blink)) / record.fps
        axis.plot(time, record.refiner_aperture, lw=0.9, color="tab:blue",
                  label="eyelid refiner aperture")  # fmt: skip
        axis.plot(time, record.mesh_aperture, lw=0.9, color="tab:orange", label="mesh aperture")
        axis.set_ylabel(f"{name}\naperture")
        axis.grid(alpha=0.3)
        blink = axis.twinx()
        blink.fill_between(time, 0, np.nan_to_num(record.mean_blink), color="tab:red",
                           alpha=0.25, lw=0, label="eyeBlink (mean of L, R)")  # fmt: skip
        blink.set_ylim(0, 1.05)
        blink.set_ylabel("eyeBlink")
        r = record.correlation()
        axis.set_title(f"{name}: eyeBlink vs refiner aperture r = {r:.2f}", fontsize=9)
        if axis is axes[0, 0]:
            lines = axis.get_legend_handles_labels()
            shade = blink.get_legend_handles_labels()
            axis.legend(lines[0] + shade[0], lines[1] + shade[1], fontsize=8, ncol=3,
                        loc="lower left")  # fmt: skip
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_blink_frames(
    rows: Mapping[str, Sequence[tuple[str, np.ndarray]]], path: str | os.PathLike[str]
) -> Path:
    """A sheet of image bands, one row per clip, each panel titled (e.g. eyes open, then the
    same face at a blink, photo and mesh).

    Args:
        rows: Row name -> ``(title, (H, W, 3) uint8 image)`` panels, left to right.
        path: Output image.
    """
    columns = max(len(panels) for panels in rows.values())
    figure = Figure(figsize=(3.2 * columns, 1.5 * len(rows) + 0.3))
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for line, (name, panels) in zip(axes, rows.items(), strict=True):
        for axis in line:
            axis.axis("off")
        for axis, (title, image) in zip(line, panels, strict=False):
            axis.imshow(image)
            axis.set_title(f"{name}: {title}", fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)
