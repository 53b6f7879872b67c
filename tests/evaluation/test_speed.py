"""The benchmarks' timing helpers: counts, order, summaries, the letterbox."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.evaluation.speed import (
    letterbox,
    time_alternating,
    time_call,
    time_stages,
    timing_summary,
)

pytestmark = pytest.mark.unit


def test_time_call_warms_up_once_then_times_each_call() -> None:
    calls: list[int] = []
    times = time_call(lambda: calls.append(1), 5)
    assert len(calls) == 6 and len(times) == 5 and min(times) >= 0
    stages = time_stages({"a": lambda: None, "b": lambda: None}, 3)
    assert list(stages) == ["a", "b"] and all(len(v) == 3 for v in stages.values())


def test_contenders_take_turns_in_chunks_and_swap_order_each_round() -> None:
    log: list[tuple[str, int]] = []
    calls = {"us": lambda x: log.append(("us", x)), "them": lambda x: log.append(("them", x))}
    times = time_alternating(calls, [10, 20], rounds=2, chunk=3)
    assert set(times) == {"us", "them"}
    assert all(len(per) == 2 and all(len(t) == 6 for t in per) for per in times.values())  # 2 x 3
    runs = [log[k] for k in range(0, len(log), 4)]  # each chunk: one untimed call, three timed
    assert runs == [("us", 10), ("them", 10), ("us", 20), ("them", 20),
                    ("them", 10), ("us", 10), ("them", 20), ("us", 20)]  # fmt: skip
    assert len(log) == 2 * 2 * 2 * 4


def test_summary_and_letterbox() -> None:
    summary = timing_summary([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary["median_ms"] == 3.0 and 4.0 < summary["p90_ms"] < 100.0
    tall = np.full((200, 100, 3), 255, np.uint8)
    boxed = letterbox(tall, 640, 480)
    assert boxed.shape == (480, 640, 3)
    columns = np.flatnonzero(boxed[240, :, 0] > 0)
    assert boxed[:, : columns[0]].max() == 0 and len(columns) == 240  # scaled to 240x480, centred
    assert columns[0] == 200


def test_a_process_is_timed_and_its_exit_status_kept() -> None:
    import sys

    from morph3d.evaluation.speed import time_process

    figures = time_process([sys.executable, "-c", "import sys; print('x'); sys.exit(3)"])
    assert figures["exit_status"] == 3 and figures["wall_s"] > 0 and figures["peak_rss_mb"] > 1
