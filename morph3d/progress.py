"""Progress reporting hooks for long work.

Library functions that loop for long take a ``progress`` callable that wraps an iterable, such
as ``tqdm`` (called with ``desc``, ``total`` and ``unit`` keywords); the default shows nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["Progress", "no_progress"]

T = TypeVar("T")

#: Wraps an iterable to show progress, e.g. ``functools.partial(tqdm, leave=False)``.
Progress = Callable[..., Iterable[Any]]


def no_progress(iterable: Iterable[T], **_: Any) -> Iterable[T]:
    """Show nothing: return ``iterable`` as it is."""
    return iterable
