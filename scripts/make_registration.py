"""Registration pairs for supervision by registration: consecutive video frames and the optical
flow of their landmarks (morph3d.training.registration).

    python scripts/make_registration.py --videos ../shared/data/videos/d6.mp4 \\
        ../shared/data/videos/d10.mp4 --out work/targets/sbr.h5
    # plus every 300W training photo turned a little between two frames
    python scripts/make_registration.py --videos ... --photos work/targets/300w.h5 \\
        --out work/targets/sbr.h5

Tracks every clip with the shipped tracker (raw, unsmoothed landmarks of the largest face are the
teacher), measures the forward-backward Lucas-Kanade flow of the landmarks from each frame to the
next, and writes the pairs (one HDF5 file) plus a JSON summary beside it. With --photos, the
training faces of a targets file (the split of scripts/train.py at --val-fraction) add pairs of
two nearby turns rendered by 3D face profiling, with exact flow. Train with them:
``scripts/train.py ... --registration 0.5 --registration-data work/targets/sbr.h5``.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from morph3d.core.model import load_model
from morph3d.errors import Morph3DError
from morph3d.files import write_json
from morph3d.io.datasets import split_indices
from morph3d.io.video import VideoReader
from morph3d.pipeline.tracker import Tracker, TrackerConfig
from morph3d.training.registration import (
    MAX_FB_ERROR,
    REGISTERED,
    RegistrationPairs,
    concatenate_pairs,
    frame_pairs,
    synthetic_pairs,
    write_pairs,
)
from morph3d.training.targets import read_targets


def clip_pairs(
    path: Path, tracker: Tracker, every: int, max_error: float, points_used: np.ndarray
) -> RegistrationPairs:
    """The registration pairs of one clip (every ``every``-th frame as frame t)."""
    frames, teacher = [], []
    tracker.reset()
    video = VideoReader(path)
    total = video.declared_frames or None
    for frame in tqdm(video, desc=f"tracking {path.name}", total=total, unit="frame", leave=False):
        faces = tracker.update(frame.image, frame.time)
        largest = max(faces, key=lambda face: face.box[2] - face.box[0], default=None)
        frames.append(frame.image)
        teacher.append(None if largest is None else largest.raw_landmarks)
    kept = [points if k % every == 0 else None for k, points in enumerate(teacher)]
    return frame_pairs(frames, kept, path.stem, max_error, points_used)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=Path, nargs="*", default=[], help="video clips")
    parser.add_argument("--photos", type=Path, help="targets file whose training faces turn")
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="the training split's (default 0.1)"
    )
    parser.add_argument("--out", required=True, type=Path, help="pairs HDF5 to write")
    parser.add_argument("--every", type=int, default=1, help="every n-th frame starts a pair")
    parser.add_argument(
        "--max-error",
        type=float,
        default=MAX_FB_ERROR,
        help="forward-backward limit in frame pixels (default %(default)s)",
    )
    parser.add_argument(
        "--jaw", action="store_true",
        help="count the jaw's flow too (left out by default; the shipped network's pairs had it)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every must be at least 1")
    if not args.videos and args.photos is None:
        parser.error("give --videos, --photos or both")
    inputs = [*args.videos, *([args.photos] if args.photos else [])]
    if args.out.resolve() in {path.resolve() for path in inputs}:
        parser.error("--out would overwrite an input")
    parts, summary = [], {}
    try:
        # Unsmoothed teacher landmarks; the eyelids as the network predicts them.
        with Tracker(TrackerConfig(refine_eyes=False)) as tracker:
            for path in args.videos:
                used = np.ones(68, dtype=bool) if args.jaw else REGISTERED
                pairs = clip_pairs(path, tracker, args.every, args.max_error, used)
                parts.append(pairs)
                share = float(pairs.valid.mean()) if len(pairs) else 0.0
                summary[path.stem] = {"pairs": len(pairs), "valid_points": round(share, 4)}
                print(f"{path.name}: {len(pairs)} pairs, {100 * share:.1f} % of points valid")
        if args.photos is not None:
            targets = read_targets(args.photos)
            train, _ = split_indices(targets.name, args.val_fraction)
            bar = partial(tqdm, leave=False)
            turned = synthetic_pairs(targets, load_model(None), train, progress=bar)
            parts.append(turned)
            summary[args.photos.stem] = {"pairs": len(turned), "turned_photos": True}
            print(f"{args.photos.name}: {len(turned)} pairs of turned training photos")
        pairs = concatenate_pairs(parts)
    except (Morph3DError, ValueError, FileNotFoundError) as error:
        print(f"make_registration: error: {error}", file=sys.stderr)
        return 2
    if len(pairs) == 0:
        print("make_registration: error: no pairs: no face was tracked", file=sys.stderr)
        return 2
    write_pairs(args.out, pairs)
    moved = np.linalg.norm(pairs.flow, axis=-1)[pairs.valid]
    summary["all"] = {
        "pairs": len(pairs),
        "valid_points": round(float(pairs.valid.mean()), 4),
        "median_flow_crop_units": round(float(np.median(moved)), 3),
        "max_error_px": args.max_error,
    }
    write_json(args.out.with_suffix(".json"), summary)
    print(f"make_registration: wrote {len(pairs)} pairs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
