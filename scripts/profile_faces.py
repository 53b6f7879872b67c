"""3D face profiling: render large-pose views of fitted faces (our own 300W-LP).

    python scripts/profile_faces.py --targets work/targets/300w.h5 \\
        --out work/targets/300w_lp.h5 --sheet docs/profiling_sheet.png

Reads a targets file of fitted faces (scripts/fit_3dmm.py), turns every face to yaws out to
+-90 degrees with some pitch (morph3d.training.profiling), and writes the originals followed by
their views, in the same targets format (``synthetic``, ``view_of``), plus a JSON summary and a
contact sheet of a few faces by yaw with their landmarks.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from morph3d.core.crop import crop_to_image
from morph3d.core.model import load_model
from morph3d.errors import Morph3DError
from morph3d.evaluation.draw import contact_sheet, draw_landmarks
from morph3d.files import write_json
from morph3d.io.image import write_image
from morph3d.training.distributed import resolve_device
from morph3d.training.profiling import ProfileConfig, profile_targets
from morph3d.training.targets import Targets, read_targets, write_targets

SHEET_FACES = 6
SHEET_COLUMNS = 8
SHEET_TILE = 136


def render_sheet(targets: Targets, faces: list[int]) -> np.ndarray:
    """Each face (its original first) and up to ``SHEET_COLUMNS - 1`` of its views, spread
    over their yaws in order."""
    crop = np.array([60.0, 60.0, 180.0, 180.0])  # the crop box in the stored image
    tiles, labels = [], []
    for face in faces:
        views = np.flatnonzero(targets.view_of == face)
        views = views[np.argsort(targets.fit_yaw[views])]
        spread = np.linspace(0, len(views) - 1, min(len(views), SHEET_COLUMNS - 1))
        views = views[np.unique(np.round(spread).astype(int))]
        for k in [face, *views]:
            points = crop_to_image(targets.fit_landmarks[k, :, :2].astype(np.float64), crop)
            tile = draw_landmarks(targets.image[k], points, radius=1.6)
            tiles.append(cv2.resize(tile, (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA))
            kind = "src" if k == face else "view"
            labels.append(f"{kind} {targets.fit_yaw[k]:+.0f}")
        while len(tiles) % SHEET_COLUMNS:
            tiles.append(np.full_like(tiles[-1], 255))
            labels.append("")
    return contact_sheet(tiles, SHEET_COLUMNS, labels)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", required=True, type=Path, help="fitted faces (HDF5)")
    parser.add_argument("--out", required=True, type=Path, help="output HDF5 file")
    parser.add_argument("--summary", type=Path, help="output JSON (default: OUT with .json)")
    parser.add_argument("--sheet", type=Path, help="contact sheet PNG (default: OUT with .png)")
    parser.add_argument("--limit", type=int, help="profile only the first LIMIT faces")
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--yaw-step", type=float, default=ProfileConfig.yaw_step)
    parser.add_argument("--min-views", type=int, default=ProfileConfig.min_views)
    parser.add_argument("--pitch", type=float, default=ProfileConfig.pitch)
    parser.add_argument("--seed", type=int, default=ProfileConfig.seed)
    parser.add_argument(
        "--device",
        default="auto",
        help="where to rasterise: numpy, a torch device (cuda, cpu) or auto (default: cuda "
        "when a GPU is there, else numpy)",
    )
    args = parser.parse_args(argv)
    summary_path = args.summary or args.out.with_suffix(".json")
    sheet_path = args.sheet or args.out.with_suffix(".png")

    try:
        model = load_model(args.model)
        targets = read_targets(args.targets)
    except (Morph3DError, FileNotFoundError, ValueError) as error:
        print(f"profile_faces: {error}", file=sys.stderr)
        return 1
    config = ProfileConfig(
        yaw_step=args.yaw_step,
        min_views=args.min_views,
        pitch=args.pitch,
        seed=args.seed,
        device=resolve_device(args.device, cpu="numpy"),
    )
    faces = range(len(targets) if args.limit is None else min(args.limit, len(targets)))
    started = time.perf_counter()
    out = profile_targets(targets, model, config, faces, progress=partial(tqdm, leave=False))
    elapsed = time.perf_counter() - started
    write_targets(args.out, out)

    synthetic = np.asarray(out.synthetic, dtype=bool)
    views = int(synthetic.sum())
    yaw_bins = np.histogram(np.abs(out.fit_yaw[synthetic]), [0, 30, 60, 90.001])[0]
    summary = {
        "originals": len(targets),
        "profiled": len(faces),
        "views": views,
        "views_per_face_min": int(np.bincount(out.view_of[synthetic]).min()) if views else 0,
        "view_abs_yaw_bins": {
            "0-30": int(yaw_bins[0]),
            "30-60": int(yaw_bins[1]),
            "60-90": int(yaw_bins[2]),
        },
        "seconds": round(elapsed, 1),
        "seconds_per_view": round(elapsed / max(views, 1), 4),
        "config": repr(config),
    }
    write_json(summary_path, summary)
    step = max(1, len(faces) // SHEET_FACES)
    write_image(sheet_path, render_sheet(out, list(faces)[::step][:SHEET_FACES]))
    print(
        f"profile_faces: {views} views of {len(faces)} faces in {elapsed:.0f} s "
        f"({summary['seconds_per_view'] * 1000:.0f} ms a view); |yaw| 0-30 / 30-60 / 60-90: "
        f"{yaw_bins[0]} / {yaw_bins[1]} / {yaw_bins[2]}"
    )
    print(f"profile_faces: wrote {args.out}, {summary_path}, {sheet_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
