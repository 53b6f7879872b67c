"""Measure how steady, how fast and how reliable video tracking is.

    python scripts/bench_tracking.py --json work/bench/tracking.json --plots docs

1. Still face: a photo made into a 150-frame, 30 fps video, every frame with fresh sensor noise
   and its own JPEG re-encoding. Jitter (RMS frame-to-frame landmark motion over the landmark
   box's sqrt(w*h), x100) without and with the 1€ filter.
2. Moving face: the same photo shifted along a known Lissajous path (amplitude 10 % of the
   frame, period 2 s). The truth is the still face's mean landmarks plus the shift; reported:
   how many frames each track trails it and its RMS error while moving (% of face size).
3. Real clips (../shared/data/videos): tracking fps (network, detector, smoothing; frames decoded
   beforehand, decode fps reported apart), lost tracks, ids, frames without a face, jitter
   without ground truth (RMS second difference of the landmark tracks, % of face size), and the
   eye aperture over time, plotted to see blinks (also without the eye refiner: the mesh's own
   eyelids).

When ``mediapipe`` (0.10.21) is importable, its FaceMesh in tracking mode (its own smoothing)
runs on the same frames and is measured the same way on its 468 points. It does not share our
environment's pins, so run this script with a Python that has both, e.g. a separate venv with
``pip install mediapipe==0.10.21 -e .``. ``--sweep`` also prints the filter settings grid that
chose the defaults.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from morph3d.core.filters import FilterConfig
from morph3d.core.metrics import acceleration_jitter, eye_aperture, jitter, track_lag
from morph3d.evaluation.plots import plot_eye_aperture, plot_steadiness
from morph3d.evaluation.speed import machine_info
from morph3d.files import write_json
from morph3d.io.image import read_image
from morph3d.io.synthetic import lissajous_path, moving_frames, still_frames
from morph3d.io.video import VideoReader
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import Tracker, TrackerConfig

FPS = 30.0

#: MediaPipe FaceMesh indices of each eye: corners, then (upper, lower) lid pairs.
FACEMESH_EYES = (
    ((33, 133), ((160, 144), (158, 153))),
    ((362, 263), ((385, 380), (387, 373))),
)
#: MediaPipe FaceMesh nose tip (our 68-point nose tip is 30).
FACEMESH_NOSE = 1


class FaceMesh:
    """MediaPipe FaceMesh in tracking mode: ``(468, 3)`` pixel landmarks or ``None``."""

    def __init__(self) -> None:
        import mediapipe

        self.version = mediapipe.__version__
        self.mesh = mediapipe.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        height, width = rgb.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        return np.array([[p.x * width, p.y * height, p.z * width] for p in points])

    def close(self) -> None:
        self.mesh.close()


def mediapipe_available() -> str | None:
    """MediaPipe's version when it is importable, else ``None``."""
    try:
        import mediapipe
    except ImportError:
        return None
    return str(mediapipe.__version__)


def portrait(photo: np.ndarray, reconstructor: Reconstructor, size: int = 512) -> np.ndarray:
    """A ``size`` square picture centred on the photo's face, the face about 40 % of it."""
    box = reconstructor.detector.detect(photo)[0].box
    centre = (box[:2] + box[2:]) / 2
    half = 1.3 * max(box[2] - box[0], box[3] - box[1])
    scale = size / (2 * half)
    matrix = np.array(
        [[scale, 0, -(centre[0] - half) * scale], [0, scale, -(centre[1] - half) * scale]]
    )
    return cv2.warpAffine(
        photo, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101
    )


def run_tracker(
    reconstructor: Reconstructor, config: TrackerConfig, frames: list[np.ndarray], fps: float
) -> dict[str, Any]:
    """Track frames; per frame the first face's smoothed and raw landmarks (NaN if none)."""
    tracker = Tracker(config, reconstructor, fps=fps)
    smooth = np.full((len(frames), 68, 3), np.nan)
    raw = np.full((len(frames), 68, 3), np.nan)
    ids: set[int] = set()
    seconds = 0.0
    for k, frame in enumerate(frames):
        started = time.perf_counter()
        faces = tracker.update(frame, k / fps)
        seconds += time.perf_counter() - started
        ids.update(face.id for face in faces)
        if faces:
            smooth[k], raw[k] = faces[0].landmarks, faces[0].raw_landmarks
    return {
        "landmarks": smooth,
        "raw": raw,
        "ids": sorted(ids),
        "lost": tracker.lost_tracks,
        "detector_calls": tracker.detector_calls,
        "fps": len(frames) / seconds,
        "missing": int(np.isnan(smooth[:, 0, 0]).sum()),
    }


def run_facemesh(frames: list[np.ndarray]) -> dict[str, Any]:
    """MediaPipe FaceMesh over frames: ``(T, 468, 3)`` landmarks (NaN if none) and fps."""
    mesh = FaceMesh()
    out = np.full((len(frames), 468, 3), np.nan)
    seconds = 0.0
    for k, frame in enumerate(frames):
        started = time.perf_counter()
        points = mesh(frame)
        seconds += time.perf_counter() - started
        if points is not None:
            out[k] = points
    mesh.close()
    return {
        "landmarks": out,
        "fps": len(frames) / seconds,
        "missing": int(np.isnan(out[:, 0, 0]).sum()),
    }


def longest_run(tracks: np.ndarray) -> np.ndarray:
    """The longest stretch of consecutive frames with landmarks (no NaN)."""
    present = ~np.isnan(tracks[:, 0, 0])
    best, start, best_span = 0, None, (0, 0)
    for k, ok in enumerate([*present, False]):
        if ok and start is None:
            start = k
        elif not ok and start is not None:
            if k - start > best:
                best, best_span = k - start, (start, k)
            start = None
    return tracks[best_span[0] : best_span[1]]


def pixel_jitter(tracks: np.ndarray) -> float:
    """RMS frame-to-frame 2D landmark motion in pixels."""
    steps = np.linalg.norm(np.diff(tracks[..., :2], axis=0), axis=-1)
    return float(np.sqrt(np.mean(steps**2)))


def moving_error(tracks: np.ndarray, truth: np.ndarray, size: float) -> float:
    """RMS 2D distance to the truth, percent of the face size."""
    distance = np.linalg.norm(tracks[..., :2] - truth, axis=-1)
    return float(100 * np.sqrt(np.mean(distance**2)) / size)


def synthetic_tests(
    reconstructor: Reconstructor, image: np.ndarray, count: int, sweep: bool
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The still and moving tests; returns the report and the curves to plot."""
    still = still_frames(image, count)
    shifts = lissajous_path(count, FPS, amplitude=0.1 * image.shape[1], period=2.0)
    moving = moving_frames(image, shifts, seed=1)
    default = TrackerConfig()
    configs = {"raw": replace(default, smooth="none"), "1€ filter": default}
    report: dict[str, Any] = {
        "frames": count,
        "fps": FPS,
        "noise_grey_levels": 3.0,
        "jpeg_quality": 85,
        "path": "x = A sin(2 pi t / 2 s), y = A/2 sin(4 pi t / 2 s), A = 10 % of the width",
        "image_size": list(image.shape[:2]),
        "trackers": {},
    }
    nose = {"still": {}, "moving": {}}
    tracks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for label, config in configs.items():
        tracks[label] = (
            run_tracker(reconstructor, config, still, FPS)["landmarks"],
            run_tracker(reconstructor, config, moving, FPS)["landmarks"],
        )
    reference = tracks["raw"][0].mean(axis=0)[:, :2]  # the still face, noise averaged out
    size = float(np.sqrt(np.prod(reference.max(axis=0) - reference.min(axis=0))))
    truth = reference[None] + shifts[:, None]
    nose["moving"]["truth"] = truth[:, 30, 0]
    for label, (static, motion) in tracks.items():
        report["trackers"][label] = {
            "static_jitter": jitter(static),
            "static_jitter_px": pixel_jitter(static),
            "lag_frames": track_lag(motion[..., :2], truth),
            "moving_error": moving_error(motion, truth, size),
        }
        nose["still"][label] = static[:, 30, 0] - reference[30, 0]
        nose["moving"][label] = motion[:, 30, 0]
    if mediapipe_available():
        static = run_facemesh(still)["landmarks"]
        motion = run_facemesh(moving)["landmarks"]
        if np.isnan(static).any() or np.isnan(motion).any():
            report["trackers"]["MediaPipe FaceMesh"] = {"note": "lost the face on some frames"}
        else:
            mp_reference = static.mean(axis=0)[:, :2]
            mp_size = float(np.sqrt(np.prod(mp_reference.max(axis=0) - mp_reference.min(axis=0))))
            mp_truth = mp_reference[None] + shifts[:, None]
            report["trackers"]["MediaPipe FaceMesh"] = {
                "static_jitter": jitter(static),
                "static_jitter_px": pixel_jitter(static),
                "static_jitter_our_face_size": 100 * pixel_jitter(static) / size,
                "lag_frames": track_lag(motion[..., :2], mp_truth),
                "moving_error": moving_error(motion, mp_truth, mp_size),
            }
            nose["still"]["MediaPipe"] = (
                static[:, FACEMESH_NOSE, 0] - mp_reference[FACEMESH_NOSE, 0]
            )
    raw = report["trackers"]["raw"]["static_jitter"]
    report["filtered_over_raw"] = report["trackers"]["1€ filter"]["static_jitter"] / raw
    report["face_size_px"] = size
    if sweep:
        report["sweep"] = []
        grid = itertools.product(
            ["vertices", "params"],
            ["filtered", "raw"],
            [0.2, 0.5, 1.0, 2.0],
            [5.0, 20.0, 40.0, 80.0],
        )
        for smooth, crop_from, min_cutoff, beta in tqdm(list(grid), desc="sweep"):
            config = TrackerConfig(
                filter=FilterConfig(min_cutoff, beta, 1.0), smooth=smooth, crop_from=crop_from
            )
            static = run_tracker(reconstructor, config, still, FPS)["landmarks"]
            motion = run_tracker(reconstructor, config, moving, FPS)["landmarks"]
            row = {
                "smooth": smooth,
                "crop_from": crop_from,
                "min_cutoff": min_cutoff,
                "beta": beta,
                "static_over_raw": jitter(static) / raw,
                "lag_frames": track_lag(motion[..., :2], truth),
                "moving_error": moving_error(motion, truth, size),
            }
            report["sweep"].append(row)
    return report, nose


def real_clips(
    reconstructor: Reconstructor, videos: list[Path]
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Every clip: fps, losses, ids, jitter, eye aperture."""
    report: dict[str, Any] = {}
    apertures: dict[str, dict[str, np.ndarray]] = {}
    rates: dict[str, float] = {}
    use_mediapipe = mediapipe_available() is not None
    for path in tqdm(videos, desc="clips"):
        video = VideoReader(path)
        started = time.perf_counter()
        frames = [frame.image for frame in video]
        decode_fps = len(frames) / (time.perf_counter() - started)
        filtered = run_tracker(reconstructor, TrackerConfig(), frames, video.fps)
        raw = run_tracker(reconstructor, replace(TrackerConfig(), smooth="none"), frames, video.fps)
        mesh_only = replace(TrackerConfig(), refine_eyes=False)
        mesh_eyes = run_tracker(reconstructor, mesh_only, frames, video.fps)["landmarks"]
        entry: dict[str, Any] = {
            "frames": len(frames),
            "size": [video.width, video.height],
            "fps_video": video.fps,
            "undecodable_frames": len(video.failed),
            "decode_fps": decode_fps,
            "tracking_fps": filtered["fps"],
            "ids": filtered["ids"],
            "lost_tracks": filtered["lost"],
            "detector_calls": filtered["detector_calls"],
            "frames_without_face": filtered["missing"],
            "jitter_raw": acceleration_jitter(longest_run(raw["landmarks"])),
            "jitter_filtered": acceleration_jitter(longest_run(filtered["landmarks"])),
        }
        name = path.stem
        rates[name] = video.fps
        apertures[name] = {
            "morph3d (1€)": eye_aperture(filtered["landmarks"]).mean(axis=-1),
            "morph3d raw": eye_aperture(raw["landmarks"]).mean(axis=-1),
            "morph3d mesh only (no eye refiner)": eye_aperture(mesh_eyes).mean(axis=-1),
        }
        if use_mediapipe:
            mesh = run_facemesh(frames)
            entry["mediapipe"] = {
                "fps": mesh["fps"],
                "frames_without_face": mesh["missing"],
                "jitter": acceleration_jitter(longest_run(mesh["landmarks"])),
            }
            apertures[name]["MediaPipe"] = eye_aperture(mesh["landmarks"], FACEMESH_EYES).mean(-1)
        report[name] = entry
    return report, apertures, rates


def print_report(report: dict[str, Any]) -> None:
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
    print(f"\n{'clip':8s} {'frames':>6s} {'size':>9s} {'track fps':>9s} {'decode':>7s} "
          f"{'lost':>4s} {'ids':>5s} {'no face':>7s} {'jit raw':>8s} {'jit 1€':>7s} "
          f"{'MP jit':>7s} {'MP fps':>7s}")  # fmt: skip
    for name, row in report["clips"].items():
        mp = row.get("mediapipe")
        mp_text = f"{mp['jitter']:7.3f} {mp['fps']:7.1f}" if mp else f"{'-':>7s} {'-':>7s}"
        size = f"{row['size'][0]}x{row['size'][1]}"
        print(f"{name:8s} {row['frames']:6d} {size:>9s} {row['tracking_fps']:9.1f} "
              f"{row['decode_fps']:7.0f} {row['lost_tracks']:4d} {len(row['ids']):5d} "
              f"{row['frames_without_face']:7d} {row['jitter_raw']:8.3f} "
              f"{row['jitter_filtered']:7.3f} {mp_text}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--plots", type=Path, help="folder for the PNG plots")
    parser.add_argument("--photo", type=Path, default=SHARED_DATA / "photos" / "obama.jpg")
    parser.add_argument("--videos", type=Path, nargs="*", help="default: ../shared/data/videos")
    parser.add_argument("--frames", type=int, default=150, help="frames of the synthetic tests")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep", action="store_true", help="also run the settings grid")
    args = parser.parse_args(argv)
    videos = args.videos
    if videos is None:
        videos = sorted((SHARED_DATA / "videos").glob("*.mp4"))
    reconstructor = Reconstructor(threads=args.threads, spin=False)  # as Tracker() makes it
    image = portrait(read_image(args.photo), reconstructor)
    synthetic, nose = synthetic_tests(reconstructor, image, args.frames, args.sweep)
    clips, apertures, rates = real_clips(reconstructor, videos)
    report = {
        "machine": machine_info(args.threads),
        "mediapipe": mediapipe_available() or "not installed",
        "tracker": asdict(TrackerConfig()),
        "synthetic": synthetic,
        "clips": clips,
    }
    print_report(report)
    write_json(args.json, report)
    if args.plots:
        plot_steadiness(
            {
                f"still photo: nose tip x minus its mean ({args.frames} frames)": nose["still"],
                "moving photo: nose tip x": nose["moving"],
            },
            args.plots / "tracking_steadiness.png",
            FPS,
        )
        if apertures:
            plot_eye_aperture(apertures, args.plots / "eye_aperture.png", rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
