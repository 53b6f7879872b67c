"""Typed errors raised by morph3d.

Every error derives from :class:`Morph3DError`, so callers can catch the whole family at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "AnnotationError",
    "ImageError",
    "MissingExtraError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Morph3DError",
    "NoFaceError",
    "VideoError",
    "naming_extras",
]

#: The optional extra (``pip install 'morph3d[EXTRA]'``) that brings each third-party package
#: the base install lacks; pyproject.toml's ``[project.optional-dependencies]`` lists the same.
EXTRAS = {
    "torch": "train",
    "torchvision": "train",
    "onnx": "train",
    "h5py": "train",
    "scipy": "train",
    "matplotlib": "train",
    "pyrender": "ar",
    "OpenGL": "ar",
}


class Morph3DError(Exception):
    """Base class of every error raised by morph3d."""


class ModelNotFoundError(Morph3DError, FileNotFoundError):
    """A model file (morphable model, network weights) is missing.

    The message names the path that was searched and the command that creates the file.
    """

    def __init__(self, path: str | Path, create_command: str) -> None:
        self.path = Path(path)
        self.create_command = create_command
        super().__init__(f"no model file at {self.path}; create it with: {create_command}")


class ModelFormatError(Morph3DError, ValueError):
    """A model file exists but its content is not what morph3d expects."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"bad model file {self.path}: {reason}")


class AnnotationError(Morph3DError, ValueError):
    """An annotation file (landmarks, .mat, XML) is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"bad annotation file {self.path}: {reason}")


class ImageError(Morph3DError, ValueError):
    """An image is missing, unreadable, empty or of an unsupported type."""


class NoFaceError(Morph3DError, LookupError):
    """The image holds no face that the detector finds."""


class VideoError(Morph3DError, ValueError):
    """A video cannot be opened, decoded or written."""


class MissingExtraError(Morph3DError, ModuleNotFoundError):
    """A feature needs a package of an optional extra that is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module} is not installed; it comes with morph3d's {extra!r} extra: "
            f"pip install 'morph3d[{extra}]'",
            name=module,
        )


@contextmanager
def naming_extras() -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` of a package in :data:`EXTRAS` into a
    :class:`MissingExtraError` that names the extra to install; others pass through."""
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as error:
        module = (error.name or "").split(".")[0]
        if module not in EXTRAS:
            raise
        raise MissingExtraError(module, EXTRAS[module]) from error
