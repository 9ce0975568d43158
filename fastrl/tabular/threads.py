"""Tabular methods run on one torch thread.

Their tensors hold a few hundred to a few thousand numbers and each step is a few dozen tiny ops, so intra-op
threads have no work to share, and on a busy machine each op can wait for a descheduled pool thread
(profiles/tabular/threads.json: Q-learning on the cliff, one thread against two, alternating rounds).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from fastrl.hardware import torch_threads

Fn = TypeVar("Fn", bound=Callable)


def on_one_thread(fn: Fn) -> Fn:
    """Run ``fn`` with ``torch.set_num_threads(1)``, restoring the caller's thread count after."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
