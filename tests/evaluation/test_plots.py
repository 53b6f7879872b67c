from __future__ import annotations

from pathlib import Path

import numpy as np

from morph3d.evaluation.plots import plot_ced, plot_ced_by_yaw, plot_noise_ladder
from morph3d.io.image import read_image
from morph3d.training.curves import plot_training_curves


def test_training_curves(tmp_path: Path) -> None:
    history = [
        {"epoch": k, "train_loss": 100.0 / k, "val_nme": 10.0 / k, "val_nme_fit": 9.0 / k}
        for k in range(1, 6)
    ]
    image = read_image(plot_training_curves(history, tmp_path / "curves.png"))
    assert image.shape[0] > 100 and image.std() > 10


def test_ced(tmp_path: Path) -> None:
    runs = {"a": np.linspace(1, 5, 50), "b": np.linspace(2, 8, 50)}
    image = read_image(plot_ced(runs, tmp_path / "ced.png"))
    assert image.shape[1] > 300 and image.std() > 10
    assert [p.name for p in tmp_path.iterdir()] == ["ced.png"]


def test_ced_by_yaw_draws_a_panel_per_bin(tmp_path: Path) -> None:
    yaw = np.array([5.0, -20.0, 45.0, -75.0, 88.0] * 10)
    runs = {"a": (np.linspace(1, 5, 50), yaw), "b": (np.linspace(2, 12, 50), yaw)}
    image = read_image(plot_ced_by_yaw(runs, tmp_path / "ced.png"))
    assert image.shape[1] > 3 * image.shape[0]  # four panels side by side
    quarters = np.array_split(image, 4, axis=1)
    assert all(quarter.std() > 10 for quarter in quarters)  # each panel holds curves


def test_noise_ladder_plot(tmp_path: Path) -> None:
    rungs = {f"rung {k}": {"raw": 0.3 * k, "filtered": 0.1 * k, "other": 0.2, "photos": 2}
             for k in range(1, 5)}  # fmt: skip
    report = {"frames": 60, "other": "MediaPipe", "rungs": rungs}
    image = read_image(plot_noise_ladder(report, tmp_path / "ladder.png"))
    assert image.shape[1] > image.shape[0] and image.std() > 10
