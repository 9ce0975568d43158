"""torch's CPU thread count for a repeated piece of work, chosen by timing the work as the run goes.

On two idle cores a two-thread update is the fastest. When another process takes one of them, every OpenMP
barrier of a two-thread update waits for the thread that lost its core, and the update runs at a fraction of
its idle speed, slower than on one thread (``fastrl bench train --busy-cores 1``; profiles/*/train-ppo.json).
Which count is faster depends on what else the machine runs, and that changes within a run, so neither a fixed
count nor a choice made at the start holds. ``AdaptiveThreads`` times the work itself:

- each candidate count runs once first;
- then the work runs on the count with the lowest running mean of seconds per call, and every
  ``explore_every``-th call on another candidate (the one timed longest ago), so that a change of load is
  seen within a few dozen calls;
- the running means are exponential (``smoothing``): recent calls count most.

The work must be of one size call after call (a minibatch step of a fixed batch), and run on the CPU.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch


class AdaptiveThreads:
    """Picks, call by call, the count among ``candidates`` that has run the work fastest lately."""

    def __init__(self, candidates: tuple[int, ...], explore_every: int = 8, smoothing: float = 0.3):
        if not candidates or any(not isinstance(c, int) or c < 1 for c in candidates):
            raise ValueError(f"candidates {candidates!r}: expected positive thread counts")
        if explore_every < 2 or not 0.0 < smoothing <= 1.0:
            raise ValueError(f"explore_every {explore_every}, smoothing {smoothing}: expected >= 2 and (0, 1]")
        self.candidates = tuple(dict.fromkeys(candidates))
        self.explore_every = explore_every
        self.smoothing = smoothing
        self.seconds: dict[int, float] = {}  # running mean of seconds per call, by count
        self._last_timed = dict.fromkeys(self.candidates, -1)  # call index each count last ran at
        self.calls = 0

    @property
    def best(self) -> int:
        """The count with the lowest running mean so far (the first candidate before any timing)."""
        timed = [c for c in self.candidates if c in self.seconds]
        return min(timed, key=self.seconds.__getitem__) if timed else self.candidates[0]

    def next_count(self) -> int:
        """The count the next call runs on."""
        untried = [c for c in self.candidates if c not in self.seconds]
        if untried:
            return untried[0]
        best = self.best
        others = [c for c in self.candidates if c != best]
        if others and self.calls % self.explore_every == self.explore_every - 1:
            return min(others, key=self._last_timed.__getitem__)
        return best

    def note(self, count: int, seconds: float) -> None:
        """Fold one call's duration on ``count`` threads into that count's running mean."""
        previous = self.seconds.get(count)
        self.seconds[count] = seconds if previous is None else previous + self.smoothing * (seconds - previous)
        self._last_timed[count] = self.calls
        self.calls += 1

    @contextlib.contextmanager
    def __call__(self) -> Iterator[int]:
        """Run the block on the next count (torch's process-wide setting, restored after); time it."""
        count, before = self.next_count(), torch.get_num_threads()
        if count != before:
            torch.set_num_threads(count)
        start = time.perf_counter()
        try:
            yield count
        finally:
            elapsed = time.perf_counter() - start
            if count != before:
                torch.set_num_threads(before)
        self.note(count, elapsed)
