"""A wait that spins instead of sleeping, without the interpreter lock (numba).

:func:`~morph3d.inference.session.concurrently`'s worker threads and its caller hand each other
work and results. On this 2-core virtual machine a worker sleeping on a condition took 36-66 us
to start a call handed to it, and a round trip took 65 us back to back and 103-180 us after the
caller had been busy 0.2-5 ms (``work/s24_wake.py``, session 24): a photo makes several such
hand-overs. Inside :func:`~morph3d.inference.session.spinning_workers` the threads instead
poll a counter here, and offer the core to the kernel between polls (``sched_yield``), so that a
poller gives way to a thread with work on the same core.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

__all__ = ["SPIN_POLLS", "spin_until_changed"]

#: Polls before a spinning wait gives up and sleeps: about 2 ms at the 0.5 us a poll measured
#: here (a spinning thread is never left burning a core for long after its block).
SPIN_POLLS = 4000

_sched_yield = types.ExternalFunction("sched_yield", types.int32())


@njit(nogil=True, cache=True)
def spin_until_changed(
    counters: np.ndarray, index: int, value: int, switch: np.ndarray, polls: int
) -> bool:
    """Poll until ``counters[index]`` is no longer ``value`` (True), or ``switch[0]`` falls to 0
    or ``polls`` polls pass (False). Runs without the interpreter lock.

    Args:
        counters: ``(K,)`` int64 counters another thread advances.
        index: The counter to watch.
        value: Its value when the wait began.
        switch: ``(1,)`` int64, above 0 while spinning is allowed.
        polls: The most polls.
    """
    for _ in range(polls):
        if counters[index] != value:
            return True
        if switch[0] <= 0:
            return False
        _sched_yield()  # opaque to the compiler: the counters are read again each poll
    return counters[index] != value
