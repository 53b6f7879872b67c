"""A SIGTERM whose exception is dropped (raised inside a callback from C) still ends the
command: at the next item of a progress bar, or when the command returns."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import SimpleNamespace

import pytest

from morph3d.cli import termination


@pytest.fixture
def handled(monkeypatch):
    monkeypatch.setattr(termination, "_RECEIVED", [])
    previous = signal.signal(signal.SIGTERM, termination._terminate)
    yield
    signal.signal(signal.SIGTERM, previous)


def _signal_inside_a_c_callback() -> None:
    """Deliver SIGTERM while a ctypes callback runs: Python prints its exception and drops it,
    as it did inside llvmlite's callback while numba cached a kernel."""

    @ctypes.CFUNCTYPE(None)
    def callback() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs at the next bytecodes, still in the callback
            pass

    callback()


def test_a_dropped_sigterm_ends_the_loop_at_its_next_item(handled, monkeypatch) -> None:
    dropped: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: dropped.append(report.exc_type))
    seen = []
    with pytest.raises(SystemExit) as stop:
        for item in termination.progress(range(5), disable=True):
            seen.append(item)
            if item == 1:
                _signal_inside_a_c_callback()  # carries on: the exception was dropped
    assert stop.value.code == 128 + signal.SIGTERM
    assert seen == [0, 1]
    assert dropped == [SystemExit]  # the handler's first raise went nowhere


def test_stop_if_terminated(handled, monkeypatch) -> None:
    monkeypatch.setattr(sys, "unraisablehook", lambda report: None)
    termination.stop_if_terminated()  # nothing received: nothing happens
    _signal_inside_a_c_callback()
    with pytest.raises(SystemExit, match=str(128 + signal.SIGTERM)):
        termination.stop_if_terminated()


def test_an_ignored_sigterm_stays_ignored(monkeypatch) -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        termination.handle_sigterm()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        termination.handle_sigterm()
        assert signal.getsignal(signal.SIGTERM) is termination._terminate
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_deferred_sigterm_ends_the_command_when_the_block_ends(handled) -> None:
    done = []
    with pytest.raises(SystemExit) as stop, termination.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler has run by now, and only recorded it
            pass
        done.append("the block's work")
    assert stop.value.code == 128 + signal.SIGTERM and done == ["the block's work"]


def test_a_sigterm_turned_into_another_exception_still_exits_as_a_sigterm(
    handled, monkeypatch
) -> None:
    from morph3d import cli

    signals = [signal.SIGTERM]

    def run(args: object) -> int:
        termination._RECEIVED.extend(signals)  # as if the handler had run...
        raise SystemError("returned a result with an exception set")  # ...inside numba

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: SimpleNamespace(run=run))
    with pytest.raises(SystemExit) as stop:
        cli.main(["info"])
    assert stop.value.code == 128 + signal.SIGTERM
    # without a SIGTERM the exception is the command's own
    monkeypatch.setattr(termination, "_RECEIVED", [])
    signals.clear()
    with pytest.raises(SystemError):
        cli.main(["info"])
