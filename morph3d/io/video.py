"""Reading and writing videos, frame by frame, in RGB.

:class:`VideoReader` yields the frames that decode, with their index and timestamp (index / fps),
and records the ones that do not (a truncated or damaged file) so that callers can report them.
:class:`VideoWriter` writes H.264 through the ffmpeg that ``imageio-ffmpeg`` bundles when it is
installed, else MPEG-4 Part 2 (``mp4v``) through OpenCV; the file appears only when writing
succeeded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import cv2
import numpy as np

from morph3d.errors import VideoError

__all__ = ["Frame", "VideoReader", "VideoWriter", "is_video"]

Codec = Literal["auto", "h264", "mp4v"]

#: File suffixes treated as videos by the command line.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")

#: Consecutive failed reads after which the rest of a file counts as undecodable.
MAX_CONSECUTIVE_FAILURES = 25


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether a path names a video by its suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` in the file, ``time`` in seconds, ``image`` RGB uint8."""

    index: int
    time: float
    image: np.ndarray


class VideoReader:
    """The frames of a video file, in order.

    Args:
        path: The video.

    Attributes:
        fps: Frames per second (30 when the file does not say).
        width, height: Frame size in pixels.
        declared_frames: Frame count the container declares (0 when unknown).
        failed: Indices of frames that could not be decoded, filled while iterating.

    Raises:
        VideoError: the file is missing or cannot be opened as a video.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"no video at {self.path}")
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                raise VideoError(f"cannot open {self.path} as a video")
            fps = float(capture.get(cv2.CAP_PROP_FPS))
            self.fps = fps if np.isfinite(fps) and fps > 0 else 30.0
            self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.declared_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        finally:
            capture.release()
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"{self.path} has no video stream")
        self.failed: list[int] = []

    def __iter__(self) -> Iterator[Frame]:
        self.failed = []
        capture = cv2.VideoCapture(str(self.path))
        index = failures = 0
        try:
            while True:
                ok, bgr = capture.read()
                if ok and bgr is not None:
                    failures = 0
                    yield Frame(index, index / self.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                elif index < self.declared_frames and failures < MAX_CONSECUTIVE_FAILURES:
                    failures += 1
                    self.failed.append(index)
                else:
                    break
                index += 1
        finally:
            capture.release()
        self.failed = [k for k in self.failed if k < index - failures] + list(
            range(index - failures, max(self.declared_frames, index - failures))
        )

    def failure_report(self) -> str:
        """A line saying which frames did not decode (empty when all did)."""
        if not self.failed:
            return ""
        first, last = self.failed[0], self.failed[-1]
        span = f"{first}" if first == last else f"{first}..{last}"
        return (
            f"{len(self.failed)} of {max(self.declared_frames, 1)} frames of {self.path.name} "
            f"could not be decoded and were skipped (indices {span})"
        )


def _h264_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


class VideoWriter:
    """Write RGB frames to a video file; the file appears when :meth:`close` succeeds.

    Args:
        path: Output file (``.mp4`` recommended).
        fps: Frames per second.
        size: ``(width, height)`` of every frame.
        codec: ``"auto"`` (H.264 when ``imageio-ffmpeg`` is installed and the size is even,
            else ``mp4v``), ``"h264"`` or ``"mp4v"``.

    Use as a context manager; on an exception the partial file is removed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        codec: Codec = "auto",
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        if self.fps <= 0 or min(self.size) <= 0:
            raise ValueError(f"bad fps {fps} or size {size}")
        even = self.size[0] % 2 == 0 and self.size[1] % 2 == 0
        if codec == "auto":
            codec = "h264" if _h264_available() and even else "mp4v"
        if codec == "h264" and not (_h264_available() and even):
            raise VideoError("H.264 needs imageio-ffmpeg and an even frame size")
        self.codec: Codec = codec
        self.frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._directory = Path(tempfile.mkdtemp(prefix=f".{self.path.stem}.", dir=self.path.parent))
        self._temporary = self._directory / f"video{self.path.suffix or '.mp4'}"
        self._writer: Any = None
        try:
            self._open(codec)
        except BaseException:  # an error or a signal while starting: leave no folder behind
            self._discard()
            raise

    def _open(self, codec: Codec) -> None:
        if codec == "h264":
            import imageio_ffmpeg

            self._writer = imageio_ffmpeg.write_frames(
                str(self._temporary),
                self.size,
                fps=self.fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                quality=7,
                macro_block_size=1,
                ffmpeg_log_level="error",
            )
            self._writer.send(None)
        else:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._temporary), fourcc, self.fps, self.size)
            if not self._writer.isOpened():
                raise VideoError(f"OpenCV cannot write {self.path}")

    def write(self, image: np.ndarray) -> None:
        """Append one ``(height, width, 3)`` uint8 RGB frame."""
        image = np.asarray(image)
        expected = (self.size[1], self.size[0], 3)
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(f"expected a {expected} uint8 frame, got {image.shape} {image.dtype}")
        if self.codec == "h264":
            self._writer.send(np.ascontiguousarray(image))
        else:
            self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._writer is None:
            return self.path
        try:
            if self.codec == "h264":
                self._writer.close()
            else:
                self._writer.release()
            self._writer = None
            if not self._temporary.is_file() or self._temporary.stat().st_size == 0:
                raise VideoError(f"writing {self.path} produced no file")
            os.replace(self._temporary, self.path)
        finally:
            self._discard()
        return self.path

    def _discard(self) -> None:
        self._writer = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
            return
        writer = self._writer
        self._writer = None
        try:
            if writer is not None and self.codec == "h264":
                writer.close()
            elif writer is not None:
                writer.release()
        except Exception:  # the original error matters more
            pass
        finally:
            self._discard()
