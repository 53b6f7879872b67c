"""3D face profiling: render large-pose views of fitted faces (our own 300W-LP).

    python scripts/profile_faces.py --targets work/targets/300w.h5 \\
        --out work/targets/300w_lp.h5 --sheet docs/profiling_sheet.png

    # AFLW's near-frontal faces (fitted to their 21 points), 3 views each, the views alone:
    python scripts/profile_faces.py --targets work/targets/aflw21.h5 \\
        --out work/targets/aflw21_lp.h5 --max-source-yaw 30 --max-fit-nme 3 \\
        --max-views 3 --views-only

Reads a targets file of fitted faces (scripts/fit_3dmm.py), turns the faces to yaws out to
+-90 degrees with some pitch (morph3d.training.profiling), and writes the originals followed by
their views (or the views alone), in the same targets format (``synthetic``, ``view_of``), plus
a JSON summary and a contact sheet of a few faces by yaw with their landmarks.
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


def render_sheet(originals: Targets, out: Targets, faces: list[int]) -> np.ndarray:
    """Each face of ``originals`` and up to ``SHEET_COLUMNS - 1`` of its views in ``out``,
    spread over their yaws in order."""
    crop = np.array([60.0, 60.0, 180.0, 180.0])  # the crop box in the stored image
    rows = []
    for face in faces:
        views = np.flatnonzero(out.synthetic & (out.view_of == face))
        views = views[np.argsort(out.fit_yaw[views])]
        spread = np.linspace(0, len(views) - 1, min(len(views), SHEET_COLUMNS - 1))
        rows.append((face, views[np.unique(np.round(spread).astype(int))]))
    columns = 1 + max(len(views) for _, views in rows)  # no blank columns with few views
    tiles, labels = [], []
    for face, views in rows:
        shown = [(originals, face, "src")] + [(out, k, "view") for k in views]
        for targets, k, kind in shown:
            points = crop_to_image(targets.fit_landmarks[k, :, :2].astype(np.float64), crop)
            tile = draw_landmarks(targets.image[k], points, radius=1.6)
            tiles.append(cv2.resize(tile, (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA))
            labels.append(f"{kind} {targets.fit_yaw[k]:+.0f}")
        while len(tiles) % columns:
            tiles.append(np.full_like(tiles[-1], 255))
            labels.append("")
    return contact_sheet(tiles, columns, labels)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", required=True, type=Path, help="fitted faces (HDF5)")
    parser.add_argument("--out", required=True, type=Path, help="output HDF5 file")
    parser.add_argument("--summary", type=Path, help="output JSON (default: OUT with .json)")
    parser.add_argument("--sheet", type=Path, help="contact sheet PNG (default: OUT with .png)")
    parser.add_argument("--limit", type=int, help="profile only the first LIMIT chosen faces")
    parser.add_argument(
        "--max-source-yaw", type=float, help="profile only faces whose fitted |yaw| is below this"
    )
    parser.add_argument(
        "--max-fit-nme", type=float, help="profile only faces whose fit NME (%%) is below this"
    )
    parser.add_argument(
        "--views-only", action="store_true", help="write the views alone, not the originals"
    )
    parser.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    parser.add_argument("--yaw-step", type=float, default=ProfileConfig.yaw_step)
    parser.add_argument("--min-views", type=int, default=ProfileConfig.min_views)
    parser.add_argument(
        "--max-views", type=int, default=ProfileConfig.max_views, help="0: no limit"
    )
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
    if args.out.resolve() == args.targets.resolve():
        print("profile_faces: --out must not be the --targets file", file=sys.stderr)
        return 1

    try:
        model = load_model(args.model)
        targets = read_targets(args.targets)
    except (Morph3DError, FileNotFoundError, ValueError) as error:
        print(f"profile_faces: {error}", file=sys.stderr)
        return 1
    config = ProfileConfig(
        yaw_step=args.yaw_step,
        min_views=args.min_views,
        max_views=args.max_views,
        pitch=args.pitch,
        seed=args.seed,
        device=resolve_device(args.device, cpu="numpy"),
    )
    chosen = np.ones(len(targets), dtype=bool)
    if args.max_source_yaw is not None:
        chosen &= np.abs(targets.fit_yaw) < args.max_source_yaw
    if args.max_fit_nme is not None:
        chosen &= targets.fit_nme < args.max_fit_nme
    faces = [int(k) for k in np.flatnonzero(chosen)[: args.limit]]
    if not faces:
        print("profile_faces: no face passes the selection", file=sys.stderr)
        return 1
    started = time.perf_counter()
    out = profile_targets(
        targets,
        model,
        config,
        faces,
        progress=partial(tqdm, leave=False),
        keep_originals=not args.views_only,
    )
    elapsed = time.perf_counter() - started
    write_targets(args.out, out)

    synthetic = np.asarray(out.synthetic, dtype=bool)
    views = int(synthetic.sum())
    yaw_bins = np.histogram(np.abs(out.fit_yaw[synthetic]), [0, 30, 60, 90.001])[0]
    summary = {
        "originals": 0 if args.views_only else len(targets),
        "profiled": len(faces),
        "views": views,
        "views_per_face_min": int(np.bincount(out.view_of[synthetic])[faces].min()) if views else 0,
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
    write_image(sheet_path, render_sheet(targets, out, faces[::step][:SHEET_FACES]))
    print(
        f"profile_faces: {views} views of {len(faces)} faces in {elapsed:.0f} s "
        f"({summary['seconds_per_view'] * 1000:.0f} ms a view); |yaw| 0-30 / 30-60 / 60-90: "
        f"{yaw_bins[0]} / {yaw_bins[1]} / {yaw_bins[2]}"
    )
    print(f"profile_faces: wrote {args.out}, {summary_path}, {sheet_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
