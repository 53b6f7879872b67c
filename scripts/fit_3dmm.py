"""Fit the morphable model to annotated faces: the training targets of morph3d.

    python scripts/fit_3dmm.py --format 300w --root ../shared/data/300w \\
        --out targets/300w.h5 --summary targets/300w.json

Writes the HDF5 targets (see morph3d.training.targets), a JSON summary (count, failures with
reasons, fit NME median / p95 / mean, per-face NME) and a contact sheet PNG of the worst fits first.
Every file is written to a temporary name and renamed when complete; a failed run leaves earlier
outputs as they were. A face that cannot be read or fitted is recorded with the reason.

    python scripts/fit_3dmm.py --format aflw21 --root ../shared/data/aflw21 \\
        --out work/targets/aflw21.h5 --summary work/targets/aflw21.json

fits the sparse AFLW faces (morph3d.training.aflw21_targets) after dropping the bad entries;
its summary has the filter counts, the fit NME and yaw agreement by |yaw| bin, and the framing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from morph3d.core.crop import crop_to_image
from morph3d.core.fitting import FitConfig
from morph3d.core.model import load_model
from morph3d.errors import Morph3DError
from morph3d.evaluation.draw import contact_sheet, overlay_face
from morph3d.files import write_json
from morph3d.io.aflw21 import filter_aflw21, read_aflw21
from morph3d.io.datasets import find_faces
from morph3d.io.image import write_image
from morph3d.training.aflw21_targets import SPARSE_FIT, build_aflw21_targets, summarize_aflw21
from morph3d.training.augment import centre_crop
from morph3d.training.distributed import resolve_device
from morph3d.training.targets import FLAG_AT_BOUND, Targets, build_targets, write_targets

TILE = 160
_PRIORS = ("shape_prior", "expression_prior", "jaw_depth_prior")  # FitConfig fields


def given_priors(args: argparse.Namespace) -> dict[str, float]:
    """The prior weights given on the command line (the others stay the format's own)."""
    return {name: getattr(args, name) for name in _PRIORS if getattr(args, name) is not None}


def render_sheet(targets: Targets, model, count: int, columns: int) -> np.ndarray:
    """The ``count`` worst fits, each its crop with the fitted mesh and landmarks."""
    order = np.argsort(-targets.fit_nme)[:count]
    tiles, labels = [], []
    box = np.array([0.0, 0.0, TILE, TILE])
    for k in order:
        tile = centre_crop(targets.image[k], TILE)
        vertices = crop_to_image(model.decode(targets.params[k]), box)
        # Sparse faces: their annotated visible points (their annotation is the fit itself).
        annotated = targets.sparse_points[k] if targets.sparse[k] else targets.annotation[k]
        reference = annotated.astype(np.float64)
        tile = overlay_face(
            tile,
            vertices,
            model.triangles,
            landmarks=crop_to_image(targets.fit_landmarks[k].astype(np.float64), box),
            reference=crop_to_image(reference[np.isfinite(reference).all(axis=1)], box),
        )
        tiles.append(tile)
        labels.append(f"{targets.fit_nme[k]:.2f} {Path(targets.name[k]).name[:16]}")
    return contact_sheet(tiles, columns, labels)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--format", required=True, choices=["300w", "mat", "dlib", "aflw21"])
    parser.add_argument("--root", required=True, type=Path, help="dataset folder (or dlib XML)")
    parser.add_argument("--out", required=True, type=Path, help="output HDF5 file")
    parser.add_argument("--summary", type=Path, help="output JSON (default: OUT with .json)")
    parser.add_argument("--sheet", type=Path, help="contact sheet PNG (default: OUT with .png)")
    parser.add_argument("--sheet-count", type=int, default=48, help="faces on the sheet")
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--no-marching", action="store_true", help="keep jaw landmarks fixed")
    for name in _PRIORS:  # the format's defaults unless given
        dense, sparse = getattr(FitConfig, name), getattr(SPARSE_FIT, name)
        help_text = f"weight (see FitConfig; default {dense:g}, aflw21 {sparse:g})"
        parser.add_argument("--" + name.replace("_", "-"), type=float, help=help_text)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda or auto (default: cuda when a GPU is there)"
    )
    parser.add_argument("--limit", type=int, help="aflw21: only the first N kept faces")
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    summary_path = args.summary or args.out.with_suffix(".json")
    sheet_path = args.sheet or args.out.with_suffix(".png")
    if args.format == "aflw21":
        return run_aflw21(args, summary_path, sheet_path)

    started = time.perf_counter()
    try:
        model = load_model(args.model)
        faces, failures = find_faces(args.format, args.root)
    except (Morph3DError, FileNotFoundError) as error:
        print(f"fit_3dmm: {error}", file=sys.stderr)
        return 1
    print(f"fit_3dmm: {len(faces)} faces under {args.root} ({len(failures)} unusable files)")
    config = FitConfig(marching=not args.no_marching, **given_priors(args))
    targets, more = build_targets(
        faces, model, config, args.batch_size, partial(tqdm, leave=False), args.device
    )
    failures += more
    if len(targets) == 0:
        print("fit_3dmm: no face could be fitted; nothing written", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.name}: {failure.reason}", file=sys.stderr)
        return 1
    write_targets(args.out, targets)
    elapsed = time.perf_counter() - started

    errors = targets.fit_nme.astype(np.float64)
    z = model.layout.normalize(targets.params)[:, model.layout.coefficients]
    summary = {
        "count": len(targets),
        "failed": [{"name": f.name, "reason": f.reason} for f in failures],
        "fit_nme_median": float(np.median(errors)),
        "fit_nme_p95": float(np.percentile(errors, 95)),
        "fit_nme_mean": float(errors.mean()),
        "within_3std": float(np.mean(np.all(np.abs(z) <= 3.0 + 1e-9, axis=1))),
        "at_bound": float(np.mean((targets.flags & FLAG_AT_BOUND) > 0)),
        "marching": config.marching,
        **{name: getattr(config, name) for name in _PRIORS},
        "format": args.format,
        "root": str(args.root),
        "seconds": round(elapsed, 1),
        "per_image": {name: float(e) for name, e in zip(targets.name, errors, strict=True)},
    }
    write_json(summary_path, summary)
    columns = min(8, len(targets), args.sheet_count)
    write_image(sheet_path, render_sheet(targets, model, args.sheet_count, columns))
    print(
        f"fit_3dmm: fitted {summary['count']} faces in {elapsed:.1f} s "
        f"(failed {len(failures)}): NME median {summary['fit_nme_median']:.3f}, "
        f"p95 {summary['fit_nme_p95']:.3f}, mean {summary['fit_nme_mean']:.3f}; "
        f"all coefficients within 3 std: {summary['within_3std']:.1%}"
    )
    print(f"fit_3dmm: wrote {args.out}, {summary_path}, {sheet_path}")
    return 0


def run_aflw21(args: argparse.Namespace, summary_path: Path, sheet_path: Path) -> int:
    """The ``--format aflw21`` run."""
    started = time.perf_counter()
    try:
        model = load_model(args.model)
        faces = read_aflw21(args.root)
    except (Morph3DError, FileNotFoundError, ValueError) as error:
        print(f"fit_3dmm: {error}", file=sys.stderr)
        return 1
    kept, counts = filter_aflw21(faces, progress=partial(tqdm, leave=False))
    print(f"fit_3dmm: {len(faces)} AFLW faces, dropped {counts}")
    if args.limit is not None:
        kept = kept.subset(np.arange(min(args.limit, len(kept))))
    filtered = time.perf_counter()
    config = replace(SPARSE_FIT, **given_priors(args))
    targets, build = build_aflw21_targets(
        kept,
        model,
        config,
        batch_size=max(args.batch_size, 1024),
        progress=partial(tqdm, leave=False),
        device=args.device,
    )
    built = time.perf_counter()
    write_targets(args.out, targets)
    summary = {"filter": counts, **summarize_aflw21(targets, build)}
    summary.update({name: getattr(config, name) for name in _PRIORS})
    summary["seconds"] = {
        "filter": round(filtered - started, 1),
        "fit_and_crop": round(built - filtered, 1),
        "total": round(time.perf_counter() - started, 1),
        "faces_per_second_fit_and_crop": round(len(targets) / max(built - filtered, 1e-9), 1),
    }
    summary["per_image"] = {n: float(e) for n, e in zip(targets.name, targets.fit_nme, strict=True)}
    write_json(summary_path, summary)
    write_image(sheet_path, render_sheet(targets, model, args.sheet_count, 8))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_image"}, indent=1))
    print(f"fit_3dmm: wrote {args.out}, {summary_path}, {sheet_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
