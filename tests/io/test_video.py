"""Video reading and writing: round trips, frame counts, timestamps, undecodable frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.errors import VideoError
from morph3d.io.video import VideoReader, VideoWriter, is_video


def _frames(count: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    width, height = size
    frames = []
    for k in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : width // 2] = (200, 30, 30)  # red left half
        frame[:, width // 2 :] = (30, 30, 200)  # blue right half
        frame[: 8 + 2 * k, :8] = 255  # a white bar growing with the frame index
        frames.append(frame)
    return frames


@pytest.mark.parametrize("codec", ["h264", "mp4v"])
def test_round_trip(tmp_path: Path, codec) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 25.0, (64, 48), codec=codec) as writer:
        for frame in _frames(12):
            writer.write(frame)
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    video = VideoReader(path)
    assert (video.width, video.height, video.fps, video.declared_frames) == (64, 48, 25.0, 12)
    frames = list(video)
    assert [f.index for f in frames] == list(range(12)) and video.failed == []
    assert frames[5].time == pytest.approx(5 / 25)
    image = frames[5].image
    assert image[24, 16, 0] > 150 and image[24, 16, 2] < 90  # RGB order survives
    assert image[24, 48, 2] > 150 and image[24, 48, 0] < 90
    assert image[17, 4].min() > 200 and image[30, 4].max() < 220  # bar height 18 on frame 5


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with pytest.raises(ValueError, match="frame"), VideoWriter(path, 25.0, (64, 48)) as writer:
        writer.write(_frames(1)[0])
        writer.write(np.zeros((10, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no video"):
        VideoReader(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError):
        VideoReader(junk)
    with pytest.raises(VideoError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 25.0, (63, 48), codec="h264")
    assert is_video("a/b.MP4") and not is_video("a/b.png")


def test_undecodable_frames_are_reported(shared_data: Path) -> None:
    # obama.mp4 declares 158 frames; only the first 55 decode (../shared/README.md)
    video = VideoReader(shared_data / "videos" / "obama.mp4")
    decoded = sum(1 for _ in video)
    assert decoded == 55 and video.failed == list(range(55, 158))
    assert "103 of 158 frames" in video.failure_report()
