from __future__ import annotations

import numpy as np
import pytest

from morph3d.evaluation.steadiness import noise_ladder
from morph3d.io.synthetic import degrade
from morph3d.timing import StageTimes


def test_jitter_of_known_motion() -> None:
    from morph3d.evaluation.steadiness import acceleration_jitter, jitter

    face = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])  # size 100
    steps = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [6.0, 8.0]])  # moves 5, 0, 5 px
    tracks = face[None] + steps[:, None]
    assert jitter(tracks) == pytest.approx(100 * np.sqrt((25 + 0 + 25) / 3) / 100)
    # second differences: (0,0)-2(3,4)+(3,4) = (-3,-4) -> 5; (3,4)-2(3,4)+(6,8) = (3,4) -> 5
    assert acceleration_jitter(tracks) == pytest.approx(5.0)
    assert acceleration_jitter(tracks, size=50.0) == pytest.approx(10.0)  # a shared divisor
    uniform = face[None] + np.arange(10)[:, None, None] * np.array([2.0, 1.0])
    assert acceleration_jitter(uniform) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="tracks"):
        jitter(face)


def test_track_lag_finds_a_known_delay() -> None:
    from morph3d.evaluation.steadiness import track_lag

    t = np.arange(120)
    truth = np.stack([np.sin(t / 7), np.cos(t / 11)], axis=1)
    delayed = np.stack([np.sin((t - 2.5) / 7), np.cos((t - 2.5) / 11)], axis=1)
    assert track_lag(delayed, truth) == pytest.approx(2.5, abs=0.051)
    assert track_lag(truth, truth) == 0.0


def test_noise_ladder_rows_and_summary() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 200, size=(68, 3))

    class Still:
        """A tracker that sees the photo's brightness: noisier frames shake it more."""

        def __init__(self, config) -> None:
            self.lost_tracks = self.detector_calls = 0
            self.times = StageTimes()

        def update(self, frame, time):
            shake = float(frame.std()) / 50
            points = base + np.random.default_rng(int(time * 1000)).normal(0, shake, base.shape)
            face = type(
                "Face",
                (),
                {
                    "id": 0,
                    "landmarks": points * 0.5 + base * 0.5,
                    "raw_landmarks": points,
                    "box": np.array([0, 0, 1, 1.0]),
                },
            )
            return [face]

    photo = np.full((64, 64, 3), 128, np.uint8)
    rungs = {"clean": {"noise": 0.0, "quality": 95}, "noisy": {"noise": 8.0, "quality": 85}}
    other = ("still", lambda: lambda frame: base.copy(), 68)
    report = noise_ladder(Still, None, {"grey": photo}, count=8, rungs=rungs, other=other, warmup=2)
    assert [row["rung"] for row in report["rows"]] == ["clean", "noisy"]
    clean, noisy = report["rungs"]["clean"], report["rungs"]["noisy"]
    assert noisy["raw"] > clean["raw"] and noisy["filtered"] < noisy["raw"]
    assert noisy["other"] == 0.0 and report["other"] == "still"


def test_degrade_blur_and_low_light() -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 16:] = 200
    sharp = degrade(image, rng, noise=0.0, quality=95)
    blurred = degrade(image, rng, noise=0.0, quality=95, blur=2.0)
    assert (
        np.abs(np.diff(blurred.astype(float), axis=1)).max()
        < np.abs(np.diff(sharp.astype(float), axis=1)).max()
    )
    bright = degrade(image, np.random.default_rng(1), noise=3.0, quality=95)
    dim = degrade(image, np.random.default_rng(1), noise=3.0, quality=95, light=0.25)
    flat = (slice(None), slice(0, 12))
    assert dim[flat].std() > 2 * bright[flat].std()  # the gain amplifies the sensor noise
    assert abs(float(dim[:, 20:].mean()) - 200) < 10  # and restores the brightness


def test_pipelined_fps_runs_every_frame_through_track() -> None:
    from morph3d.evaluation.steadiness import pipelined_fps

    class _Recording:
        def __init__(self) -> None:
            self.seen: list[tuple[int, float]] = []

        def track(self, frames, timestamps):
            for frame, time in zip(frames, timestamps, strict=True):
                self.seen.append((int(frame[0, 0, 0]), time))
                yield []

    frames = [np.full((4, 4, 3), k, np.uint8) for k in range(6)]
    tracker = _Recording()
    assert pipelined_fps(tracker, frames, 25.0) > 0
    assert tracker.seen == [(k, k / 25.0) for k in range(6)]
