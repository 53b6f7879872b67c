"""Speed benchmark of reconstruction: ``morph3d bench``.

Per stage (image decode, detection, crop, network, mesh decode, whole ``faces``), the median and
90th percentile over many runs on real photos; model sizes; the start-up time and peak memory of
a ``morph3d reconstruct`` process; and, when ``mediapipe`` is importable, its FaceMesh on the same
images for a side-by-side figure.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from morph3d.core.crop import CROP_SIZE, crop_to_image
from morph3d.inference.session import physical_cores
from morph3d.io.image import crop_image, read_image
from morph3d.pipeline.reconstructor import Reconstructor

__all__ = ["machine_info", "run_benchmark"]


def _times(function: Callable[[], Any], repeats: int) -> list[float]:
    function()  # warm-up
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        out.append(1000 * (time.perf_counter() - started))
    return out


def _summary(milliseconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(milliseconds)
    return {"median_ms": float(np.median(values)), "p90_ms": float(np.percentile(values, 90))}


def _letterbox(image: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """Fit an image into ``width`` x ``height`` (scaled, centred, black borders)."""
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return out


def _process(photo: Path, weights: Path) -> dict[str, float]:
    """Wall time and peak memory of one ``morph3d reconstruct`` process."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "morph3d.cli",
            "reconstruct",
            str(photo),
            "-o",
            folder,
            "--weights",
            str(weights),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_rss_mb": max(peak, before) / 1024}


def _mediapipe(images: list[np.ndarray], repeats: int) -> dict[str, Any]:
    try:
        import mediapipe
    except ImportError:
        return {
            "available": False,
            "note": "mediapipe is not installed (pip install mediapipe==0.10.21)",
        }
    mesh = mediapipe.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
    times: list[float] = []
    for image in images:
        times += _times(partial(mesh.process, image), repeats)
    return {"available": True, "version": mediapipe.__version__, "face_mesh": _summary(times)}


def _stage_times(
    reconstructor: Reconstructor, photo: Path, image: np.ndarray, repeats: int
) -> dict[str, list[float]]:
    """Milliseconds of every stage on one photo (its largest face); empty if none is found."""
    detector, predictor = reconstructor.detector, reconstructor.predictor
    model = reconstructor.model
    faces = detector.detect(image)
    if not faces:
        return {}
    box = detector.crop_box(faces[0].box)
    crop = crop_image(image, box, CROP_SIZE)
    params = predictor.predict(crop[None])
    return {
        "decode": _times(lambda: read_image(photo), repeats),
        "detect": _times(lambda: detector.detect(image), repeats),
        "crop": _times(lambda: crop_image(image, box, CROP_SIZE), repeats),
        "network": _times(lambda: predictor.predict(crop[None]), repeats),
        "mesh": _times(lambda: crop_to_image(model.decode(params)[0], box), repeats),
        "whole": _times(lambda: reconstructor.faces(image), repeats),
    }


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """The machine a benchmark ran on: processor, cores, Python, inference threads."""
    processor = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "processor": processor,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "threads": threads or physical_cores(),
        "python": platform.python_version(),
    }


def run_benchmark(
    photos: Sequence[Path], weights: Sequence[Path], repeats: int = 50, threads: int = 2
) -> dict[str, Any]:
    """Time every stage for each network; returns the JSON-able report."""
    images = [read_image(path) for path in photos]
    standard = [_letterbox(image) for image in images]
    report: dict[str, Any] = {
        "machine": machine_info(threads),
        "photos": [str(path) for path in photos],
        "repeats": repeats,
        "networks": {},
    }
    for path in weights:
        reconstructor = Reconstructor(weights=path, threads=threads)
        stages: dict[str, list[float]] = {}
        for photo, image in zip(photos, standard, strict=True):
            for stage, values in _stage_times(reconstructor, photo, image, repeats).items():
                stages.setdefault(stage, []).extend(values)
        report["networks"][path.name] = {
            "size_mb": path.stat().st_size / 1e6,
            "stages_640x480": {key: _summary(values) for key, values in stages.items()},
            "refine_passes": reconstructor.config.refine,
            "process": _process(photos[0], path),
        }
    report["mediapipe"] = _mediapipe(standard, repeats)
    return report


def print_report(report: dict[str, Any]) -> None:
    """A readable table of :func:`run_benchmark`'s report."""
    machine = report["machine"]
    print(
        f"machine: {machine['processor']}, {machine['physical_cores']} physical cores, "
        f"{machine['threads']} threads; {len(report['photos'])} photos at 640x480, "
        f"{report['repeats']} runs each"
    )
    for name, network in report["networks"].items():
        print(f"\n{name} ({network['size_mb']:.1f} MB), refine passes {network['refine_passes']}")
        print(f"  {'stage':<10} {'median ms':>10} {'p90 ms':>8}")
        for stage, figures in network["stages_640x480"].items():
            print(f"  {stage:<10} {figures['median_ms']:>10.2f} {figures['p90_ms']:>8.2f}")
        process = network["process"]
        print(
            f"  morph3d reconstruct process: {process['wall_s']:.2f} s, "
            f"peak RSS {process['peak_rss_mb']:.0f} MB"
        )
    mediapipe = report["mediapipe"]
    if mediapipe["available"]:
        face_mesh = mediapipe["face_mesh"]
        median, p90 = face_mesh["median_ms"], face_mesh["p90_ms"]
        print(
            f"\nMediaPipe {mediapipe['version']} FaceMesh: median {median:.2f} ms, p90 {p90:.2f} ms"
        )
    else:
        print(f"\nMediaPipe: {mediapipe['note']}")
