"""How ``fastrl bench train`` times things: a body run for some seconds (rate, and the least CPU time per count
over windows), the training loop's own rate from its log rows, and the envs alone with random actions."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from fastrl.config import RunConfig

#: windows of a measurement whose least CPU time per step is taken (see ``_timed_cpu``)
CPU_WINDOWS = 5


def timed(body: Callable[[], int], seconds: float, device: torch.device) -> float:
    """Run ``body() -> count`` until ``seconds`` pass (after a short warm-up); count per second."""
    return timed_cpu(body, seconds, device)[0]


def timed_cpu(body: Callable[[], int], seconds: float, device: torch.device,
               windows: int = CPU_WINDOWS) -> tuple[float, float]:
    """``timed``, and the CPU time the whole process (every thread: the envs' own too) spent per count: the
    least over ``windows`` equal parts of the time. On a shared VM, neighbours slow the same work down for
    seconds at a time, and only ever add to its cost, so the least is the work's own cost."""
    warmup_end = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warmup_end:
        body()
    synchronize(device)
    total, start = 0, time.perf_counter()
    cpu_per_count = float("inf")
    for k in range(1, windows + 1):
        count, cpu_start = 0, time.process_time()
        deadline = start + seconds * k / windows
        while count == 0 or time.perf_counter() < deadline:
            count += body()
        synchronize(device)
        cpu_per_count = min(cpu_per_count, (time.process_time() - cpu_start) / count)
        total += count
    return total / (time.perf_counter() - start), cpu_per_count


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_actions(envs, device: torch.device, count: int = 64) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    space = envs.single_action_space
    if not hasattr(space, "n"):  # a Box: uniform within its bounds
        low, high = (torch.as_tensor(b, dtype=torch.float32) for b in (space.low, space.high))
        return [(low + (high - low) * torch.rand((envs.num_envs, *space.shape), generator=generator)).to(device)
                for _ in range(count)]
    return [torch.randint(0, space.n, (envs.num_envs,), generator=generator).to(device) for _ in range(count)]


def loop_rate(config: RunConfig, interval: int, start: int, stop: int,
               stages: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """Run the training loop to ``stop`` env steps, logging every ``interval``; the median env steps/s of its
    log rows after ``start`` and the mean per-stage ms there (of the stages this loop times: PPO's collection
    on the device is one ``rollout`` stage, its host collection ``env``, ``act`` and ``store``)."""
    from fastrl.log import METRICS, read_jsonl
    from fastrl.runner import train

    with tempfile.TemporaryDirectory() as tmp:
        run = dataclasses.replace(config, run_dir=Path(tmp) / "run", log_interval=interval,
                                  total_env_steps=stop + interval)  # stop_at ends it first: no final eval
        train(run, stop_at=stop)
        rows = [r for r in read_jsonl(Path(tmp) / "run" / METRICS) if r["env_steps"] > start]
    sps = statistics.median(r["sps"] for r in rows)
    stage_ms = {s: statistics.mean(r[f"ms_{s}"] for r in rows if f"ms_{s}" in r) for s in stages
                if any(f"ms_{s}" in r for r in rows)}
    return sps, stage_ms


def env_only(envs, seconds: float, seed: int | None = None) -> float:
    """Env steps/s of the envs alone, random actions; async: both halves in flight, each sent as it lands."""
    return timed(env_body(envs, seed), seconds, envs.device)


def env_body(envs, seed: int | None = None) -> Callable[[], int]:
    """One env step (sync) or one half landing and sent again (async) with random actions: its env steps."""
    actions = random_actions(envs, envs.device)
    envs.reset(seed=seed)
    step = itertools.count()
    if envs.is_async:
        halves = [a[:envs.batch_size] for a in actions]

        def body() -> int:
            out = envs.recv()
            envs.send(halves[next(step) % len(halves)], out.env_ids)
            return envs.batch_size
    else:
        def body() -> int:
            envs.step(actions[next(step) % len(actions)])
            return envs.num_envs

    return body
