"""Effects on every frame of a video: decode, track, render, composite, encode, timed.

By default the work is spread over two threads: one decodes and tracks frame t + 1 while the
other renders, composites and hands frame t to the encoder (ONNX Runtime, OpenCV and OpenGL
release the interpreter while they work, so on two cores the stages overlap). The output is
the same frame for frame as one thread doing everything in turn (``overlap=False``).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from morph3d.ar.session import AR
from morph3d.ar.timing import StageTimes
from morph3d.io.video import VideoReader, VideoWriter
from morph3d.pipeline.results import TrackedFace
from morph3d.progress import Progress, no_progress

__all__ = ["augment_video"]

#: Tracked frames the decoding thread may run ahead of the rendering one.
AHEAD = 2

_Item = tuple[np.ndarray, list[TrackedFace]] | BaseException | None


def augment_video(
    video: VideoReader,
    output: str | os.PathLike[str],
    ar: AR,
    progress: Progress = no_progress,
    overlap: bool = True,
) -> StageTimes:
    """Decode, track, render, composite and encode every decodable frame of ``video``.

    The output has the input's frame rate and one frame per decoded frame.

    Args:
        video: The input.
        output: The video file to write (it appears only when every frame is written).
        ar: The effect and its tracker.
        progress: tqdm-like wrapper of the decoded frames.
        overlap: Decode and track in a second thread, ahead of rendering and encoding.

    Returns:
        The time spent per stage (decode, track, render, composite, encode) and the wall time;
        with ``overlap`` the stages add up to more than the wall time.
    """
    ar.times = StageTimes()
    total = video.declared_frames or None
    frames: Iterator[Any] = iter(
        progress(video, desc=f"AR {video.path.name}", total=total, unit="frame")
    )
    started = time.perf_counter()

    def decoded() -> Any:
        begun = time.perf_counter()
        frame = next(frames, None)
        ar.times.add("decode", time.perf_counter() - begun)
        return frame

    with VideoWriter(output, video.fps, (video.width, video.height)) as writer:

        def emit(image: np.ndarray, faces: list[TrackedFace]) -> None:
            out = ar.render(image, faces)
            begun = time.perf_counter()
            writer.write(out)
            ar.times.add("encode", time.perf_counter() - begun)
            ar.times.frames += 1
            if ar.times.frames == 1:
                ar.times.first_frame = time.perf_counter() - started

        if overlap:
            _overlapped(decoded, ar, emit)
        else:
            while (frame := decoded()) is not None:
                emit(frame.image, ar.track(frame.image, frame.time))
    ar.times.wall = time.perf_counter() - started
    return ar.times


def _overlapped(decoded: Any, ar: AR, emit: Any) -> None:
    """Decode and track in a worker thread, render and encode here; errors of either side
    stop both and are raised here."""
    tracked: queue.Queue[_Item] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def hand_over(item: _Item) -> bool:
        while not stop.is_set():
            try:
                tracked.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            while (frame := decoded()) is not None:
                if not hand_over((frame.image, ar.track(frame.image, frame.time))):
                    return
            hand_over(None)
        except BaseException as error:  # raised again in the rendering thread
            hand_over(error)

    worker = threading.Thread(target=produce, name="morph3d-track", daemon=True)
    worker.start()
    try:
        while (item := tracked.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            emit(*item)
    finally:
        stop.set()
        worker.join()
