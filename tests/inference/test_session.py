"""The ONNX Runtime session factory and bad model files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from morph3d.errors import ModelFormatError, ModelNotFoundError
from morph3d.inference.session import concurrently, create_session, physical_cores
from morph3d.inference.torch_predictor import load_regressor

pytestmark = pytest.mark.unit


def test_missing_and_corrupt_onnx_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="make it"):
        create_session(tmp_path / "missing.onnx", "make it")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model" * 50)
    with pytest.raises(ModelFormatError, match=r"junk\.onnx"):
        create_session(junk, "make it")
    assert physical_cores() >= 1


def test_bad_weight_files_are_model_format_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"random bytes, not a pickle")
    with pytest.raises(ModelFormatError, match=r"junk\.pt"):
        load_regressor(junk)
    wrong = tmp_path / "wrong.pt"
    torch.save({"some": torch.zeros(3)}, wrong)
    with pytest.raises(ModelFormatError, match="not a morph3d regressor"):
        load_regressor(wrong)


def test_single_blas_thread_limits_and_restores() -> None:
    from threadpoolctl import threadpool_info

    from morph3d.inference.session import single_blas_thread

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with single_blas_thread():
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before


def test_concurrently_returns_results_in_order_and_raises_errors() -> None:
    import threading
    import time

    threads: list[str] = []

    def call(k: int) -> int:
        time.sleep(0.01 * (3 - k))  # the first finishes last
        threads.append(threading.current_thread().name)
        return k * k

    assert concurrently([lambda k=k: call(k) for k in range(3)]) == [0, 1, 4]
    assert any(name.startswith("morph3d-run") for name in threads)  # not all on this thread
    assert concurrently([]) == []

    def fail() -> int:
        raise KeyError("lost")

    with pytest.raises(KeyError, match="lost"):
        concurrently([lambda: 1, fail])

    # calls that themselves run calls at once finish (on the pool's threads, one by one)
    def nested(k: int) -> list[int]:
        return concurrently([lambda: k, lambda: k + 1, lambda: k + 2])

    assert concurrently([lambda k=k: nested(k) for k in (0, 10, 20)]) == [
        [0, 1, 2],
        [10, 11, 12],
        [20, 21, 22],
    ]


def test_a_queued_call_runs_on_the_calling_thread_instead_of_waiting() -> None:
    import threading
    import time

    from morph3d.inference.session import physical_cores

    where: dict[str, str] = {}

    def busy() -> str:  # holds every worker of the pool
        time.sleep(0.3)
        return "busy"

    def first() -> list[str]:  # runs two calls at once while the pool is busy
        def mark(name: str) -> str:
            where[name] = threading.current_thread().name
            return name

        return concurrently([lambda: mark("a"), lambda: mark("b")])

    start = time.perf_counter()
    workers = max(1, physical_cores() - 1)
    results = concurrently([first, *[busy] * workers])
    assert results == [["a", "b"], *["busy"] * workers]
    assert where["a"] == where["b"] == threading.current_thread().name  # b did not queue
    assert time.perf_counter() - start < 0.6

    def fail() -> int:
        raise KeyError("first")

    ran: list[int] = []
    with pytest.raises(KeyError, match="first"):  # queued calls after a failure are dropped
        concurrently([fail, *[busy] * workers, lambda: ran.append(1) or 1])
    assert ran == []


def test_a_batch_split_into_concurrent_runs_gives_the_same_parameters() -> None:
    import numpy as np

    from morph3d.inference.onnx_predictor import OnnxPredictor
    from morph3d.paths import DEFAULT_ONNX_WEIGHTS, weights_path

    weights = weights_path(None, DEFAULT_ONNX_WEIGHTS)
    crops = np.random.default_rng(0).integers(0, 256, (5, 120, 120, 3), dtype=np.uint8)
    whole = OnnxPredictor(weights, threads=1).predict(crops)
    for runs in (2, 3, 8):
        split = OnnxPredictor(weights, threads=1, runs=runs).predict(crops)
        assert split.shape == (5, 62)
        np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="runs"):
        OnnxPredictor(weights, runs=0)


def test_concurrently_runs_in_a_forked_child() -> None:
    import os

    assert concurrently([lambda: 1, lambda: 2]) == [1, 2]  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = False
        try:
            ok = concurrently([lambda: 3, lambda: 4]) == [3, 4]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_spinning_options_reach_the_session() -> None:
    from morph3d.paths import ASSETS_MODELS

    path = ASSETS_MODELS / "eyes.onnx"
    for spin, in_run, allowed, stops in [
        (False, False, "0", None),
        (True, False, "1", None),
        (False, True, "1", "1"),  # spins between a run's parts, stops at its end
        (True, True, "1", None),  # spinning between runs too: nothing to stop
    ]:
        options = create_session(path, "", 2, spin, in_run).get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == allowed
        if stops is None:
            with pytest.raises(RuntimeError):
                options.get_session_config_entry("session.force_spinning_stop")
        else:
            assert options.get_session_config_entry("session.force_spinning_stop") == stops
