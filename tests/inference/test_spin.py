"""The spinning wait and concurrently() inside spinning_workers()."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("numba")

from morph3d.inference import session
from morph3d.inference.session import concurrently, spinning_workers
from morph3d.inference.spin import spin_until_changed


def test_the_wait_ends_when_the_counter_moves() -> None:
    counters = np.zeros(2, np.int64)
    switch = np.ones(1, np.int64)

    def advance() -> None:
        time.sleep(0.02)
        counters[1] = 5

    thread = threading.Thread(target=advance)
    thread.start()
    assert spin_until_changed(counters, 1, 0, switch, 10**9)  # far more polls than needed
    thread.join()
    assert counters[1] == 5
    assert not spin_until_changed(counters, 0, 0, switch, 100)  # nothing moved: gives up
    switch[0] = 0
    assert not spin_until_changed(counters, 0, 0, switch, 10**9)  # switched off: at once
    assert spin_until_changed(counters, 1, 0, switch, 10**9)  # already moved


def test_concurrently_inside_spinning_workers() -> None:
    def slow(k: int) -> int:
        time.sleep(0.005 * k)
        return k * k

    with spinning_workers():
        assert session._POOL.spinning[0] >= 1
        with spinning_workers():  # blocks nest
            assert concurrently([lambda k=k: slow(k) for k in range(4)]) == [0, 1, 4, 9]
        for _ in range(50):  # many short hand-overs in a row
            assert concurrently([lambda: 1, lambda: 2]) == [1, 2]

        def fail() -> int:
            raise KeyError("lost")

        with pytest.raises(KeyError, match="lost"):
            concurrently([lambda: 1, fail])
        assert concurrently([lambda: 3, lambda: 4]) == [3, 4]  # the worker was given back
    assert session._POOL.spinning[0] == 0
    with pytest.raises(ValueError), spinning_workers():
        raise ValueError  # the block closes on an exception too
    assert session._POOL.spinning[0] == 0
    assert concurrently([lambda: 5, lambda: 6]) == [5, 6]  # sleeping hand-overs again


def test_without_numba_the_block_changes_nothing(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "morph3d.inference.spin", None)  # import fails
    spinning = session._POOL.spinning
    before = None if spinning is None else int(spinning[0])
    with spinning_workers():
        after = session._POOL.spinning
        assert (None if after is None else int(after[0])) == before
        assert concurrently([lambda: 1, lambda: 2]) == [1, 2]
