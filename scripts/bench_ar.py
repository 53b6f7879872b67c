"""Time end-to-end AR (decode, track, render, composite, encode) on real clips, per stage, and
draw a contact sheet per effect.

    python scripts/bench_ar.py --json work/bench/ar.json --sheets docs

Every effect runs over every clip exactly as ``morph3d ar`` does (H.264 output through
imageio-ffmpeg when installed; the encoder runs in its own process, so its cost shows in the
wall-clock figure rather than in the "encode" stage, which is the hand-over). fps is frames over
wall-clock time; "steady" leaves out the first frame, which also creates the OpenGL context and
compiles the shaders.

``--antialias edges msaa`` runs each effect on each clip with both anti-aliasing modes, one
after the other (rows ``dog/edges``, ``dog/msaa``, ...), so that they share the machine's hour.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from morph3d.ar import AR, augment_video
from morph3d.ar.effects import EFFECTS
from morph3d.ar.renderer import Antialias
from morph3d.evaluation.draw import contact_sheet
from morph3d.evaluation.speed import machine_info
from morph3d.files import write_json
from morph3d.io.image import write_image
from morph3d.io.video import VideoReader
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.tracker import Tracker


def run(effect: str, clip: Path, output: Path, antialias: Antialias = "edges") -> dict[str, Any]:
    video = VideoReader(clip)
    ar = AR(effect, Tracker(fps=video.fps), antialias=antialias)
    started = time.perf_counter()
    times = augment_video(video, output, ar)
    wall = time.perf_counter() - started
    ar.close()
    return {
        "frames": times.frames,
        "size": [video.width, video.height],
        "fps": times.frames / wall,
        "steady_fps": times.steady_fps(),
        "first_frame_ms": round(1000 * times.first_frame, 1),
        "ms_per_frame": {k: round(v, 2) for k, v in times.per_frame_ms().items()},
    }


def sheet(video: Path, count: int = 8, side: int = 256) -> np.ndarray:
    """Evenly spaced frames of a video as a contact sheet."""
    frames = [frame.image for frame in VideoReader(video)]
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    tiles = [cv2.resize(frames[k], (side, side), interpolation=cv2.INTER_AREA) for k in picks]
    return contact_sheet(tiles, columns=count // 2, labels=[f"frame {k}" for k in picks])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--videos", type=Path, nargs="*", help="default: ../shared/data/videos")
    parser.add_argument("--effects", nargs="*", default=list(EFFECTS))
    parser.add_argument("--sheets", type=Path, help="folder for one contact sheet per effect")
    parser.add_argument("--sheet-clip", default="d3", help="clip the sheets are made from")
    parser.add_argument(
        "--antialias", nargs="+", default=["edges"], choices=["edges", "msaa"],
        help="anti-aliasing modes to time (default: the default, edges)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    videos = args.videos or sorted((SHARED_DATA / "videos").glob("*.mp4"))
    report: dict[str, Any] = {"machine": machine_info(), "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        for effect in args.effects:
            for clip in tqdm(videos, desc=effect):
                for mode in args.antialias:
                    label = effect if len(args.antialias) == 1 else f"{effect}/{mode}"
                    output = Path(folder) / f"{clip.stem}_{effect}_{mode}.mp4"
                    row = run(effect, clip, output, mode)
                    report["runs"].setdefault(label, {})[clip.stem] = row
                    if args.sheets and clip.stem == args.sheet_clip and mode == args.antialias[0]:
                        write_image(args.sheets / f"ar_{effect}.png", sheet(output))
    machine = report["machine"]
    print(f"machine: {machine['processor']}, {machine['logical_cpus']} CPUs")
    print(f"{'effect':13s} {'clip':6s} {'size':>9s} {'frames':>6s} {'fps':>6s} {'steady':>6s} "
          f"{'first':>6s}  ms per frame")  # fmt: skip
    for effect, clips in report["runs"].items():
        for clip, row in clips.items():
            stages = " ".join(f"{k} {v:.1f}" for k, v in row["ms_per_frame"].items())
            size = f"{row['size'][0]}x{row['size'][1]}"
            print(f"{effect:13s} {clip:6s} {size:>9s} {row['frames']:6d} {row['fps']:6.1f} "
                  f"{row['steady_fps']:6.1f} {row['first_frame_ms']:6.0f}  {stages}")  # fmt: skip
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
