"""Blinks in the tracked mesh: eyeBlink over time beside the eyelid refiner's aperture.

    python scripts/plot_blinks.py --json work/bench/blinks.json --plot docs/blinks.png \
        --frames-plot docs/blink_frames.png

Tracks each clip (default: every clip of ../shared/data/videos) with the default tracker and
records its first face per frame (morph3d.evaluation.blinks). Prints per clip the blinks found
(mean eyeBlink above 0.5) and how the coefficients follow the refiner's aperture; the frames
plot shows, per clip with a blink, its strongest blink beside the most open frame within a
second of it, photo and mesh.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from morph3d.evaluation.blinks import BlinkSeries, blink_peaks, blink_series, eye_band
from morph3d.evaluation.draw import shade_mesh
from morph3d.evaluation.plots import plot_blink_frames, plot_blinks
from morph3d.files import write_json
from morph3d.io.video import VideoReader
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR, Tracker, TrackerConfig


def frame_panels(
    frames: list[np.ndarray], record: BlinkSeries, triangles: np.ndarray
) -> list[tuple[str, np.ndarray]] | None:
    """Open eyes and the strongest blink of a clip, each as photo and shaded mesh bands."""
    peaks = blink_peaks(record.mean_blink)
    if not len(peaks):
        return None
    blink = int(peaks[np.argmax(record.mean_blink[peaks])])
    reach = round(record.fps)
    window = np.arange(max(blink - reach, 0), min(blink + reach + 1, len(frames)))
    apertures = np.nan_to_num(record.refiner_aperture[window], nan=-np.inf)
    opened = int(window[np.argmax(apertures)])
    panels = []
    for label, k in (("open", opened), ("blink", blink)):
        vertices = record.vertices[k]
        mesh = shade_mesh(frames[k], vertices, triangles, alpha=0.85)
        title = f"{label}, frame {k}, eyeBlink {record.mean_blink[k]:.2f}"
        panels += [
            (title, eye_band(frames[k], vertices)),
            (f"{label}: mesh", eye_band(mesh, vertices)),
        ]
    return panels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--plot", type=Path, help="eyeBlink and apertures over time (PNG)")
    parser.add_argument("--frames-plot", type=Path, help="frames at a blink (PNG)")
    parser.add_argument("--videos", type=Path, nargs="*", help="default: ../shared/data/videos")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    videos = args.videos or sorted((SHARED_DATA / "videos").glob("*.mp4"))
    reconstructor = Reconstructor(TRACKING_RECONSTRUCTOR, threads=args.threads)
    triangles = reconstructor.model.triangles
    series: dict[str, BlinkSeries] = {}
    panels: dict[str, Any] = {}
    report: dict[str, Any] = {"tracker": "TrackerConfig() defaults", "clips": {}}
    for path in tqdm(videos, desc="clips", unit="clip"):
        video = VideoReader(path)
        frames = [frame.image for frame in video]
        if not frames:
            print(f"plot_blinks: no frame of {path} decodes; left out", file=sys.stderr)
            continue
        tracker = Tracker(TrackerConfig(), reconstructor, fps=video.fps)
        record = blink_series(tracker, frames, video.fps)
        series[path.stem] = record
        report["clips"][path.stem] = record.summary()
        sheet = frame_panels(frames, record, triangles)
        if sheet is not None:
            panels[path.stem] = sheet
    print(f"{'clip':8s} {'frames':>6s} {'face':>5s} {'blinks':>6s} {'r(blink, refiner)':>18s} "
          f"{'r(mesh, refiner)':>17s}")  # fmt: skip
    for name, row in report["clips"].items():
        print(f"{name:8s} {row['frames']:6d} {row['frames_with_face']:5d} {row['blinks']:6d} "
              f"{row['blink_vs_refiner_aperture_r']:18.3f} "
              f"{row['mesh_vs_refiner_aperture_r']:17.3f}")  # fmt: skip
    write_json(args.json, report)
    if args.plot and series:
        plot_blinks(series, args.plot)
    if args.frames_plot and panels:
        plot_blink_frames(panels, args.frames_plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
