from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.evaluation.blinks import BlinkSeries, blink_peaks, blink_series, eye_band
from morph3d.evaluation.plots import plot_blink_frames, plot_blinks
from morph3d.io.image import read_image


def test_blink_peaks_of_a_known_curve() -> None:
    curve = np.array([0, 0.6, 0.8, 0.2, 0.7, 0, 0, 0, 0, 0, 0, 0.9, np.nan, 0.3])
    # frames 1-4 are one blink (the dip at 3 is shorter than the gap), 11 another
    assert blink_peaks(curve, 0.5, gap=5).tolist() == [2, 11]
    assert blink_peaks(curve, 0.5, gap=1).tolist() == [2, 4, 11]
    assert blink_peaks(np.full(5, np.nan)).tolist() == []


def _series(count: int = 40) -> BlinkSeries:
    t = np.arange(count, dtype=np.float64)
    closure = np.exp(-0.5 * ((t - 20) / 2.0) ** 2)  # one blink at frame 20
    aperture = 0.3 * (1 - closure)
    blink = np.stack([closure, closure], axis=1)
    blink[:3] = np.nan  # no face yet
    return BlinkSeries(25.0, blink, aperture + 0.01, aperture, np.zeros((count, 4, 3), np.float32))


def test_a_blink_record_sums_up() -> None:
    summary = _series().summary()
    assert summary["frames"] == 40 and summary["frames_with_face"] == 37
    assert summary["blinks"] == 1 and summary["blink_frames"] == [20]
    assert summary["blink_vs_refiner_aperture_r"] == pytest.approx(-1.0)
    assert summary["mesh_vs_refiner_aperture_r"] == pytest.approx(1.0)


def test_eye_band_crops_between_brows_and_nose() -> None:
    image = np.zeros((200, 200, 3), np.uint8)
    image[70:110] = 255  # a white band at 35-55 % of the face's height (top 20, bottom 180)
    vertices = np.array([[40.0, 20.0, 0.0], [160.0, 180.0, 0.0]])
    band = eye_band(image, vertices, height=80)
    assert band.shape[0] == 80 and band.shape[2] == 3
    assert band[:, band.shape[1] // 2].mean() > 100  # the band is mostly white down the middle
    with pytest.raises(ValueError, match="outside"):
        eye_band(image, vertices + 1000.0)


def test_blink_plots_are_drawn(tmp_path: Path) -> None:
    image = read_image(plot_blinks({"a": _series(), "b": _series(60)}, tmp_path / "b.png"))
    assert image.shape[0] > 200 and image.std() > 10
    panel = np.full((50, 120, 3), 200, np.uint8)
    rows = {"a": [("open", panel), ("blink", panel)], "b": [("open", panel)]}
    sheet = read_image(plot_blink_frames(rows, tmp_path / "f.png"))
    assert sheet.shape[1] > sheet.shape[0] and sheet.std() > 10


@pytest.mark.integration
def test_a_real_blink_closes_the_mesh(shared_data: Path) -> None:
    from morph3d.io.video import VideoReader
    from morph3d.pipeline.reconstructor import Reconstructor
    from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR, Tracker, TrackerConfig

    video = VideoReader(shared_data / "videos" / "d0.mp4")
    frames = [frame.image for frame in video][30:72]  # frame 65 of d0 is a blink
    tracker = Tracker(TrackerConfig(), Reconstructor(TRACKING_RECONSTRUCTOR), fps=video.fps)
    record = blink_series(tracker, frames, video.fps)
    assert np.isfinite(record.mean_blink).all()
    opened, shut = record.mean_blink[40 - 30], record.mean_blink[65 - 30]
    assert opened < 0.2 and shut > 0.5
    # The mesh's lids close most at frame 66 with the 300W-only network, 67 with the
    # large-pose default (its 1€-filtered vertices): within the blink, under half of open.
    blink = record.mesh_aperture[64 - 30 : 69 - 30]
    assert blink.min() < 0.5 * record.mesh_aperture[40 - 30]
    assert record.correlation() < -0.8
    assert record.vertices.shape[1] > 1000
    with pytest.raises(ValueError, match="refine"):
        plain = TrackerConfig(refine_eyes=False)
        blink_series(Tracker(plain, Reconstructor(TRACKING_RECONSTRUCTOR)), frames[:2], 25.0)
