"""Cores kept busy by other processes, for measuring how a run shares a machine (``--busy-cores``).

A user's workstation is rarely idle. What matters there is that a run slows in proportion to the cores it
lost, not by the collapse that spinning thread pools show when one of their threads is descheduled (every
OpenMP barrier then waits a whole scheduler slice). Each busy process is a plain Python spin loop, started
before the measurement and killed after it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()
