"""Effects on every frame of a video: decode, track, render, composite, encode, timed."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from morph3d.ar.session import AR
from morph3d.io.video import VideoReader, VideoWriter
from morph3d.progress import Progress, no_progress
from morph3d.timing import StageTimes

__all__ = ["augment_video"]


def augment_video(
    video: VideoReader,
    output: str | os.PathLike[str],
    ar: AR,
    progress: Progress = no_progress,
) -> StageTimes:
    """Decode, track, render, composite and encode every decodable frame of ``video``.

    The output has the input's frame rate and one frame per decoded frame.

    Returns:
        The time spent per stage (decode, track, render, composite, encode).
    """
    ar.times = StageTimes()
    total = video.declared_frames or None
    frames: Iterator[Any] = iter(
        progress(video, desc=f"AR {video.path.name}", total=total, unit="frame")
    )
    with VideoWriter(output, video.fps, (video.width, video.height)) as writer:
        while True:
            first = started = time.perf_counter()
            frame = next(frames, None)
            ar.times.add("decode", time.perf_counter() - started)
            if frame is None:
                break
            out = ar(frame.image, frame.time)
            started = time.perf_counter()
            writer.write(out)
            ar.times.add("encode", time.perf_counter() - started)
            if ar.times.frames == 1:
                ar.times.first_frame = time.perf_counter() - first
    return ar.times
