"""Timing that holds up on a shared VM and on a GPU: warm-up, many repetitions, percentiles.

- On CUDA each call is bracketed by CUDA events after a synchronize, so a sample is the call's latency on
  an idle device, host launch overhead included (a Python-heavy reference pays for its many launches).
  Optionally the L2 cache is flushed before every call (outside the events), as Triton's ``do_bench`` does:
  in training the learner's step evicts the replay's data between two samples.
- On the CPU each call is timed with ``perf_counter_ns``.

Numbers on this kind of VM swing with memory allocation: first touching a page costs microseconds, and
glibc returns large blocks to the kernel on free, so code that allocates per call pays page faults on every
call. ``allocator_env`` lists the settings that decide this (``MALLOC_*``, ``PYTORCH_*``); every report that
quotes a timing should carry them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

#: Bytes zeroed before each timed CUDA call to flush L2 (H100: 50 MB, H200: 60 MB, B200: 126 MB).
L2_FLUSH_BYTES = 256 << 20


@dataclass(frozen=True)
class Timing:
    """Per-call samples in microseconds, with the summary every report uses."""

    samples_us: tuple[float, ...]

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_us, q))

    @property
    def median_us(self) -> float:
        return self.percentile(50)

    @property
    def p20_us(self) -> float:
        return self.percentile(20)

    @property
    def p80_us(self) -> float:
        return self.percentile(80)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device | str, repeats: int, warmup: int,
               flush_l2: bool = False) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times, each call timed on its own."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats} must be >= 1 and warmup={warmup} >= 0")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    synchronize(device)
    if device.type == "cuda":
        return _time_cuda(fn, device, repeats, flush_l2)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return Timing(tuple(samples))


def _time_cuda(fn, device: torch.device, repeats: int, flush_l2: bool) -> Timing:
    flush = torch.empty(L2_FLUSH_BYTES, dtype=torch.uint8, device=device) if flush_l2 else None
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
    with torch.cuda.device(device):
        for start, end in events:
            if flush is not None:
                flush.zero_()
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
    return Timing(tuple(start.elapsed_time(end) * 1e3 for start, end in events))


def copy_bandwidth_gb_s(device: torch.device | str, nbytes: int = 256 << 20, repeats: int = 5) -> float:
    """The device's achievable memory bandwidth: the best of a few large copies, bytes read + written / s."""
    device = torch.device(device)
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.zeros_like(src)  # both touched before timing: no first-touch page faults in the numbers
    dst.copy_(src)
    timing = time_calls(lambda: dst.copy_(src), device, repeats=repeats, warmup=1)
    return 2 * nbytes / (min(timing.samples_us) * 1e-6) / 1e9


def allocator_env() -> dict[str, str]:
    """The environment settings of the C and torch allocators (glibc ``MALLOC_*``, ``PYTORCH_*``)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(("MALLOC_", "PYTORCH_"))}
