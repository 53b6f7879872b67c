"""A SIGTERM ends a command as Ctrl-C does: through its ``finally`` and ``with`` blocks, so
nothing is left half-written.

The handler raises ``SystemExit(128 + signal)``. Python runs it in the main thread at whatever
that thread is doing, and when that is a callback from C, the exception is printed and dropped
and the command carries on to its end: numba caching a compiled kernel calls back through
llvmlite, and one SIGTERM in 21 landed there (``morph3d track``, session 24). So the handler
also records the signal, the progress bars of the long loops (:func:`progress`) raise it again
at their next item, and :func:`stop_if_terminated` does at the command's end, or when another
exception ends it: numba turns the exit raised inside its callback into a ``SystemError``
(1 SIGTERM in 12 during ``morph3d track``'s first frames, session 25). Inside
:func:`deferred` the handler only records the signal, raised when the block ends: the tracking
commands load the tracker's numba kernels there before their first frame, where a SIGTERM
inside llvmlite's callback once crashed the process (1 in 22, session 25).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["deferred", "handle_sigterm", "progress", "stop_if_terminated"]

T = TypeVar("T")

_RECEIVED: list[int] = []  # the signals handled, in order
_DEFERRING: list[bool] = []  # one entry a deferred() block open


def _terminate(signum: int, frame: FrameType | None) -> None:
    _RECEIVED.append(signum)
    if not _DEFERRING:
        raise SystemExit(128 + signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block in which a SIGTERM is only recorded; it ends the command when the block ends."""
    _DEFERRING.append(True)
    try:
        yield
    finally:
        _DEFERRING.pop()
        if not _DEFERRING:
            stop_if_terminated()


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
