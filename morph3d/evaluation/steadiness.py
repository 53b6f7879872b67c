"""How steady video tracking is: metrics of landmark tracks and the measurements of
``scripts/bench_tracking.py``.

Steadiness of landmark tracks ``(T, n, 2|3)`` over ``T`` frames, in percent of the face size
``d`` (the median over frames of the landmark box's ``sqrt(width * height)``):

* :func:`jitter`: RMS frame-to-frame displacement ``|x[t+1] - x[t]|``, for a still face;
* :func:`acceleration_jitter`: RMS second difference ``|x[t+1] - 2 x[t] + x[t-1]|``, which
  smooth motion barely moves, for videos without ground truth;
* :func:`track_lag`: how many frames a track trails a known one.

The measurements run a tracker (any object with ``update(image, time) -> faces``, faces with
``id``, ``landmarks`` and ``raw_landmarks``, and ``lost_tracks``, ``detector_calls`` counters:
:class:`morph3d.pipeline.tracker.Tracker`) or a per-frame landmarker over frames and return
figures; they print nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from morph3d.core.boxes import is_nested
from morph3d.core.landmarks68 import EYE_APERTURE
from morph3d.core.metrics import EyeIndices, eye_aperture, landmark_box_size

__all__ = [
    "NOISE_LADDER",
    "acceleration_jitter",
    "clip_steadiness",
    "jitter",
    "longest_run",
    "moving_error",
    "noise_ladder",
    "photo_steadiness",
    "pixel_jitter",
    "portrait",
    "run_landmarker",
    "run_tracker",
    "steadiness_figures",
    "track_lag",
]

#: The webcam-noise ladder: rung label -> settings of :func:`morph3d.io.synthetic.degrade`
#: (sensor noise in grey levels, JPEG quality, defocus sigma in pixels, share of the light).
NOISE_LADDER: dict[str, dict[str, float]] = {
    "clean q95": {"noise": 0.0, "quality": 95},
    "noise 2 q85": {"noise": 2.0, "quality": 85},
    "noise 4 q85": {"noise": 4.0, "quality": 85},
    "noise 6 q85": {"noise": 6.0, "quality": 85},
    "noise 8 q85": {"noise": 8.0, "quality": 85},
    "noise 3 q95": {"noise": 3.0, "quality": 95},
    "noise 3 q75": {"noise": 3.0, "quality": 75},
    "noise 3 q50": {"noise": 3.0, "quality": 50},
    "noise 4 q75": {"noise": 4.0, "quality": 75},
    "blur 1 px": {"noise": 3.0, "quality": 85, "blur": 1.0},
    "blur 2 px": {"noise": 3.0, "quality": 85, "blur": 2.0},
    "light 50 %": {"noise": 3.0, "quality": 85, "light": 0.5},
    "light 25 %": {"noise": 3.0, "quality": 85, "light": 0.25},
}

#: A per-frame landmarker: ``(H, W, 3)`` RGB -> ``(n, 3)`` pixel landmarks or ``None``.
Landmarker = Callable[[np.ndarray], "np.ndarray | None"]


def _tracks(tracks: np.ndarray, minimum: int) -> tuple[np.ndarray, float]:
    points = np.asarray(tracks, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] < 2 or len(points) < minimum:
        raise ValueError(f"expected (T >= {minimum}, n, 2|3) tracks, got {points.shape}")
    size = float(np.median(landmark_box_size(points)))
    if not size > 0:
        raise ValueError("the tracks have a zero-size landmark box")
    return points[..., :2], size


def jitter(tracks: np.ndarray) -> float:
    """RMS frame-to-frame 2D displacement of ``(T, n, 2|3)`` tracks, percent of the face size."""
    points, size = _tracks(tracks, 2)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    return float(100.0 * np.sqrt(np.mean(steps**2)) / size)


def acceleration_jitter(tracks: np.ndarray, size: float | None = None) -> float:
    """RMS 2D second difference of ``(T, n, 2|3)`` tracks, percent of the face size (the
    tracks' own, or ``size`` pixels: one divisor for two landmark sets whose boxes differ)."""
    points, own = _tracks(tracks, 3)
    size = own if size is None else size
    second = np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=-1)
    return float(100.0 * np.sqrt(np.mean(second**2)) / size)


def track_lag(estimate: np.ndarray, truth: np.ndarray, max_lag: float = 10.0) -> float:
    """Frames by which ``estimate`` trails ``truth`` (both ``(T, ...)``), to 0.05 frame.

    The lag is the shift ``L`` that minimises the RMS difference between ``estimate[t]`` and
    ``truth[t - L]`` (``truth`` linearly interpolated between frames), over ``[0, max_lag]``.
    Compare the motion, not a constant offset: subtract each track's own mean first if needed.
    """
    estimate = np.asarray(estimate, dtype=np.float64).reshape(len(estimate), -1)
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
    if estimate.shape != truth.shape or len(truth) < 2 * max_lag + 2:
        raise ValueError(f"need matching tracks longer than 2 max_lag, got {estimate.shape}")
    frames = np.arange(len(truth), dtype=np.float64)
    start = int(np.ceil(max_lag))
    best, best_error = 0.0, np.inf
    for lag in np.arange(0.0, max_lag + 1e-9, 0.05):
        shifted = np.stack(
            [np.interp(frames[start:] - lag, frames, truth[:, j]) for j in range(truth.shape[1])],
            axis=1,
        )
        error = float(np.mean((estimate[start:] - shifted) ** 2))
        if error < best_error:
            best, best_error = float(lag), error
    return best


def pixel_jitter(tracks: np.ndarray) -> float:
    """RMS frame-to-frame 2D landmark motion of ``(T, n, 2|3)`` tracks, in pixels."""
    steps = np.linalg.norm(np.diff(np.asarray(tracks)[..., :2], axis=0), axis=-1)
    return float(np.sqrt(np.mean(steps**2)))


def moving_error(tracks: np.ndarray, truth: np.ndarray, size: float) -> float:
    """RMS 2D distance of ``(T, n, 2|3)`` tracks to ``(T, n, 2)`` truth, percent of ``size``."""
    distance = np.linalg.norm(np.asarray(tracks)[..., :2] - truth, axis=-1)
    return float(100 * np.sqrt(np.mean(distance**2)) / size)


def longest_run(tracks: np.ndarray) -> np.ndarray:
    """The longest stretch of consecutive frames of ``(T, n, d)`` tracks without NaN."""
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


def portrait(photo: np.ndarray, box: np.ndarray, size: int = 512) -> np.ndarray:
    """A ``size`` square picture centred on a face box ``(4,)`` of the photo, the face about
    40 % of it (borders reflected)."""
    import cv2

    centre = (box[:2] + box[2:]) / 2
    half = 1.3 * max(box[2] - box[0], box[3] - box[1])
    scale = size / (2 * half)
    matrix = np.array(
        [[scale, 0, -(centre[0] - half) * scale], [0, scale, -(centre[1] - half) * scale]]
    )
    return cv2.warpAffine(
        photo, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101
    )


def run_tracker(tracker: Any, frames: Sequence[np.ndarray], fps: float) -> dict[str, Any]:
    """Track frames with a fresh tracker; the first face's landmarks per frame (NaN if none).

    Returns:
        ``landmarks`` and ``raw`` ``(T, 68, 3)`` (smoothed and unsmoothed), ``ids`` seen,
        ``lost`` tracks, ``detector_calls``, tracking ``fps``, ``missing`` frames, ``nested``
        frames (a track's box inside another's, :func:`~morph3d.core.boxes.is_nested`) and
        ``stages_ms``, the milliseconds a frame of each of the tracker's stages
        (:attr:`~morph3d.pipeline.tracker.Tracker.times`).
    """
    smooth = np.full((len(frames), 68, 3), np.nan)
    raw = np.full((len(frames), 68, 3), np.nan)
    ids: set[int] = set()
    nested = 0
    seconds = 0.0
    for k, frame in enumerate(frames):
        started = time.perf_counter()
        faces = tracker.update(frame, k / fps)
        seconds += time.perf_counter() - started
        ids.update(face.id for face in faces)
        boxes = [face.box for face in faces]
        nested += any(is_nested(a, b) for a in boxes for b in boxes if a is not b)
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
        "nested": int(nested),
        "stages_ms": tracker.times.per_frame_ms(),
    }


def pipelined_fps(tracker: Any, frames: Sequence[np.ndarray], fps: float) -> float:
    """Frames a second of a fresh tracker's :meth:`~morph3d.pipeline.tracker.Tracker.track`
    over frames (each frame's finishing overlapped with the next one's placing)."""
    started = time.perf_counter()
    for _ in tracker.track(frames, [k / fps for k in range(len(frames))]):
        pass
    return len(frames) / (time.perf_counter() - started)


def run_landmarker(
    landmarker: Landmarker, frames: Sequence[np.ndarray], points: int
) -> dict[str, Any]:
    """A per-frame landmarker over frames: ``(T, points, 3)`` landmarks (NaN if none), fps."""
    out = np.full((len(frames), points, 3), np.nan)
    seconds = 0.0
    for k, frame in enumerate(frames):
        started = time.perf_counter()
        found = landmarker(frame)
        seconds += time.perf_counter() - started
        if found is not None:
            out[k] = found
    if hasattr(landmarker, "close"):
        landmarker.close()
    return {
        "landmarks": out,
        "fps": len(frames) / seconds,
        "missing": int(np.isnan(out[:, 0, 0]).sum()),
    }


def steadiness_figures(
    static: np.ndarray, motion: np.ndarray, reference: np.ndarray, shifts: np.ndarray
) -> dict[str, float]:
    """Figures of a tracker on a still and a moving photo.

    Args:
        static: ``(T, n, 2|3)`` tracks of the still photo.
        motion: ``(T, n, 2|3)`` tracks of the photo moved by ``shifts``.
        reference: ``(n, 2)`` still-face landmarks: the truth is ``reference + shifts``.
        shifts: ``(T, 2)`` shifts of the moving photo, pixels.

    Returns:
        ``static_jitter`` (% of face size), ``static_jitter_px``, ``lag_frames`` and
        ``moving_error`` (RMS distance to the truth, % of the reference's face size).
    """
    truth = reference[None] + shifts[:, None]
    return {
        "static_jitter": jitter(static),
        "static_jitter_px": pixel_jitter(static),
        "lag_frames": track_lag(motion[..., :2], truth),
        "moving_error": moving_error(motion, truth, float(landmark_box_size(reference))),
    }


def photo_steadiness(
    make_tracker: Callable[[Any], Any],
    configs: Mapping[str, Any],
    image: np.ndarray,
    count: int = 150,
    fps: float = 30.0,
    other: tuple[str, Callable[[], Landmarker], int, int] | None = None,
    sweep: Sequence[tuple[dict[str, Any], Any]] = (),
    progress: Callable[..., Any] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Trackers on a still photo (fresh noise and JPEG per frame) and on the same photo moving
    along a Lissajous path (amplitude 10 % of the width, period 2 s).

    Args:
        make_tracker: A fresh tracker of a config.
        configs: Label -> tracker config; ``"raw"`` (no smoothing, its mean still-photo
            landmarks are the truth) and ``"1€ filter"`` are required.
        image: ``(H, W, 3)`` uint8 photo of one face.
        count: Frames of each test.
        fps: Their frame rate.
        other: Optionally another landmarker: its label, a function that makes it, its number
            of points and the index of its nose tip.
        sweep: ``(settings, config)`` pairs to measure as well (a settings grid).
        progress: tqdm-like wrapper of the sweep.

    Returns:
        The report (``trackers``: label -> :func:`steadiness_figures`, ``filtered_over_raw``,
        ``face_size_px``, ``sweep`` rows) and the nose tip's x curves ``{"still", "moving"}``.
    """
    from morph3d.io.synthetic import lissajous_path, moving_frames, still_frames

    still = still_frames(image, count)
    shifts = lissajous_path(count, fps, amplitude=0.1 * image.shape[1], period=2.0)
    moving = moving_frames(image, shifts, seed=1)

    def tracks(config: Any) -> tuple[np.ndarray, np.ndarray]:
        return (
            run_tracker(make_tracker(config), still, fps)["landmarks"],
            run_tracker(make_tracker(config), moving, fps)["landmarks"],
        )

    runs = {label: tracks(config) for label, config in configs.items()}
    reference = runs["raw"][0].mean(axis=0)[:, :2]  # the still face, noise averaged out
    size = float(landmark_box_size(reference))
    report: dict[str, Any] = {
        "frames": count,
        "fps": fps,
        "noise_grey_levels": 3.0,
        "jpeg_quality": 85,
        "path": "x = A sin(2 pi t / 2 s), y = A/2 sin(4 pi t / 2 s), A = 10 % of the width",
        "image_size": list(image.shape[:2]),
        "trackers": {},
    }
    nose: dict[str, dict[str, np.ndarray]] = {"still": {}, "moving": {}}
    nose["moving"]["truth"] = reference[30, 0] + shifts[:, 0]
    for label, (static, motion) in runs.items():
        report["trackers"][label] = steadiness_figures(static, motion, reference, shifts)
        nose["still"][label] = static[:, 30, 0] - reference[30, 0]
        nose["moving"][label] = motion[:, 30, 0]
    if other is not None:
        name, make, points, tip = other
        static = run_landmarker(make(), still, points)["landmarks"]
        motion = run_landmarker(make(), moving, points)["landmarks"]
        if np.isnan(static).any() or np.isnan(motion).any():
            report["trackers"][name] = {"note": "lost the face on some frames"}
        else:
            own = static.mean(axis=0)[:, :2]
            row = steadiness_figures(static, motion, own, shifts)
            row["static_jitter_our_face_size"] = 100 * row["static_jitter_px"] / size
            report["trackers"][name] = row
            nose["still"][name.split()[0]] = static[:, tip, 0] - own[tip, 0]
    raw = report["trackers"]["raw"]["static_jitter"]
    report["filtered_over_raw"] = report["trackers"]["1€ filter"]["static_jitter"] / raw
    report["face_size_px"] = size
    if sweep:
        report["sweep"] = []
        for settings, config in (progress or iter)(sweep):
            figures = steadiness_figures(*tracks(config), reference, shifts)
            report["sweep"].append(
                {
                    **settings,
                    "static_over_raw": figures["static_jitter"] / raw,
                    "lag_frames": figures["lag_frames"],
                    "moving_error": figures["moving_error"],
                }
            )
    return report, nose


def clip_steadiness(
    make_tracker: Callable[[Any], Any],
    configs: Mapping[str, Any],
    frames: Sequence[np.ndarray],
    fps: float,
    landmarker: tuple[str, Callable[[], Landmarker], int, EyeIndices] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Tracking figures of a real clip, without ground truth.

    Args:
        make_tracker: A fresh tracker of a config (at the clip's frame rate).
        configs: ``"1€ filter"``, ``"raw"`` (no smoothing) and ``"mesh only"`` (no eye
            refiner) -> tracker config.
        frames: The decoded clip.
        fps: Its frame rate.
        landmarker: Optionally another landmarker to compare: its label, a function that
            makes it, its number of points and its eye indices.

    Returns:
        The figures (tracking fps of :meth:`~morph3d.pipeline.tracker.Tracker.update` frame by
        frame, its milliseconds a frame by stage, and the fps of
        :meth:`~morph3d.pipeline.tracker.Tracker.track`, ids, lost tracks,
        detector calls, frames without a face, second-difference jitter raw and filtered, the
        landmarker's under its label in lower case: its jitter over its own face size and over
        ours) and the mean eye aperture per frame of each.
    """
    filtered = run_tracker(make_tracker(configs["1€ filter"]), frames, fps)
    raw = run_tracker(make_tracker(configs["raw"]), frames, fps)
    mesh_only = run_tracker(make_tracker(configs["mesh only"]), frames, fps)["landmarks"]
    entry: dict[str, Any] = {
        "tracking_fps": filtered["fps"],
        "tracking_stages_ms": filtered["stages_ms"],
        "tracking_fps_pipelined": pipelined_fps(make_tracker(configs["1€ filter"]), frames, fps),
        "ids": filtered["ids"],
        "lost_tracks": filtered["lost"],
        "detector_calls": filtered["detector_calls"],
        "frames_without_face": filtered["missing"],
        "frames_with_nested_tracks": filtered["nested"],
        "jitter_raw": acceleration_jitter(longest_run(raw["landmarks"])),
        "jitter_filtered": acceleration_jitter(longest_run(filtered["landmarks"])),
    }
    apertures = {
        "morph3d (1€)": eye_aperture(filtered["landmarks"], EYE_APERTURE).mean(axis=-1),
        "morph3d raw": eye_aperture(raw["landmarks"]).mean(axis=-1),
        "morph3d mesh only (no eye refiner)": eye_aperture(mesh_only).mean(axis=-1),
    }
    if landmarker is not None:
        name, make, points, eyes = landmarker
        other = run_landmarker(make(), frames, points)
        ours = longest_run(filtered["landmarks"])
        size = float(np.median(landmark_box_size(ours))) if len(ours) else None
        entry[name.lower()] = {
            "fps": other["fps"],
            "frames_without_face": other["missing"],
            "jitter": acceleration_jitter(longest_run(other["landmarks"])),
            # Its points' box is larger than our 68 landmarks' (its mesh reaches the
            # forehead): over our face size, the two figures share a divisor.
            "jitter_our_face_size": acceleration_jitter(longest_run(other["landmarks"]), size)
            if size
            else float("nan"),
        }
        apertures[name] = eye_aperture(other["landmarks"], eyes).mean(-1)
    return entry, apertures


def noise_ladder(
    make_tracker: Callable[[Any], Any],
    config: Any,
    photos: Mapping[str, np.ndarray],
    count: int = 60,
    fps: float = 30.0,
    other: tuple[str, Callable[[], Landmarker], int] | None = None,
    rungs: Mapping[str, Mapping[str, float]] = NOISE_LADDER,
    progress: Callable[..., Any] | None = None,
    warmup: int = 10,
) -> dict[str, Any]:
    """Still-face jitter of the tracker (raw and filtered) and of another landmarker on every
    photo at every rung of a noise ladder.

    Each rung of each photo is ``count`` frames of the still photo, each with its own
    degradation (:func:`morph3d.io.synthetic.still_frames`); jitter is the RMS frame-to-frame
    motion in pixels over the tracker's face size (the same divisor for both landmarkers).

    Args:
        make_tracker: A fresh tracker of a config.
        config: The tracker config.
        photos: Name -> ``(H, W, 3)`` uint8 picture of one face.
        count: Frames per rung.
        fps: Their frame rate.
        other: Optionally another landmarker: its label, a function that makes it, its number
            of points.
        rungs: Label -> degradation settings (default :data:`NOISE_LADDER`).
        progress: tqdm-like wrapper of the (photo, rung) pairs.
        warmup: First frames left out of the jitter (both landmarkers settle from their first
            detection-placed crop).

    Returns:
        ``rows`` (one per photo and rung: ``raw``, ``filtered`` and the other's jitter, %),
        ``rungs`` (per rung the means over photos, and ``filtered_over_other``: the ratio of
        the means over the photos the other landmarker kept), the settings.
    """
    from morph3d.io.synthetic import still_frames

    pairs = [(name, label) for name in photos for label in rungs]
    rows = []
    for seed, (name, label) in enumerate((progress or iter)(pairs)):
        settings: dict[str, Any] = dict(rungs[label])
        frames = still_frames(photos[name], count + warmup, seed=seed, **settings)
        run = run_tracker(make_tracker(config), frames, fps)
        row: dict[str, Any] = {"photo": name, "rung": label, "missing": run["missing"]}
        if run["missing"]:
            rows.append({**row, "note": "lost the face on some frames"})
            continue
        size = float(np.median(landmark_box_size(run["raw"])))
        row["face_size_px"] = size
        row["raw"] = 100 * pixel_jitter(run["raw"][warmup:]) / size
        row["filtered"] = 100 * pixel_jitter(run["landmarks"][warmup:]) / size
        if other is not None:
            _, make, points = other
            found = run_landmarker(make(), frames, points)["landmarks"]
            missing = int(np.isnan(found[:, 0, 0]).sum())
            row["other_missing"] = missing
            if not missing:
                row["other"] = 100 * pixel_jitter(found[warmup:]) / size
        rows.append(row)
    summary: dict[str, dict[str, float]] = {}
    for label in rungs:
        done = [row for row in rows if row["rung"] == label and "raw" in row]
        entry = {key: float(np.mean([row[key] for row in done])) for key in ("raw", "filtered")}
        compared = [row for row in done if "other" in row]
        if compared:
            entry["other"] = float(np.mean([row["other"] for row in compared]))
            mean_other = entry["other"]
            entry["filtered_over_other"] = (
                float(np.mean([row["filtered"] for row in compared])) / mean_other
                if mean_other > 0
                else math.nan
            )
        entry["photos"] = len(done)
        summary[label] = entry
    return {
        "frames": count,
        "warmup_frames": warmup,
        "fps": fps,
        "other": None if other is None else other[0],
        "settings": {label: dict(values) for label, values in rungs.items()},
        "rows": rows,
        "rungs": summary,
    }
