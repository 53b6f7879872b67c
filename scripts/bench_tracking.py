"""Measure how steady, how fast and how reliable video tracking is.

    python scripts/bench_tracking.py --json work/bench/tracking.json --plots docs

1. Still face: a photo made into a 150-frame, 30 fps video, fresh noise and JPEG every frame.
   Jitter (RMS frame-to-frame motion, % of face size) without and with the 1€ filter.
2. Moving face: the photo shifted along a known Lissajous path (amplitude 10 % of the frame,
   period 2 s); the lag of each track behind the truth and its RMS error (% of face size).
3. Real clips (../shared/data/videos): tracking fps (frames decoded beforehand; ``update``
   frame by frame and ``track`` with each frame's finishing overlapped), lost tracks,
   ids, frames without a face or with a track nested in another, jitter without ground truth
   (RMS second difference, % of face size), the eye aperture over time (blinks), and where a
   frame's milliseconds go (``Tracker.times``: network, refiners, detector, placing, finishing).

The measurements are morph3d.evaluation.steadiness. With ``mediapipe`` (0.10.21) importable (a
separate venv: ``pip install mediapipe==0.10.21 -e .``), its FaceMesh in tracking mode runs on the
same frames, measured the same way on its 468 points. ``--sweep`` adds the filter settings grid.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from morph3d.core.filters import FilterConfig
from morph3d.evaluation import steadiness as st
from morph3d.evaluation.peers import FACEMESH_EYES, FACEMESH_NOSE, FaceMesh, mediapipe_available
from morph3d.evaluation.plots import plot_eye_aperture, plot_steadiness
from morph3d.evaluation.speed import machine_info
from morph3d.files import write_json
from morph3d.io.image import read_image
from morph3d.io.video import VideoReader
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR, Tracker, TrackerConfig

FPS = 30.0


def real_clips(
    reconstructor: Reconstructor, videos: list[Path]
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Every clip: fps, losses, ids, jitter, eye aperture."""
    report: dict[str, Any] = {}
    apertures: dict[str, dict[str, np.ndarray]] = {}
    rates: dict[str, float] = {}
    other = ("MediaPipe", FaceMesh, 468, FACEMESH_EYES) if mediapipe_available() else None
    configs = {"1€ filter": TrackerConfig(), "raw": replace(TrackerConfig(), smooth="none"),
               "mesh only": replace(TrackerConfig(), refine_eyes=False)}  # fmt: skip
    for path in tqdm(videos, desc="clips"):
        video = VideoReader(path)
        started = time.perf_counter()
        frames = [frame.image for frame in video]
        decode_fps = len(frames) / (time.perf_counter() - started)
        figures, curves = st.clip_steadiness(
            partial(Tracker, reconstructor=reconstructor, fps=video.fps), configs, frames,
            video.fps, other,
        )  # fmt: skip
        report[path.stem] = {
            "frames": len(frames), "size": [video.width, video.height], "fps_video": video.fps,
            "undecodable_frames": len(video.failed), "decode_fps": decode_fps, **figures,
        }  # fmt: skip
        apertures[path.stem], rates[path.stem] = curves, video.fps
    return report, apertures, rates


def synthetic_tests(
    reconstructor: Reconstructor, image: np.ndarray, count: int, sweep: bool
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The still and moving photo; with ``sweep``, the filter settings grid too."""
    default = TrackerConfig()
    configs = {"raw": replace(default, smooth="none"), "1€ filter": default}
    grid = itertools.product(["vertices", "params"], ["filtered", "raw"],
                             [0.2, 0.5, 1.0, 2.0], [5.0, 20.0, 40.0, 80.0])  # fmt: skip
    settings = [
        ({"smooth": smooth, "crop_from": source, "min_cutoff": cutoff, "beta": beta},
         TrackerConfig(filter=FilterConfig(cutoff, beta, 1.0), smooth=smooth, crop_from=source))
        for smooth, source, cutoff, beta in grid
    ] if sweep else []  # fmt: skip
    other = ("MediaPipe FaceMesh", FaceMesh, 468, FACEMESH_NOSE) if mediapipe_available() else None
    return st.photo_steadiness(
        partial(Tracker, reconstructor=reconstructor, fps=FPS), configs, image, count, FPS,
        other, settings, partial(tqdm, desc="sweep"),
    )  # fmt: skip


def print_report(report: dict[str, Any]) -> None:
    """The figures as tables."""
    machine = report["machine"]
    print(f"machine: {machine['processor']}, {machine['logical_cpus']} CPUs, "
          f"{machine['threads']} inference threads; MediaPipe: {report['mediapipe']}")  # fmt: skip
    synthetic = report["synthetic"]
    print(f"\nstill / moving photo ({synthetic['frames']} frames at {synthetic['fps']:g} fps, "
          f"face {synthetic['face_size_px']:.0f} px)")  # fmt: skip
    print(f"{'tracker':22s} {'static jitter':>13s} {'(px)':>7s} {'lag (frames)':>13s} "
          f"{'moving error':>13s}")  # fmt: skip
    for label, row in synthetic["trackers"].items():
        if "note" in row:
            print(f"{label:22s} {row['note']}")
            continue
        print(f"{label:22s} {row['static_jitter']:13.3f} {row['static_jitter_px']:7.3f} "
              f"{row['lag_frames']:13.2f} {row['moving_error']:13.3f}")  # fmt: skip
    print(f"filtered / raw static jitter: {100 * synthetic['filtered_over_raw']:.1f} %")
    if "sweep" in synthetic:
        print("\nsweep: smooth crop_from min_cutoff beta -> static/raw, lag, moving error")
        for row in synthetic["sweep"]:
            print(f"  {row['smooth']:8s} {row['crop_from']:8s} {row['min_cutoff']:4g} "
                  f"{row['beta']:4g} -> {100 * row['static_over_raw']:5.1f} % "
                  f"{row['lag_frames']:5.2f} {row['moving_error']:6.3f}")  # fmt: skip
    print(f"\n{'clip':8s} {'frames':>6s} {'size':>9s} {'track fps':>9s} {'overlap':>7s} "
          f"{'decode':>7s} {'lost':>4s} {'ids':>5s} {'no face':>7s} {'jit raw':>8s} {'jit 1€':>7s} "
          f"{'nested':>6s} {'MP jit':>7s} {'(ours)':>7s} {'MP fps':>7s}")  # fmt: skip
    for name, row in report["clips"].items():
        mp = row.get("mediapipe")
        mp_text = (
            f"{mp['jitter']:7.3f} {mp['jitter_our_face_size']:7.3f} {mp['fps']:7.1f}"
            if mp
            else f"{'-':>7s} {'-':>7s} {'-':>7s}"
        )
        print(f"{name:8s} {row['frames']:6d} {'x'.join(map(str, row['size'])):>9s} "
              f"{row['tracking_fps']:9.1f} {row['tracking_fps_pipelined']:7.1f} "
              f"{row['decode_fps']:7.0f} {row['lost_tracks']:4d} "
              f"{len(row['ids']):5d} {row['frames_without_face']:7d} {row['jitter_raw']:8.3f} "
              f"{row['jitter_filtered']:7.3f} {row['frames_with_nested_tracks']:6d} "
              f"{mp_text}")  # fmt: skip
    print_stages(report["clips"])


def print_stages(clips: dict[str, Any]) -> None:
    """Where a frame of ``Tracker.update`` goes, stage by stage (``Tracker.times``), next to
    MediaPipe's whole frame."""
    if not clips:
        return
    stages = list(next(iter(clips.values()))["tracking_stages_ms"])
    print(f"\nms a frame: {'clip':8s} " + " ".join(f"{s:>9s}" for s in stages)
          + f" {'other':>6s} {'update':>7s} {'MP':>6s}")  # fmt: skip
    for name, row in clips.items():
        times = row["tracking_stages_ms"]
        whole = 1000 / row["tracking_fps"]
        mp = row.get("mediapipe")
        mp_text = f"{1000 / mp['fps']:6.2f}" if mp else f"{'-':>6s}"
        print(f"{'':12s}{name:8s} " + " ".join(f"{times[s]:9.2f}" for s in stages)
              + f" {whole - sum(times.values()):6.2f} {whole:7.2f} {mp_text}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--plots", type=Path, help="folder for the PNG plots")
    parser.add_argument("--photo", type=Path, default=SHARED_DATA / "photos" / "obama.jpg")
    parser.add_argument("--videos", type=Path, nargs="*", help="default: ../shared/data/videos")
    parser.add_argument("--frames", type=int, default=150, help="frames of the synthetic tests")
    parser.add_argument("--threads", type=int, help="network threads (default: the tracker's)")
    parser.add_argument("--weights", type=Path, help="regressor (default: the shipped one)")
    parser.add_argument("--sweep", action="store_true", help="also run the settings grid")
    parser.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, help="mirrored crops (default: on)"
    )
    args = parser.parse_args(argv)
    videos = args.videos
    if videos is None:
        videos = sorted((SHARED_DATA / "videos").glob("*.mp4"))
    threads = args.threads or TRACKING_RECONSTRUCTOR.threads
    flip = TRACKING_RECONSTRUCTOR.flip if args.flip is None else args.flip
    reconstructor = Reconstructor(
        TRACKING_RECONSTRUCTOR, threads=threads, weights=args.weights, flip=flip
    )
    photo = read_image(args.photo)
    image = st.portrait(photo, reconstructor.detector.detect(photo)[0].box)
    synthetic, nose = synthetic_tests(reconstructor, image, args.frames, args.sweep)
    clips, apertures, rates = real_clips(reconstructor, videos)
    report = {"machine": machine_info(threads), "weights": str(args.weights or "shipped"),
              "flip": flip,
              "mediapipe": mediapipe_available() or "not installed",
              "tracker": asdict(TrackerConfig()),
              "synthetic": synthetic, "clips": clips}  # fmt: skip
    print_report(report)
    write_json(args.json, report)
    if args.plots:
        curves = {f"still photo: nose tip x minus its mean ({args.frames} frames)": nose["still"],
                  "moving photo: nose tip x": nose["moving"]}  # fmt: skip
        plot_steadiness(curves, args.plots / "tracking_steadiness.png", FPS)
        if apertures:
            plot_eye_aperture(apertures, args.plots / "eye_aperture.png", rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
