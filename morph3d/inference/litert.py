"""Running a ``.tflite`` network on LiteRT (TensorFlow Lite) with its XNNPACK kernels, behind
the part of ONNX Runtime's session interface that the predictors use.

The shipped int8 regressors also come as LiteRT files (``scripts/export_litert.py``,
:mod:`morph3d.inference.litert_export`): XNNPACK's int8 kernels ran one crop in 0.64-0.67 ms
where ONNX Runtime's took 0.81 (2-core AMD EPYC with AVX-512 VNNI, one thread each, session
25), with landmarks 0.26 px from the float network's against ONNX Runtime's int8 copy's 0.32.
:func:`network_file` picks the LiteRT file of a shipped network where ``ai-edge-litert`` is
installed (it has no Windows wheels; ONNX Runtime serves there).

A LiteRT interpreter runs one call at a time and has a fixed batch size, so
:class:`LiteRTSession` keeps interpreters per batch size and lends each to one call: two
threads running the session at once (a crop and its mirror, a core each) run two interpreters.
The interpreter lets go of Python's lock while it computes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.errors import ModelFormatError
from morph3d.paths import require_file

__all__ = ["LITERT_SUFFIX", "LiteRTSession", "TensorInfo", "litert_available", "network_file"]

#: The file suffix of LiteRT networks.
LITERT_SUFFIX = ".tflite"


def litert_available() -> bool:
    """Whether the LiteRT runtime (the ``ai-edge-litert`` package) is installed."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def network_file(onnx_name: str, places: list[Path]) -> str:
    """The name to look up for a shipped network: its LiteRT copy (``.onnx`` -> ``.tflite``)
    where LiteRT is installed and one of ``places`` (folders) holds it, else ``onnx_name``."""
    name = str(Path(onnx_name).with_suffix(LITERT_SUFFIX))
    if litert_available() and any((place / name).is_file() for place in places):
        return name
    return onnx_name


_FIRST = threading.Lock()
_first_done = False


@contextlib.contextmanager
def _first_quietly() -> Iterator[None]:
    """Around the making of the process's first interpreter: C-level stderr to /dev/null,
    where LiteRT writes, once a process, ``INFO: Created TensorFlow Lite XNNPACK delegate for
    CPU.`` (nothing else: a load error comes back as an exception)."""
    global _first_done
    with _FIRST:
        if _first_done:
            yield
            return
        _first_done = True
        if sys.stderr is not None:  # None where the process has no standard error
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no standard error to silence
            yield
            return
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@dataclass(frozen=True)
class TensorInfo:
    """A network input or output as ONNX Runtime describes it: name and shape (the batch
    dimension named ``"batch"``)."""

    name: str
    shape: list[Any]


class LiteRTSession:
    """A ``.tflite`` network with one input and one output, run like an ONNX Runtime session
    (``run(None, {name: batch})``) for any batch size.

    Args:
        path: The ``.tflite`` file.
        create_command: The command that creates the file, named in the error when it is
            missing.
        threads: Threads of each interpreter (default 1: a run a core).

    Raises:
        ModelNotFoundError: the file is missing.
        ModelFormatError: LiteRT cannot load it, or it has not one input and one output.
    """

    def __init__(
        self, path: str | os.PathLike[str], create_command: str, threads: int | None = None
    ) -> None:
        self.path = require_file(path, create_command)
        self.threads = threads or 1
        self._lock = threading.Lock()
        self._free: dict[int, list[Any]] = {}
        first = self._interpreter(None)
        inputs, outputs = first.get_input_details(), first.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFormatError(self.path, "a LiteRT network needs one input and one output")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self._batch = int(inputs[0]["shape"][0])
        self._inputs = [TensorInfo(inputs[0]["name"], ["batch", *map(int, inputs[0]["shape"][1:])])]
        self._outputs = [
            TensorInfo(outputs[0]["name"], ["batch", *map(int, outputs[0]["shape"][1:])])
        ]
        self._free[self._batch] = [first]

    def get_inputs(self) -> list[TensorInfo]:
        """The network's input (ONNX Runtime's interface)."""
        return list(self._inputs)

    def get_outputs(self) -> list[TensorInfo]:
        """The network's output (ONNX Runtime's interface)."""
        return list(self._outputs)

    def _interpreter(self, batch: int | None) -> Any:
        """A new interpreter, resized to ``batch`` (None: the file's own batch size)."""
        from ai_edge_litert.interpreter import Interpreter

        try:
            with _first_quietly():
                interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
                if batch is not None and batch != self._batch:
                    shape = [batch, *self._inputs[0].shape[1:]]
                    interpreter.resize_tensor_input(self._input, shape, strict=False)
                interpreter.allocate_tensors()  # where XNNPACK's delegate is made
        except (ValueError, RuntimeError) as error:
            lines = str(error).strip().splitlines()
            reason = lines[0] if lines else type(error).__name__
            raise ModelFormatError(self.path, f"LiteRT cannot load it ({reason})") from error
        return interpreter

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``[output]`` of the network on the one array in ``feed`` (ONNX Runtime's interface;
        ``output_names`` is ignored: there is one output)."""
        (batch,) = feed.values()
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        size = len(batch)
        if not size:
            return [np.zeros((0, *self._outputs[0].shape[1:]), np.float32)]
        with self._lock:
            idle = self._free.get(size)
            interpreter = idle.pop() if idle else None
        if interpreter is None:
            interpreter = self._interpreter(size)
        try:
            interpreter.set_tensor(self._input, batch)
            interpreter.invoke()
            output = np.array(interpreter.get_tensor(self._output))
        finally:
            with self._lock:
                self._free.setdefault(size, []).append(interpreter)
        return [output]
