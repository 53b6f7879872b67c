"""augment_video: the two-thread pipeline writes what one thread writes, and fails cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.ar import AR, augment_video
from morph3d.io.video import VideoReader
from morph3d.pipeline.tracker import Tracker

from ..conftest import short_clip


def _frames(path: Path) -> np.ndarray:
    return np.stack([frame.image for frame in VideoReader(path)])


def test_overlapped_pipeline_writes_the_same_frames(shared_data: Path, tmp_path: Path) -> None:
    clip = short_clip(shared_data / "videos" / "d11.mp4", tmp_path / "clip.mp4", 12)
    outputs = {}
    for overlap in (False, True):
        video = VideoReader(clip)
        with AR("glasses", Tracker(fps=video.fps)) as ar:
            times = augment_video(video, tmp_path / f"{overlap}.mp4", ar, overlap=overlap)
        assert times.frames == 12 and times.wall > 0
        assert set(times.seconds) == {"decode", "track", "render", "composite", "encode"}
        outputs[overlap] = _frames(tmp_path / f"{overlap}.mp4")
    assert outputs[True].shape == outputs[False].shape == (12, *_frames(clip).shape[1:])
    np.testing.assert_array_equal(outputs[True], outputs[False])
    # The effect is drawn: the frames differ from the input.
    assert np.abs(outputs[True].astype(int) - _frames(clip)).max() > 60


class _Broken(Tracker):
    def __init__(self, at: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.at = at

    def update(self, frame, timestamp=None, channel_order="rgb"):  # type: ignore[no-untyped-def]
        if self._frames == self.at:
            raise RuntimeError("tracker broke")
        return super().update(frame, timestamp, channel_order)


@pytest.mark.parametrize("at", [0, 5])
def test_an_error_while_tracking_stops_the_run_and_leaves_no_file(
    shared_data: Path, tmp_path: Path, at: int
) -> None:
    clip = short_clip(shared_data / "videos" / "d11.mp4", tmp_path / "clip.mp4", 8)
    video = VideoReader(clip)
    with AR("hat", _Broken(at, fps=video.fps)) as ar, pytest.raises(RuntimeError, match="broke"):
        augment_video(video, tmp_path / "out.mp4", ar)
    assert not (tmp_path / "out.mp4").exists()
