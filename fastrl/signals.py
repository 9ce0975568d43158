"""Stop signals noted rather than raised, from the first line of ``fastrl train`` on.

A SIGINT that raises ``KeyboardInterrupt`` while a C++ extension is calling back into Python (torch, numba
and envpool do while they load) aborts the process (``terminate called after throwing ...``). So ``fastrl
train`` notes SIGINT and SIGTERM from its start (``defer``); the run (``fastrl.runner.Run``) finds a signal
noted before it began in ``received`` and stops at its first step with a checkpoint, as for one during it.
Light on purpose: this module imports nothing heavy, so it is in place before anything slow loads.
"""

from __future__ import annotations

import signal
import threading

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
