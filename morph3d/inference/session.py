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
import importlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from morph3d.errors import ModelFormatError
from morph3d.inference.litert import LITERT_SUFFIX, LiteRTSession
from morph3d.paths import require_file

__all__ = [
    "concurrently",
    "create_session",
    "physical_cores",
    "single_blas_thread",
    "spinning_workers",
]

_BLAS: Any = None  # threadpoolctl's controller of the loaded BLAS libraries, made on first use
_BLAS_LOCK = threading.Lock()
_POOL_PREFIX = "morph3d-run"


class _Worker:
    """One worker thread of :func:`concurrently`: one call at a time, handed over through two
    counters (calls given, calls done) that both sides either sleep on or, inside
    :func:`spinning_workers`, poll (:mod:`morph3d.inference.spin`)."""

    def __init__(self, index: int) -> None:
        import numpy as np

        self.counters = np.zeros(2, np.int64)  # calls given, calls done
        self.call: Callable[[], Any] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.given = threading.Condition()  # the worker sleeps on it for a call
        self.done = threading.Condition()  # the caller sleeps on it for the result
        thread = threading.Thread(target=self._serve, name=f"{_POOL_PREFIX}-{index}", daemon=True)
        thread.start()

    def _serve(self) -> None:
        served = 0
        while True:
            if not _spin(self.counters, 0, served):
                with self.given:
                    while self.counters[0] == served:
                        self.given.wait()
            served = int(self.counters[0])
            call, self.call = self.call, None
            self.result, self.error = None, None
            try:
                if call is not None:
                    self.result = call()
            except BaseException as error:  # handed to the caller
                self.error = error
            with self.done:
                self.counters[1] = served
                self.done.notify()

    def start(self, call: Callable[[], Any]) -> int:
        """Hand over ``call``; returns its number for :meth:`finish`."""
        self.call = call
        with self.given:
            self.counters[0] += 1
            self.given.notify()
        return int(self.counters[0])

    def finish(self, number: int) -> tuple[Any, BaseException | None]:
        """Wait for call ``number``: its result and its exception (or None)."""
        if self.counters[1] != number:
            _spin(self.counters, 1, number - 1)
        if self.counters[1] != number:
            with self.done:
                while self.counters[1] != number:
                    self.done.wait()
        return self.result, self.error


class _Pool:
    """The worker threads of :func:`concurrently` (one fewer than the physical cores, at least
    one), made on first use, and which of them are free."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []
        self.free: list[_Worker] = []
        self.spinning: Any = None  # (1,) int64: the open spinning_workers blocks

    def take(self, count: int) -> list[_Worker]:
        """Up to ``count`` free workers, now busy."""
        with self.lock:
            if not self.workers:
                self.workers = [_Worker(k) for k in range(max(1, physical_cores() - 1))]
                self.free = list(self.workers)
            taken, self.free = self.free[:count], self.free[count:]
        return taken

    def give_back(self, workers: list[_Worker]) -> None:
        with self.lock:
            self.free.extend(workers)


_POOL = _Pool()


def _forget_pool() -> None:
    """In a forked child the pool's threads are gone: make a new pool there on first use."""
    global _POOL
    _POOL = _Pool()


os.register_at_fork(after_in_child=_forget_pool)


def _spin(counters: Any, index: int, value: int) -> bool:
    """Poll ``counters[index]`` until it leaves ``value`` (True) while a
    :func:`spinning_workers` block is open; False at once outside one."""
    switch = _POOL.spinning
    if switch is None or switch[0] <= 0:
        return False
    from morph3d.inference.spin import SPIN_POLLS, spin_until_changed

    return bool(spin_until_changed(counters, index, value, switch, SPIN_POLLS))


@contextlib.contextmanager
def spinning_workers() -> Iterator[None]:
    """A block in which :func:`concurrently`'s workers and its caller wait for each other by
    spinning (polling without the interpreter lock, at most about 2 ms a wait) instead of
    sleeping on a condition.

    A worker spins once it has served its first call of the block. For a burst of short runs
    at once, such as the networks of one photo: on this 2-core virtual machine a sleeping
    thread took 35-180 us to wake (README, *Spinning hand-overs*). Outside such blocks
    nothing spins, so the cores are free between frames (rendering, video decoding). Needs
    numba; without it the block changes nothing. Blocks may nest and may be open in several
    threads at once.
    """
    try:
        import numpy as np

        importlib.import_module("morph3d.inference.spin")  # numba is there, its kernel loads
    except ImportError:
        yield
        return
    with _POOL.lock:
        if _POOL.spinning is None:
            _POOL.spinning = np.zeros(1, np.int64)
        switch = _POOL.spinning
        switch[0] += 1
    try:
        yield
    finally:
        with _POOL.lock:
            switch[0] -= 1


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
    interpreter lock for most of their time, as ONNX Runtime sessions do while they run. Calls
    that find no free worker (the pool busy with other work, e.g. another thread's
    ``concurrently``) run on the calling thread after the first. Inside
    :func:`spinning_workers` the hand-overs spin rather than sleep. An exception in any call is
    raised here once the calls that started have ended (after a failure the calls not yet
    started are dropped). Called from one of the pool's own threads (a call that itself runs
    calls at once), it runs them one after the other: waiting there for the pool could wait
    forever.
    """
    if len(calls) <= 1 or threading.current_thread().name.startswith(_POOL_PREFIX):
        return [call() for call in calls]
    workers = _POOL.take(len(calls) - 1)
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    try:
        numbers = [worker.start(call) for worker, call in zip(workers, calls[1:], strict=False)]
        for index in [0, *range(len(workers) + 1, len(calls))]:  # here: the first, and the
            if errors and index:  # calls no free worker took; none of those after a failure
                break
            try:
                results[index] = calls[index]()
            except BaseException as error:  # raised below, after the calls started have ended
                errors.append(error)
        for index, (worker, number) in enumerate(zip(workers, numbers, strict=True), 1):
            results[index], failure = worker.finish(number)
            if failure is not None:
                errors.append(failure)
    finally:
        _POOL.give_back(workers)
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
    """An ``onnxruntime.InferenceSession`` on the CPU for a model file, or for a ``.tflite``
    file a :class:`~morph3d.inference.litert.LiteRTSession` (LiteRT's XNNPACK kernels, run
    through the same ``run(None, {name: batch})``; ``spin`` and ``spin_in_run`` do not apply).

    Args:
        path: The ``.onnx`` (or ``.tflite``) file.
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
    if Path(path).suffix == LITERT_SUFFIX:
        return LiteRTSession(path, create_command, threads)
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
