"""``fastrl bench envs``: env steps/s through ``make_env`` beside the raw engine, measured in the same run.

The raw engine (envpool / ale-py's AtariVectorEnv / gymnasium's vector env, stepped with numpy actions and no
wrapper) is the limit on this machine; the ratio ``make_env / raw`` is what our interface costs. Both sides
step the same envs with the same threads and the same pre-drawn random actions, and their timed windows
alternate (raw, wrapped, raw, wrapped, ...) so that drift of a shared VM hits both alike. Each side's figure
is its best window: interference from other processes only ever slows a window down, so the best window is
the closest estimate of undisturbed throughput, for both sides alike; the median and every window are kept in
the record too. With ``--check-cost`` the wrapper also runs with ``check_actions=False``, which
isolates what the action checks cost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro

from fastrl import records
from fastrl.benchmarks import minatar_package

ATARI_FRAME_SKIP = 4


@dataclass
class EnvBenchConfig:
    """Env steps/s (and frames/s for Atari) per env, backend and env count, beside the raw engine."""

    env: tuple[str, ...] = ("Pong-v5",)
    """env ids, e.g. Pong-v5 HalfCheetah-v5 CartPole-v1 Catch-v0"""
    num_envs: tuple[int, ...] = (8, 16, 32)
    """env counts to measure"""
    backend: tuple[str, ...] = ("envpool",)
    """make_env backends: envpool, ale, gymnasium, native"""
    asynchronous: Annotated[bool, tyro.conf.arg(name="async")] = False
    """also measure async send/recv (batch_size = num_envs // 2) where the backend has it"""
    threads: int = 0
    """engine threads; 0 = min(num_envs, CPU cores)"""
    seconds: float = 2.0
    """length of one timed window"""
    windows: int = 5
    """timed windows per side (raw and wrapped alternate); the best is reported, the median kept beside it"""
    check_cost: bool = False
    """also measure make_env with check_actions=False, to isolate what the action checks cost"""
    device: str = "cpu"
    """device of make_env's tensors"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/envs.json only with --save)"""
    save: bool = False
    """write the records to profiles/<hardware>/envs.json when --json is not given"""


def _is_atari(env_id: str) -> bool:
    from fastrl.envs.atari import is_atari_id

    return is_atari_id(env_id)


def _action_pool(space, batch: int, rng: np.random.Generator, size: int = 64) -> list[np.ndarray]:
    """Pre-drawn random action batches, so neither side pays for drawing them inside the timed window."""
    if hasattr(space, "n"):
        return [rng.integers(0, space.n, size=batch).astype(np.int32) for _ in range(size)]
    low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
    return [rng.uniform(low, high, size=(batch, *space.shape)).astype(np.float32) for _ in range(size)]


def _timed(loop_body: Callable[[int], int], seconds: float) -> float:
    """Run ``loop_body(i) -> env steps done`` until ``seconds`` pass; env steps per second."""
    steps, i = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(16):  # read the clock every 16 calls, not every call
            steps += loop_body(i)
            i += 1
        now = time.perf_counter()
        if now >= deadline:
            return steps / (now - start)


# ----------------------------------------------------------------------------------------------------------
# raw engines: no wrapper, numpy actions
# ----------------------------------------------------------------------------------------------------------

def raw_loop(backend: str, env_id: str, num_envs: int, batch_size: int, threads: int, actions, seed: int = 0):
    """(body, close): one body call steps the raw engine once (numpy actions, no wrapper); returns env steps.

    The engine is the very one ``make_env`` builds for these arguments (its ``engine``), so both sides run the
    same game with the same options and threads. Native envs have no engine below them: (None, None), except
    the MinAtar games, whose baseline is the ``minatar`` package stepped in a Python loop (``minatar_package``).
    """
    if backend == "native":
        return minatar_package.package_loop(env_id, num_envs, actions, seed) if minatar_package.covers(env_id) \
            else (None, None)
    from fastrl.envs import make_env

    options = {"num_threads": threads} if backend in ("envpool", "ale") else {}
    if batch_size < num_envs:
        options["batch_size"] = batch_size
    adapter = make_env(env_id, num_envs, backend=backend, seed=seed, **options)
    engine = adapter.engine
    if batch_size < num_envs:
        engine.async_reset()
        pool = [a[:batch_size] for a in actions]

        def body(i: int) -> int:
            *_, info = engine.recv()
            engine.send(pool[i % len(pool)], info["env_id"])
            return batch_size
    else:
        if backend == "envpool":
            engine.reset()  # envpool's seeds are fixed when the pool is made
        else:
            engine.reset(seed=seed)

        def body(i: int) -> int:
            engine.step(actions[i % len(actions)])
            return num_envs
    return body, adapter.close


def wrapped_loop(backend: str, env_id: str, num_envs: int, batch_size: int, threads: int, actions, device: str,
                 check_actions: bool, seed: int = 0):
    from fastrl.envs import make_env

    options = {"check_actions": check_actions}
    if backend in ("envpool", "ale"):
        options["num_threads"] = threads
    if batch_size < num_envs:
        options["batch_size"] = batch_size
    env = make_env(env_id, num_envs, backend=backend, device=device, seed=seed, **options)
    pool = [torch.from_numpy(a).to(device) for a in actions]
    if hasattr(env.single_action_space, "n"):
        pool = [a.long() for a in pool]
    env.reset()
    if env.is_async:
        pool = [a[:batch_size] for a in pool]  # the first recv() calls deliver the reset observations

        def body(i: int) -> int:
            out = env.recv()
            env.send(pool[i % len(pool)], out.env_ids)
            return batch_size
    else:
        def body(i: int) -> int:
            env.step(pool[i % len(pool)])
            return num_envs
    body.kernel = getattr(getattr(env, "game", None), "kernel", None)  # what steps a native MinAtar game
    return body, env.close


def measure_case(config: EnvBenchConfig, env_id: str, backend: str, num_envs: int, asynchronous: bool) -> list[dict]:
    import os

    threads = config.threads or min(num_envs, len(os.sched_getaffinity(0)))
    batch_size = num_envs // 2 if asynchronous else num_envs
    from fastrl.envs import make_env

    with make_env(env_id, 1, backend=backend) as probe_env:
        space = probe_env.single_action_space
    actions = _action_pool(space, num_envs, np.random.default_rng(0))
    mode = "async" if asynchronous else "sync"
    case = f"{env_id}/n{num_envs}/t{threads}/{mode}"

    sides: dict[str, tuple] = {}
    raw_body, raw_close = raw_loop(backend, env_id, num_envs, batch_size, threads, actions)
    if raw_body is not None:
        sides["raw"] = (raw_body, raw_close)
    sides["fastrl"] = wrapped_loop(backend, env_id, num_envs, batch_size, threads, actions, config.device, True)
    if config.check_cost:
        sides["fastrl-nocheck"] = wrapped_loop(backend, env_id, num_envs, batch_size, threads, actions,
                                               config.device, False)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    torch_threads = torch.get_num_threads()
    if backend == "native":  # the native env computes with torch's threads: as many as the engines get
        torch.set_num_threads(threads)
    try:
        for body, _ in sides.values():  # warm-up: first pages touched, caches filled
            _timed(body, min(0.5, config.seconds))
        for _ in range(config.windows):
            for name, (body, _) in sides.items():
                rates[name].append(_timed(body, config.seconds))
    finally:
        torch.set_num_threads(torch_threads)
        for _, close in sides.values():
            close()

    rows = []
    raw_best = max(rates["raw"]) if "raw" in rates else None
    for name, values in rates.items():
        best = max(values)
        raw_label = "minatar-package" if backend == "native" else f"{backend}-raw"
        label = raw_label if name == "raw" else f"{backend}" if name == "fastrl" else f"{backend}-nocheck"
        extra = {"statistic": f"best of {len(values)} windows of {config.seconds} s",
                 "median": statistics.median(values), "windows": values, "threads": threads, "num_envs": num_envs, "batch_size": batch_size,
                 "env_id": env_id, "mode": mode, "device": config.device if name != "raw" else "cpu"}
        if getattr(sides[name][0], "kernel", None):
            extra["kernel"] = sides[name][0].kernel
        if raw_best:
            extra["ratio_vs_raw"] = best / raw_best
            extra["median_ratio_vs_raw"] = extra["median"] / statistics.median(rates["raw"])
            if backend == "native" and name != "raw":  # the package runs on one core, torch on ``threads``
                extra["ratio_per_core"] = extra["ratio_vs_raw"] / threads
        rows.append(records.record("envs", case, label, "env_steps_per_s", best, "1/s", **extra))
        if _is_atari(env_id):
            rows.append(records.record("envs", case, label, "frames_per_s", best * ATARI_FRAME_SKIP, "1/s",
                                       **extra))
    return rows


def run(config: EnvBenchConfig) -> list[dict]:
    rows: list[dict] = []
    for env_id in config.env:
        for backend in config.backend:
            for num_envs in config.num_envs:
                modes = [False] + ([True] if config.asynchronous and backend == "envpool" else [])
                for asynchronous in modes:
                    rows += measure_case(config, env_id, backend, num_envs, asynchronous)
    return rows


def main(argv: list[str] | None = None, prog: str = "fastrl bench envs") -> int:
    config = tyro.cli(EnvBenchConfig, args=argv, prog=prog)
    rows = run(config)
    records.print_table([r for r in rows if r["metric"] == "env_steps_per_s"], title="fastrl bench envs",
                        extra_columns=("ratio_vs_raw", "median_ratio_vs_raw", "ratio_per_core"))
    path = config.json or (records.default_path("envs") if config.save else None)
    if path is not None:
        records.write_records(path, rows, records.run_meta(config))
        print(f"records written to {path}")
    return 0
