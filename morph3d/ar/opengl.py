"""OpenGL set-up for pyrender, done once, when the first renderer is made (never at import).

* Headless rendering through EGL: ``PYOPENGL_PLATFORM=egl`` unless the caller set a platform.
* Triton's compiler library (shipped with torch's CUDA wheels) is loaded before Mesa's: Mesa's
  software rasteriser links its own LLVM, and Triton's loaded after it crashed the process (a
  segmentation fault in ``import torchvision`` after a render, seen with Mesa 22.3 llvmpipe).
  Loaded in this order both work.
* pyrender calls ``glBlendFunc(SRC_ALPHA, ONE_MINUS_SRC_ALPHA)`` for transparent materials, which
  squares alpha over a clear background; its calls are routed through ``glBlendFuncSeparate``
  with alpha accumulated as ``one, one-minus-source-alpha``, so the output stays premultiplied
  (anti-aliased edges and tinted glass composite with ``frame * (1 - alpha) + colour``).
* pyrender draws into a 4x multisampled framebuffer; its multisampled storage is routed through
  :func:`multisampling`, so that a renderer can ask for single-sample buffers instead (on Mesa's
  software rasteriser the four samples cost most of a large window's time:
  :mod:`morph3d.ar.renderer`).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Any

from morph3d.errors import naming_extras

__all__ = ["load_pyrender", "multisampling"]

_PYRENDER: Any = None

#: Samples of the framebuffers pyrender makes now (pyrender asks for 4).
_SAMPLES: contextvars.ContextVar[int] = contextvars.ContextVar("morph3d_samples", default=4)


@contextlib.contextmanager
def multisampling(samples: int) -> Iterator[None]:
    """A context in which the framebuffers pyrender makes have ``samples`` samples a pixel
    (0: single-sample). pyrender makes them on a render whose viewport size differs from the
    last one's, so a renderer keeps the count it was first drawn with until its size changes."""
    if samples < 0:
        raise ValueError(f"samples must be 0 or more, got {samples}")
    token = _SAMPLES.set(int(samples))
    try:
        yield
    finally:
        _SAMPLES.reset(token)


def _load_triton_first() -> None:
    if importlib.util.find_spec("triton") is None:
        return
    try:
        importlib.import_module("triton._C.libtriton")
    except Exception:  # a broken Triton only matters to torch, not to rendering
        pass


def load_pyrender() -> Any:
    """The ``pyrender`` module, with the process-wide OpenGL set-up above done on first call.

    Raises:
        MissingExtraError: pyrender or PyOpenGL is not installed (the ``ar`` extra).
    """
    global _PYRENDER
    if _PYRENDER is None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        _load_triton_first()
        with naming_extras():
            import pyrender
            import pyrender.renderer
            from OpenGL import GL

        def premultiplied_blend(source: int, destination: int) -> None:
            alpha_destination = (
                GL.GL_ZERO if destination == GL.GL_ZERO else GL.GL_ONE_MINUS_SRC_ALPHA
            )
            GL.glBlendFuncSeparate(source, destination, GL.GL_ONE, alpha_destination)

        def multisample_storage(
            target: int, samples: int, internal_format: int, width: int, height: int
        ) -> None:
            GL.glRenderbufferStorageMultisample(
                target, _SAMPLES.get(), internal_format, width, height
            )

        pyrender.renderer.glBlendFunc = premultiplied_blend
        pyrender.renderer.glRenderbufferStorageMultisample = multisample_storage
        _PYRENDER = pyrender
    return _PYRENDER
