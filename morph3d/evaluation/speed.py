"""Timing helpers for the benchmarks: they measure and return figures, never print.

The benchmarks themselves live outside the library (``scripts/bench_reconstruct.py``,
``scripts/bench_tracking.py``, ``scripts/bench_ar.py``); they time their stages with
:func:`time_stages`, summarise with :func:`timing_summary` and record :func:`machine_info`.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.inference.session import physical_cores

__all__ = [
    "head_to_head",
    "letterbox",
    "machine_info",
    "time_alternating",
    "time_call",
    "time_process",
    "time_stages",
    "timing_summary",
]


def time_call(function: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``function``, after one untimed warm-up call."""
    function()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        out.append(1000 * (time.perf_counter() - started))
    return out


def time_process(command: Sequence[str]) -> dict[str, float]:
    """Wall time, peak memory and exit status of one run of a command (what it prints is
    dropped; a failing exit status is reported, not raised)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(list(command), check=False, capture_output=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_rss_mb": max(peak, before) / 1024, "exit_status": done.returncode}


def time_stages(stages: Mapping[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """:func:`time_call` of every stage, in order: ``{stage: milliseconds}``."""
    return {name: time_call(function, repeats) for name, function in stages.items()}


def time_alternating(
    calls: Mapping[str, Callable[[Any], Any]],
    inputs: Sequence[Any],
    rounds: int,
    chunk: int = 10,
) -> dict[str, list[list[float]]]:
    """Milliseconds of several calls on the same inputs, taking turns: a head-to-head figure
    that the machine's drift cannot tilt.

    In each round, for each input, each call runs ``chunk`` timed times after one untimed run
    (which meets the caches and threads the other call left); the calls' order is reversed
    every other round. Two blocks minutes apart on a shared machine can differ by more than
    what is compared.

    Args:
        calls: The contenders by name, each called with one input.
        inputs: What to call them on.
        rounds: How many rounds.
        chunk: Timed calls in a row of one contender on one input.

    Returns:
        ``{name: per input, its milliseconds}``.
    """
    names = list(calls)
    times: dict[str, list[list[float]]] = {name: [[] for _ in inputs] for name in names}
    for round_ in range(rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for index, item in enumerate(inputs):
            for name in order:
                times[name][index] += time_call(partial(calls[name], item), chunk)
    return times


def head_to_head(
    calls: Mapping[str, Callable[[Any], Any]], inputs: Sequence[Any], repeats: int
) -> dict[str, Any]:
    """Two contenders timed taking turns (:func:`time_alternating`, chunks of ten calls),
    ``repeats`` calls each an input: each one's :func:`timing_summary` over every call and its
    median on each input, and ``ratio``, the first's median over the second's."""
    times = time_alternating(calls, inputs, rounds=max(1, repeats // 10), chunk=10)
    out: dict[str, Any] = {
        name: {
            **timing_summary([value for per in per_input for value in per]),
            "per_input_median_ms": [float(np.median(per)) for per in per_input],
        }
        for name, per_input in times.items()
    }
    first, second = (out[name]["median_ms"] for name in calls)
    out["ratio"] = first / second
    return out


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
