"""ONNX Runtime sessions: the one place that configures them.

The regressor, the eyelid refiner and the Ultra-Light face detector all run through
:func:`create_session`. ``onnxruntime`` is imported when a session is made, not at import.

:func:`single_blas_thread` keeps numpy's BLAS on one thread around a frame's numpy work: its
matrices are small (the mesh decode is 12,492 x 50), and OpenBLAS's worker threads fighting ONNX
Runtime's for the two cores here nearly doubled a photo's time (21.6 against 12.7 ms median over 7
photos, ``scripts/bench_reconstruct.py``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from morph3d.errors import ModelFormatError
from morph3d.paths import require_file

__all__ = ["concurrently", "create_session", "physical_cores", "single_blas_thread"]

_BLAS: Any = None  # threadpoolctl's controller of the loaded BLAS libraries, made on first use
_BLAS_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None  # the worker threads of concurrently(), made on first use
_POOL_LOCK = threading.Lock()
_POOL_PREFIX = "morph3d-run"


def _forget_pool() -> None:
    """In a forked child the pool's threads are gone: make a new pool there on first use."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)

T = TypeVar("T")


def single_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """A context in which numpy's BLAS runs on one thread (threadpoolctl; 14 us a use).

    The previous thread count comes back on exit. Without threadpoolctl it does nothing.
    """
    global _BLAS
    with _BLAS_LOCK:
        if _BLAS is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # pragma: no cover - a base dependency
                return contextlib.nullcontext()
            _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def concurrently(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` at once and return their results in order.

    The first runs on the calling thread, the others on a shared pool of worker threads (one
    fewer than the physical cores, at least one). Worth it for calls that let go of the
    interpreter lock for most of their time, as ONNX Runtime sessions do while they run. A
    call still queued when the first is done (the pool busy with other work, e.g. another
    network of the same ``concurrently``) runs on the calling thread instead of being waited
    for. An exception in any call is raised here once the calls that started have ended
    (after a failure the calls still queued are dropped). Called from one
    of the pool's own threads (a call that itself runs calls at once), it runs them one after
    the other: waiting there for the pool could wait forever.
    """
    if len(calls) <= 1 or threading.current_thread().name.startswith(_POOL_PREFIX):
        return [call() for call in calls]
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max(1, physical_cores() - 1), thread_name_prefix=_POOL_PREFIX
            )
    futures = [_POOL.submit(call) for call in calls[1:]]
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    try:
        results[0] = calls[0]()
    except BaseException as error:  # raised below, after the calls already running have ended
        errors.append(error)
    for index, future in enumerate(futures, 1):
        if future.cancel():  # still queued behind other work: run it here, not wait for it
            if errors:
                continue
            try:
                results[index] = calls[index]()
            except BaseException as error:
                errors.append(error)
        elif (failure := future.exception()) is not None:  # waits for the call
            errors.append(failure)
        else:
            results[index] = future.result()
    if errors:
        raise errors[0]
    return results


def physical_cores() -> int:
    """Number of physical CPU cores (logical cores when that cannot be told)."""
    try:
        with open("/proc/cpuinfo") as stream:
            pairs = set()
            physical = core = None
            for line in stream:
                if line.startswith("physical id"):
                    physical = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                    pairs.add((physical, core))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


def create_session(
    path: str | os.PathLike[str],
    create_command: str,
    threads: int | None = None,
    spin: bool = False,
    spin_in_run: bool = False,
) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU for a model file.

    Args:
        path: The ``.onnx`` file.
        create_command: The command that creates the file, named in the error when it is
            missing.
        threads: Intra-op threads (default: the physical cores).
        spin: Let idle worker threads spin for the next run: lower latency for back-to-back
            runs, but busy cores that starve other work between runs (rendering, numpy).
        spin_in_run: Let the worker threads spin between the parallel parts of one run only,
            and stop when it ends (ONNX Runtime's ``session.force_spinning_stop``): a run on
            several threads without their waking up for each part, and with the cores free
            after it. The Ultra-Light detector at 256x192 took 0.99-1.02 ms on two threads so,
            against 1.50-1.68 on one and 1.54-1.64 on two that sleep between parts (2-core AMD
            EPYC, session 23).

    Raises:
        ModelNotFoundError: the file is missing.
        ModelFormatError: the file is not a model ONNX Runtime can load.
    """
    import onnxruntime

    resolved = require_file(path, create_command)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if spin or spin_in_run else "0"
    )
    if spin_in_run and not spin:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(
            str(resolved), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise ModelFormatError(resolved, f"ONNX Runtime cannot load it ({reason})") from error
