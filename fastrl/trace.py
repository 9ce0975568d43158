"""A ``torch.profiler`` trace of a few steady-state iterations of a training loop, as Chrome trace JSON.

The loop's ``Run.tick`` marks each iteration (an env step off-policy, a rollout and its update on-policy), so
the trace can skip the start-up (the replay's fill, the first rollouts, lazy allocations) and record only
iterations that look like the rest of the run. Open the file in Perfetto (ui.perfetto.dev) or
chrome://tracing: torch's operators on each thread (forward, backward and optimizer ops, copies, the replay's
index ops), with their input shapes and, on a GPU, the kernels they launched.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule


class StepTrace:
    """Records iterations ``skip + 1`` .. ``skip + active`` of a loop (one warm-up iteration before them) into
    ``path``; ``step()`` marks the end of each iteration."""

    def __init__(self, path: str | Path, *, skip: int, active: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        self.written = False
        self._profiler = profile(activities=activities, record_shapes=True,
                                 schedule=schedule(wait=max(0, skip - 1), warmup=1, active=active, repeat=1),
                                 on_trace_ready=self._export)
        self._profiler.start()

    def _export(self, profiler) -> None:
        profiler.export_chrome_trace(str(self.path))
        self.written = True

    def step(self) -> None:
        self._profiler.step()

    def close(self) -> None:
        self._profiler.stop()
