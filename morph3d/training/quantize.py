"""int8 regressors: ONNX Runtime static quantization calibrated on training crops.

The float ONNX regressor (:func:`morph3d.inference.export.export_onnx`) becomes a QDQ graph
with per-channel int8 weights and uint8 activations whose ranges span a high percentile of the
calibration crops' values (min-max ranges cost more: on the 122 300W validation faces NME
3.355 against 3.347 for the shipped network, 3.637 against 3.511 for the large-pose preview of
stop 18, float 3.342 / 3.544); the last layer (the ``Gemm`` that outputs raw parameters, whose
outputs span rotations of 1e-3 and translations of 60 px in one tensor) stays float. On CPUs
with VNNI (AVX-512 or AVX-VNNI) ONNX Runtime runs the int8 convolutions natively.

Which percentile is best depends on the network and not smoothly on the percentile (for one
network the landmarks moved 0.64, 0.37, 0.53 px at 99.99, 99.95, 99.9), so
:func:`quantize_best` writes a copy for each of :data:`PERCENTILES` and keeps the one whose
landmarks move least from the float network's on held-out crops.

Calibration crops come from the *training* side of :func:`morph3d.io.datasets.split_indices`
of targets files (:mod:`morph3d.training.targets`), the crops that choose the percentile from
its validation side; any evaluation set stays unseen.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.files import atomic_path
from morph3d.io.datasets import split_indices
from morph3d.io.image import crops_to_input
from morph3d.progress import Progress, no_progress
from morph3d.training.augment import centre_crop

__all__ = [
    "PERCENTILE",
    "PERCENTILES",
    "best_copy",
    "calibration_crops",
    "quantize_best",
    "quantize_regressor",
]

#: Percentile of the calibration activations that sets each tensor's int8 range by default.
PERCENTILE = 99.99
#: The percentiles :func:`quantize_best` tries.
PERCENTILES = (99.9, 99.95, 99.97, 99.99)


def calibration_crops(
    paths: Sequence[str | os.PathLike[str]],
    count: int = 256,
    val_fraction: float = 0.1,
    seed: int = 0,
    validation: bool = False,
) -> np.ndarray:
    """``(count, S, S, 3)`` uint8 network crops drawn from the training faces of targets files.

    Args:
        paths: Targets HDF5 files; the crops are split evenly among them.
        count: Crops in all.
        val_fraction: The validation share of :func:`~morph3d.io.datasets.split_indices`, whose
            faces are never drawn (the trainer's default).
        seed: Seed of the draw.
        validation: Draw from the validation faces instead (crops the calibration never saw).

    Raises:
        ValueError: no paths, or a file with no faces on the side drawn from.
    """
    import h5py

    if not paths or count < 1:
        raise ValueError("give at least one targets file and a positive count")
    rng = np.random.default_rng(seed)
    shares = np.diff(np.linspace(0, count, len(paths) + 1).round().astype(int))
    crops: list[np.ndarray] = []
    for path, share in zip(paths, shares, strict=True):
        with h5py.File(path, "r") as targets:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in targets["name"][:]]
            train, val = split_indices(names, val_fraction)
            side = val if validation else train
            if not len(side):
                raise ValueError(
                    f"{path} has no {'validation' if validation else 'training'} faces"
                )
            chosen = np.sort(rng.choice(side, min(int(share), len(side)), replace=False))
            images = targets["image"][chosen]
        crops.extend(centre_crop(image) for image in images)  # the un-augmented network crop
    return np.stack(crops)


def quantize_regressor(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    crops: np.ndarray,
    percentile: float = PERCENTILE,
) -> Path:
    """Write an int8 copy of a float ONNX regressor, calibrated on ``crops``, atomically.

    Args:
        source: The float ``.onnx`` regressor.
        out: The int8 ``.onnx`` file to write.
        crops: ``(N, S, S, 3)`` uint8 calibration crops (:func:`calibration_crops`).
        percentile: Percentile of each activation's calibration values that sets its range.

    Returns:
        The path written.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    graph = onnx.load(str(source)).graph
    input_name = graph.input[0].name
    float_nodes = [node.name for node in graph.node if node.op_type == "Gemm"]

    class Crops(CalibrationDataReader):
        # Read in strides: ONNX Runtime's histogram calibrators hold every activation of every
        # crop they are given at once (`morph3d export --int8 --calibration 1024` of the 1.0x
        # peaked at 11.4 GB; 2.3 GB in strides of 128), and fold each stride into their
        # histograms (the int8 copy moved the landmarks as little: 0.319 px either way).
        def __init__(self) -> None:
            self.set_range(0, len(crops))

        def __len__(self) -> int:
            return len(crops)

        def set_range(self, start_index: int, end_index: int) -> None:
            part = crops[start_index:end_index]
            self.batches: Iterator[np.ndarray] = (crops_to_input(c[None]) for c in part)

        def get_next(self) -> dict[str, Any] | None:
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    quiet = contextlib.redirect_stdout(io.StringIO())  # onnxruntime prints its histogram
    with tempfile.TemporaryDirectory() as folder, atomic_path(out) as temporary, quiet:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(temporary),
            Crops(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=float_nodes,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": percentile, **_strides(len(crops))},
        )
    return Path(out)


#: The most crops a histogram calibrator is given at once (:func:`quantize_regressor`).
CALIBRATION_STRIDE = 128


def _strides(count: int) -> dict[str, int]:
    """ONNX Runtime's option to calibrate ``count`` crops in strides: the largest divisor of
    ``count`` up to :data:`CALIBRATION_STRIDE` (its reader demands whole strides), or one
    pass when ``count`` fits in one stride or its largest such divisor is under a quarter of
    :data:`CALIBRATION_STRIDE` (a prime count: one pass, memory unbounded as before)."""
    if count <= CALIBRATION_STRIDE:
        return {}
    stride = next(d for d in range(CALIBRATION_STRIDE, 0, -1) if count % d == 0)
    return {"CalibStridedMinMax": stride} if stride * 4 >= CALIBRATION_STRIDE else {}


def quantize_best(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    crops: np.ndarray,
    held: np.ndarray,
    landmarks: Callable[[np.ndarray], np.ndarray],
    percentiles: Sequence[float] = PERCENTILES,
    progress: Progress = no_progress,
) -> tuple[Path, dict[float, float]]:
    """Write the int8 copy, among one per percentile, that moves the landmarks least.

    Args:
        source: The float ``.onnx`` regressor.
        out: The int8 ``.onnx`` file to write (atomically; nothing else is left behind).
        crops: ``(N, S, S, 3)`` uint8 calibration crops.
        held: ``(M, S, S, 3)`` uint8 crops that judge the copies (held out from ``crops``:
            ``calibration_crops(..., validation=True)``).
        landmarks: ``(M, 62)`` raw parameters -> ``(M, 68, 2+)`` landmarks
            (``MorphableModel.landmarks``).
        percentiles: The percentiles tried.
        progress: Wraps the percentiles to show progress.

    Returns:
        The path written and, per percentile, the mean landmark move in crop pixels against
        the float network on ``held``.

    Raises:
        ValueError: no percentiles.
    """

    def copy(path: Path, percentile: float) -> Path:
        return quantize_regressor(source, path, crops, percentile)

    return best_copy(copy, source, out, held, landmarks, percentiles, progress)


def best_copy(
    make: Callable[[Path, float], Path],
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    held: np.ndarray,
    landmarks: Callable[[np.ndarray], np.ndarray],
    percentiles: Sequence[float] = PERCENTILES,
    progress: Progress = no_progress,
) -> tuple[Path, dict[float, float]]:
    """Make one int8 copy per percentile and keep the one whose landmarks move least from the
    float network's (:func:`quantize_best`; the LiteRT copies of ``morph3d export --litert``).

    Args:
        make: ``(path, percentile)`` -> the copy written at ``path`` (its suffix is ``out``'s).
        source: The float ``.onnx`` regressor, the reference.
        out: The file to write (atomically; nothing else is left behind).
        held: ``(M, S, S, 3)`` uint8 crops that judge the copies.
        landmarks: ``(M, 62)`` raw parameters -> ``(M, 68, 2+)`` landmarks.
        percentiles: The percentiles tried.
        progress: Wraps the percentiles to show progress.

    Returns:
        The path written and, per percentile, the mean landmark move in crop pixels.

    Raises:
        ValueError: no percentiles.
    """
    from morph3d.inference.onnx_predictor import OnnxPredictor

    if not percentiles:
        raise ValueError("give at least one percentile")
    reference = landmarks(OnnxPredictor(source).predict(held))[..., :2]
    moves: dict[float, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        copies: dict[float, Path] = {}
        for percentile in progress(percentiles, desc="int8 copies", total=len(percentiles)):
            copy = make(Path(folder) / f"{percentile}{Path(out).suffix}", percentile)
            moved = landmarks(OnnxPredictor(copy).predict(held))[..., :2] - reference
            moves[float(percentile)] = float(np.linalg.norm(moved, axis=-1).mean())
            copies[float(percentile)] = copy
        best = min(moves, key=moves.__getitem__)
        with atomic_path(out) as temporary:
            shutil.copyfile(copies[best], temporary)
    return Path(out), moves
