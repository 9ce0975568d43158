"""Per-stage host timers of a training loop: ``with stopwatch("env"):`` around each stage."""

from __future__ import annotations

import contextlib
import time

_UNTIMED = contextlib.nullcontext()


def untimed(stage: str) -> contextlib.nullcontext:
    """A clock that times nothing, for a learner stepped outside a run (benches, tests)."""
    return _UNTIMED


class Stopwatch:
    """Host wall time per stage, summed between log rows; ``take`` gives ms per call and resets.

    On CUDA these are host times (launch and any sync), not device times: the loop does not synchronize
    to measure.
    """

    def __init__(self, stages: tuple[str, ...]):
        self.total = dict.fromkeys(stages, 0.0)
        self.calls = dict.fromkeys(stages, 0)
        self._timers = {stage: _StageTimer(self, stage) for stage in stages}

    def __call__(self, stage: str) -> _StageTimer:
        """``with stopwatch("env"):`` times the block as one call of that stage."""
        return self._timers[stage]

    def add(self, stage: str, started: float) -> None:
        self.total[stage] += time.perf_counter() - started
        self.calls[stage] += 1

    def take(self) -> dict[str, float]:
        out = {f"ms_{k}": 1e3 * self.total[k] / self.calls[k] for k in self.total if self.calls[k]}
        for k in self.total:
            self.total[k], self.calls[k] = 0.0, 0
        return out


class _StageTimer:
    """The context manager of one stage (a class, not a generator: it runs several times per env step)."""

    __slots__ = ("_stopwatch", "_stage", "_started")

    def __init__(self, stopwatch: Stopwatch, stage: str):
        self._stopwatch, self._stage, self._started = stopwatch, stage, 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self._stopwatch.add(self._stage, self._started)
