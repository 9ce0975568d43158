"""Stop signals noted rather than raised, from the first line of ``fastrl train`` on.

A SIGINT that raises ``KeyboardInterrupt`` while a C++ extension is calling back into Python (torch, numba
and envpool do while they load) aborts the process (``terminate called after throwing ...``). So ``fastrl
train`` notes SIGINT and SIGTERM from its start (``defer``); the run (``fastrl.runner.Run``) finds a signal
noted before it began in ``received`` and stops at its first step with a checkpoint, as for one during it.
Light on purpose: this module imports nothing heavy, so it is in place before anything slow loads.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: names of the stop signals noted since ``defer`` (oldest first)
received: list[str] = []


def note(signum, frame) -> None:
    received.append(signal.Signals(signum).name)


def defer() -> dict:
    """Note SIGINT and SIGTERM from now on (main thread only); the previous handlers, for ``restore``."""
    received.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, note) for s in STOP_SIGNALS}


def restore(previous: dict) -> None:
    received.clear()
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on: for a process whose run is over and which only exits. Python
    resets the handlers it installed to the default while it shuts down, so a late Ctrl-C of a burst would
    kill the process by signal and turn its exit code (0, or 130 with the checkpoint written) into -2;
    ignored signals stay ignored."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def noted() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM are only noted in ``received`` (those noted before stay) for a loop that
    polls it (A3C's supervisor); the previous handlers come back after. A signal during the final checkpoint
    is noted too, so it cannot cut the write short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, note) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
