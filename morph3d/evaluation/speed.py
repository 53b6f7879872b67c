"""Timing helpers for the benchmarks: they measure and return figures, never print.

The benchmarks themselves live outside the library (``scripts/bench_reconstruct.py``,
``scripts/bench_tracking.py``, ``scripts/bench_ar.py``); they time their stages with
:func:`time_stages`, summarise with :func:`timing_summary` and record :func:`machine_info`.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.inference.session import physical_cores

__all__ = ["letterbox", "machine_info", "time_call", "time_stages", "timing_summary"]


def time_call(function: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``function``, after one untimed warm-up call."""
    function()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        out.append(1000 * (time.perf_counter() - started))
    return out


def time_stages(stages: Mapping[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """:func:`time_call` of every stage, in order: ``{stage: milliseconds}``."""
    return {name: time_call(function, repeats) for name, function in stages.items()}


def timing_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    """The median and 90th percentile of timings: ``{"median_ms", "p90_ms"}``."""
    values = np.asarray(milliseconds)
    return {"median_ms": float(np.median(values)), "p90_ms": float(np.percentile(values, 90))}


def letterbox(image: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """Fit an ``(H, W, 3)`` uint8 image into ``width`` x ``height`` (scaled, centred, black
    borders), so that timings on photos of any size compare."""
    import cv2

    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return out


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
