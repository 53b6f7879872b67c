"""``morph3d export``: export trained weights to ONNX, checked against torch; with ``--int8``
also an int8 copy calibrated on training crops (:mod:`morph3d.training.quantize`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from morph3d.cli.options import add_model_option, add_weights_option

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register the command on the subparsers ``commands``."""
    parser = commands.add_parser("export", help="export trained weights to ONNX, checked")
    add_weights_option(parser, "state dict (default: shipped x1.0)")
    parser.add_argument("-o", "--output", type=Path, help="ONNX file (default: beside weights)")
    parser.add_argument("--input-size", type=int, default=120)
    parser.add_argument(
        "--int8", type=Path, nargs="+", metavar="TARGETS",
        help="also write <output>_int8.onnx, calibrated on training crops of these targets files",
    )  # fmt: skip
    parser.add_argument("--calibration", type=int, default=256, help="calibration crops (--int8)")
    parser.add_argument(
        "--percentiles", type=float, nargs="+", metavar="P",
        help="activation-range percentiles to try (--int8); the copy whose landmarks move least "
        "on 256 validation crops of the targets is kept (default: 99.9 99.95 99.97 99.99)",
    )  # fmt: skip
    parser.add_argument(
        "--litert", action="store_true",
        help="with --int8, also write <output>_int8.tflite for LiteRT (needs tensorflow-cpu), "
        "its ReLU outputs clipped at the best percentile",
    )  # fmt: skip
    add_model_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export, then compare the landmarks of torch and ONNX Runtime on random crops."""
    import numpy as np

    from morph3d.core.model import load_model
    from morph3d.inference.export import export_onnx
    from morph3d.inference.onnx_predictor import OnnxPredictor
    from morph3d.inference.torch_predictor import TorchPredictor, load_regressor
    from morph3d.paths import weights_path

    if args.litert:
        _check_litert(args)
    source = weights_path(args.weights)
    network = load_regressor(source)
    out = args.output or source.with_suffix(".onnx")
    export_onnx(network, out, args.input_size)
    model = load_model(args.model)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (8, args.input_size, args.input_size, 3), dtype=np.uint8)
    reference = model.landmarks(TorchPredictor(network, model).predict(crops))
    runtime = OnnxPredictor(out)
    exported = model.landmarks(runtime.predict(crops))
    difference = float(np.abs(reference - exported).max())
    print(f"exported {source} -> {out}; max landmark difference vs torch {difference:.2e} px")
    if difference >= 1e-3:
        print("morph3d: error: the ONNX model disagrees with torch", file=sys.stderr)
        return 1
    if args.int8:
        from morph3d.cli.options import CommandError
        from morph3d.cli.termination import progress
        from morph3d.training.quantize import PERCENTILES, calibration_crops, quantize_best

        missing = [str(path) for path in args.int8 if not Path(path).is_file()]
        if missing:
            raise CommandError(f"no targets file {', '.join(missing)} (scripts/fit_3dmm.py)")
        calibration = calibration_crops(args.int8, args.calibration)
        held = calibration_crops(args.int8, 256, validation=True)
        small, moves = quantize_best(
            out,
            out.with_name(f"{out.stem}_int8.onnx"),
            calibration,
            held,
            model.landmarks,
            args.percentiles or PERCENTILES,
            progress,
        )
        best = min(moves, key=moves.__getitem__)
        tried = ", ".join(f"{p:g}: {m:.3f}" for p, m in moves.items())
        print(
            f"int8 -> {small} ({len(calibration)} calibration crops, percentile {best:g}); mean "
            f"landmark move on {len(held)} validation crops by percentile: {tried} px"
        )
        if args.litert:
            _export_litert(network, out, calibration, held, model.landmarks, args.percentiles)
    return 0


def _check_litert(args: argparse.Namespace) -> None:
    """Refuse ``--litert`` before any work without ``--int8`` or without TensorFlow."""
    from morph3d.cli.options import CommandError

    if not args.int8:
        raise CommandError("--litert needs --int8 TARGETS (its calibration crops)")
    try:
        import tensorflow  # noqa: F401
    except ImportError as error:
        raise CommandError(f"--litert needs tensorflow-cpu ({error})") from error


def _export_litert(
    network: Any, out: Path, calibration: Any, held: Any, landmarks: Any, percentiles: Any
) -> None:
    """Write ``<out>_int8.tflite``: one LiteRT copy per percentile, the one whose landmarks move
    least from the float ONNX network's on ``held`` kept."""
    from morph3d.cli.termination import progress
    from morph3d.inference.litert_export import export_litert
    from morph3d.training.quantize import PERCENTILES, best_copy

    def copy(path: Path, percentile: float) -> Path:
        return export_litert(network, path, calibration, percentile)

    target, moves = best_copy(
        copy, out, out.with_name(f"{out.stem}_int8.tflite"), held, landmarks,
        percentiles or PERCENTILES, progress,
    )  # fmt: skip
    best = min(moves, key=moves.__getitem__)
    tried = ", ".join(f"{p:g}: {m:.3f}" for p, m in moves.items())
    print(f"LiteRT int8 -> {target} (percentile {best:g}); mean landmark move by percentile: "
          f"{tried} px")  # fmt: skip
