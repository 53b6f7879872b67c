"""A SIGTERM ends a command as Ctrl-C does: through its ``finally`` and ``with`` blocks, so
nothing is left half-written.

The handler raises ``SystemExit(128 + signal)``. Python runs it in the main thread at whatever
that thread is doing, and when that is a callback from C, the exception is printed and dropped
and the command carries on to its end: numba caching a compiled kernel calls back through
llvmlite, and one SIGTERM in 21 landed there (``morph3d track``, session 24). So the handler
also records the signal, the progress bars of the long loops (:func:`progress`) raise it again
at their next item, and :func:`stop_if_terminated` does at the command's end.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["handle_sigterm", "progress", "stop_if_terminated"]

T = TypeVar("T")

_RECEIVED: list[int] = []  # the signals handled, in order


def _terminate(signum: int, frame: FrameType | None) -> None:
    _RECEIVED.append(signum)
    raise SystemExit(128 + signum)


def handle_sigterm() -> None:
    """End the command on SIGTERM as above; a SIGTERM that the parent process set to be
    ignored stays ignored, as it would for any other program."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


def stop_if_terminated() -> None:
    """Raise the ``SystemExit`` of a SIGTERM received earlier, if any (one whose first raise
    was dropped; after one that was not, the command is already ending)."""
    if _RECEIVED:
        raise SystemExit(128 + _RECEIVED[0])


def progress(iterable: Iterable[T], **options: Any) -> Iterator[T]:
    """A tqdm progress bar over ``iterable`` (``options`` are tqdm's) that checks for a
    SIGTERM (:func:`stop_if_terminated`) at every item."""
    from tqdm import tqdm

    bar = tqdm(iterable, **options)
    try:
        for item in bar:
            stop_if_terminated()
            yield item
    finally:
        bar.close()
