"""Would the eyes and mouth want a faster 1€ filter than the rest of the face? Measured on clips.

    python scripts/bench_filter_regions.py --json work/bench/regions.json

Tracks every clip once without smoothing (the default network, eye refiner on), then filters the
raw landmarks offline: the jaw, brows and nose always with the tracker's default filter, the eyes
and mouth with the default too ("uniform") and with each faster setting given. Prints per clip
and setting the second-difference jitter of each group, the lag and kept depth of blinks and the
mouth's lag (morph3d.evaluation.regions), and the means over clips.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from morph3d.core.filters import FilterConfig
from morph3d.core.metrics import landmark_box_size
from morph3d.errors import Morph3DError
from morph3d.evaluation.regions import group_jitter, region_filter_figures
from morph3d.evaluation.speed import machine_info
from morph3d.evaluation.steadiness import longest_run, run_tracker
from morph3d.files import write_json
from morph3d.io.video import VideoReader
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.tracker import Tracker, TrackerConfig

DEFAULT_SETTINGS = ("0.5:15:2", "1:15:2", "0.2:30:2", "1:30:4", "2:30:4")
COLUMNS = ("jitter_eyes", "jitter_mouth", "jitter_rest", "jitter_all", "blink_lag",
           "blink_depth", "mouth_lag")  # fmt: skip


def parse_setting(text: str) -> FilterConfig:
    """``"min_cutoff:beta:d_cutoff"`` -> a filter config."""
    try:
        cutoff, beta, d_cutoff = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected min_cutoff:beta:d_cutoff, got {text!r}"
        ) from None
    return FilterConfig(cutoff, beta, d_cutoff)


def clip_figures(path: Path, settings: dict[str, FilterConfig]) -> dict[str, Any]:
    """Raw jitter by group and every setting's figures on one clip."""
    video = VideoReader(path)
    frames = [frame.image for frame in video]
    with Tracker(replace(TrackerConfig(), smooth="none"), fps=video.fps) as tracker:
        raw = longest_run(run_tracker(tracker, frames, video.fps)["landmarks"])
    if len(raw) < 3 * 5 + 2:
        return {"frames": len(raw), "note": "too few consecutive frames with a face"}
    size = float(np.median(landmark_box_size(raw)))
    entry: dict[str, Any] = {"frames": len(raw), "raw": group_jitter(raw, size)}
    base = TrackerConfig().filter
    for label, quick in settings.items():
        entry[label] = region_filter_figures(raw, video.fps, base, quick)
    return entry


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--videos", type=Path, nargs="*", help="default: ../shared/data/videos")
    parser.add_argument(
        "--settings", type=parse_setting, nargs="*", default=None,
        help=f"eye/mouth filters min_cutoff:beta:d_cutoff (default {' '.join(DEFAULT_SETTINGS)})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    videos = args.videos or sorted((SHARED_DATA / "videos").glob("*.mp4"))
    quick = args.settings or [parse_setting(text) for text in DEFAULT_SETTINGS]
    base = TrackerConfig().filter
    settings = {"uniform": base} | {f"{q.min_cutoff:g}:{q.beta:g}:{q.d_cutoff:g}": q for q in quick}
    clips: dict[str, Any] = {}
    try:
        for path in tqdm(videos, desc="clips"):
            clips[path.stem] = clip_figures(path, settings)
    except Morph3DError as error:
        print(f"bench_filter_regions: error: {error}", file=sys.stderr)
        return 2
    measured = [entry for entry in clips.values() if "note" not in entry]
    means = {label: {key: float(np.mean([entry[label][key] for entry in measured]))
                     for key in COLUMNS} for label in settings}  # fmt: skip
    print(f"machine: {machine_info(1)['processor']}; rest of the face: {asdict(base)}")
    print(f"{'clip':8s} {'eyes/mouth filter':18s} " + " ".join(f"{c:>12s}" for c in COLUMNS))
    for name, entry in clips.items():
        if "note" in entry:
            print(f"{name:8s} {entry['note']}")
            continue
        raw = entry["raw"]
        print(f"{name:8s} {'raw':18s} " + " ".join(f"{raw.get(c, np.nan):12.3f}" for c in COLUMNS))
        for label in settings:
            row = entry[label]
            print(f"{name:8s} {label:18s} " + " ".join(f"{row[c]:12.3f}" for c in COLUMNS))
    for label, row in means.items():
        print(f"{'mean':8s} {label:18s} " + " ".join(f"{row[c]:12.3f}" for c in COLUMNS))
    write_json(args.json, {"machine": machine_info(1), "rest_filter": asdict(base),
                           "settings": {k: asdict(v) for k, v in settings.items()},
                           "clips": clips, "means": means})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
