"""Shared fixtures: a tiny random morphable model for unit tests, and the shared data.

Markers: a test is ``integration`` when it reads the shared data, the model cache or the shipped
assets (it asks for ``shared_data`` or ``real_model``, or carries the marker), else ``unit``; the
longest carry ``slow`` as well. ``pytest -m unit`` runs in seconds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from morph3d.core.mesh import grid_triangles
from morph3d.core.model import MorphableModel, load_model
from morph3d.core.params import ParamLayout
from morph3d.paths import model_path

if TYPE_CHECKING:
    from morph3d.training.targets import Targets

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def make_tiny_model(seed: int = 0, rows: int = 5, columns: int = 6) -> MorphableModel:
    """A random model: a curved ``rows x columns`` grid plus 68 landmark vertices.

    Its scale mimics the real model (coordinates ~1e5 model units, pose scale ~1e-4) so that
    the numbers exercised are of the same magnitude.
    """
    rng = np.random.default_rng(seed)
    n_grid = rows * columns
    grid = np.arange(n_grid).reshape(rows, columns)
    r, c = np.divmod(np.arange(n_grid), columns)
    x = (c - (columns - 1) / 2) * 2e4
    y = -(r - (rows - 1) / 2) * 2e4
    z = -(x**2 + y**2) / 2e5  # a cap bulging toward +z
    surface = np.stack([x, y, z], axis=1)
    landmarks = rng.normal(scale=3e4, size=(68, 3))
    mean = np.concatenate([surface, landmarks])
    n = len(mean)
    param_mean = np.zeros(62)
    param_mean[:12] = [2e-4, 0, 0, 60, 0, 2e-4, 0, 60, 0, 0, 2e-4, -60]
    param_std = np.concatenate([np.full(12, 1e-5), np.full(50, 1.0)])
    param_std[[3, 7, 11]] = 5.0
    return MorphableModel(
        mean=mean.astype(np.float32),
        shape_basis=rng.normal(scale=1e3, size=(n, 3, 40)).astype(np.float32),
        expression_basis=rng.normal(scale=1e3, size=(n, 3, 10)).astype(np.float32),
        triangles=grid_triangles(grid),
        landmark_indices=np.arange(n_grid, n),
        grid=grid,
        layout=ParamLayout(40, 10, mean=param_mean, std=param_std),
        metadata={"name": "tiny", "version": 1},
    )


def make_tiny_targets(model: MorphableModel, count: int = 16, seed: int = 0) -> Targets:
    """Targets of ``count`` random faces of ``model`` (random images), every other one sparse;
    with file attributes, so that :func:`~morph3d.training.targets.write_targets` makes a
    file that scripts/train.py reads."""
    from morph3d.core.fitting import FitConfig
    from morph3d.core.landmarks21 import FITTED_21, to_aflw21
    from morph3d.training.targets import STORED_SIZE, Targets, target_attrs

    rng = np.random.default_rng(seed)
    layout = model.layout
    params = layout.denormalize(0.5 * rng.normal(size=(count, layout.size)))
    landmarks = model.landmarks(params)
    sparse = np.arange(count) % 2 == 1
    points = to_aflw21(landmarks[..., :2])
    hidden = rng.random((count, 21)) < 0.3
    points[hidden | ~FITTED_21] = np.nan
    points[~sparse] = np.nan
    boxes = np.tile([0.0, 0.0, 120.0, 120.0], (count, 1))
    return Targets(
        name=[f"face{k}" for k in range(count)],
        source=[""] * count,
        image=rng.integers(0, 256, (count, STORED_SIZE, STORED_SIZE, 3), dtype=np.uint8),
        image_box=boxes * 2 - 60,
        crop_box=boxes,
        annotation=landmarks[..., :2].astype(np.float32),
        params=params,
        fit_landmarks=landmarks.astype(np.float32),
        model_landmarks=landmarks.astype(np.float32),
        fit_nme=np.zeros(count, np.float32),
        yaw=np.zeros(count, np.float32),
        silhouette_jaw=np.zeros(count, np.uint8),
        fit_yaw=np.zeros(count, np.float32),
        flags=np.zeros(count, np.uint8),
        sparse=sparse,
        sparse_points=points.astype(np.float32),
        attrs=target_attrs(model, FitConfig()),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test ``unit`` or ``integration`` (see the module docstring)."""
    for item in items:
        if item.get_closest_marker("integration") or item.get_closest_marker("unit"):
            continue
        needs_data = {"shared_data", "real_model"} & set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.integration if needs_data else pytest.mark.unit)


@pytest.fixture
def tiny_model() -> MorphableModel:
    """A tiny random morphable model (98 vertices)."""
    return make_tiny_model()


@pytest.fixture
def random_params(tiny_model: MorphableModel) -> np.ndarray:
    """``(4, 62)`` float64 parameters drawn from the tiny model's statistics."""
    rng = np.random.default_rng(1)
    layout = tiny_model.layout
    return layout.denormalize(rng.normal(size=(4, layout.size)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; integration tests fail (never skip) without it."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data is missing: expected {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_model() -> MorphableModel:
    """The converted default model from the cache (``bash setup.sh`` makes it)."""
    return load_model(model_path())


def load_script(relative: str) -> ModuleType:
    """Import a script of ``bfm/`` or ``scripts/`` (they are not packages) by its path."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def short_clip(source: Path, path: Path, frames: int) -> Path:
    """Copy the first ``frames`` frames of a video into ``path`` (same fps and size)."""
    from morph3d.io.video import VideoReader, VideoWriter

    video = VideoReader(source)
    with VideoWriter(path, video.fps, (video.width, video.height)) as writer:
        for frame in video:
            if frame.index == frames:
                break
            writer.write(frame.image)
    return path
