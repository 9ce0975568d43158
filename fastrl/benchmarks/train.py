"""``fastrl bench train``: end-to-end training env steps/s beside its two bounds, measured in one process.

For each preset (on its env, or on ``--env``), three measurements of ``--seconds`` each:

1. **env-only**: the same envs (``make_env``, same count and backend) stepped with pre-drawn random actions
   on the learner's device: the rate the envs allow;
2. **learner-only**: the learner's gradient updates (sample a batch, update, new priorities where
   prioritized) on a replay filled by random play: updates/s, and the env-step rate they allow at the
   preset's replay ratio (updates/s ÷ replay ratio);
3. **end-to-end**: the real training loop (``fastrl.runner.train``) from an empty replay, timed after
   learning starts, with its per-stage milliseconds (env, act, replay_add, sample, update).

The figure of merit is ``ratio_vs_bound`` = end-to-end ÷ min(env-only, learner-only bound): what the loop's
own plumbing loses. Throughput, not learning, is measured: ``learning_starts`` is cut to a short fill and
the replay capacity is capped (``--capacity``), neither of which changes the cost of a step.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from fastrl import records
from fastrl.config import RunConfig, preset

STAGES = ("env", "act", "replay_add", "sample", "update")


@dataclass
class TrainBenchConfig:
    """End-to-end training env steps/s beside the env-only rate and the learner-only bound."""

    preset: tuple[str, ...] = ("dqn-cartpole", "dqn-atari")
    """presets to measure (see fastrl train dqn --help)"""
    env: str | None = None
    """env id for every preset (default: each preset's own)"""
    seconds: float = 10.0
    """length of each of the three measurements"""
    fill: int = 2_000
    """env steps of random play in the replay before updates start (the presets' learning_starts is cut
    to this, or to the least a batch needs)"""
    capacity: int = 100_000
    """replay capacity cap (presets ask up to 1M; the cost of a step hardly depends on it)"""
    device: str = "cpu"
    """torch device of the learner, the replay and native envs"""
    torch_threads: int = 0
    """CPU threads of torch (0: the preset's setting)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/train.json only with --save)"""
    save: bool = False
    """write the records to profiles/<hardware>/train.json when --json is not given"""


def bench_config(bench: TrainBenchConfig, name: str) -> RunConfig:
    """The preset as measured: the bench's device, threads, capacity cap and short fill."""
    config = preset(name, bench.env)
    least = config.dqn.batch_size + config.env.num_envs * config.replay.n_step
    return dataclasses.replace(
        config, device=bench.device, torch_threads=bench.torch_threads or config.torch_threads,
        replay=dataclasses.replace(config.replay, capacity=min(config.replay.capacity, bench.capacity),
                                   save_with_checkpoint=False),
        dqn=dataclasses.replace(config.dqn, learning_starts=max(bench.fill, least)),
        tensorboard=False, progress=False, eval_interval=0, checkpoint_interval=0)


def measure(bench: TrainBenchConfig, name: str) -> list[dict]:
    from fastrl.runner import make_env

    config = bench_config(bench, name)
    threads_before = torch.get_num_threads()
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    try:
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            env_sps = _env_only(envs, config, bench.seconds)
            updates_per_s = _learner_only(envs, config, bench.seconds)
        finally:
            envs.close()
        bound = updates_per_s / config.dqn.replay_ratio
        end_to_end, stage_ms = _end_to_end(config, bench.seconds * min(env_sps, bound))
    finally:
        torch.set_num_threads(threads_before)

    case = f"{name}/{config.env.id}/n{config.env.num_envs}/{config.device}"
    common = {"preset": name, "env_id": config.env.id, "num_envs": config.env.num_envs,
              "replay_ratio": config.dqn.replay_ratio, "batch_size": config.dqn.batch_size,
              "torch_threads": config.torch_threads or threads_before}
    slower = min(env_sps, bound)
    rows = [
        records.record("train", case, "fastrl", "env_steps_per_s", end_to_end, "1/s",
                       ratio_vs_bound=end_to_end / slower, **common),
        records.record("train", case, "env-only", "env_steps_per_s", env_sps, "1/s", **common),
        records.record("train", case, "learner-only", "env_steps_per_s", bound, "1/s", **common),
        records.record("train", case, "learner-only", "updates_per_s", updates_per_s, "1/s", **common),
    ]
    rows += [records.record("train", case, "fastrl", f"ms_{stage}", ms, "ms", **common)
             for stage, ms in stage_ms.items()]
    return rows


def _timed(body: Callable[[], int], seconds: float, device: torch.device) -> float:
    """Run ``body() -> count`` until ``seconds`` pass (after a short warm-up); count per second."""
    warmup_end = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warmup_end:
        body()
    _synchronize(device)
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        count += body()
    _synchronize(device)
    return count / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _random_actions(envs, device: torch.device, count: int = 64) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    n = envs.single_action_space.n
    return [torch.randint(0, n, (envs.num_envs,), generator=generator).to(device) for _ in range(count)]


def _env_only(envs, config: RunConfig, seconds: float) -> float:
    device = torch.device(config.resolved_device())
    actions = _random_actions(envs, device)
    envs.reset(seed=config.seed)
    step = itertools.count()

    def body() -> int:
        envs.step(actions[next(step) % len(actions)])
        return envs.num_envs

    return _timed(body, seconds, device)


def _learner_only(envs, config: RunConfig, seconds: float) -> float:
    """Updates/s of sample + update (+ priorities) on a replay filled with ``learning_starts`` random steps."""
    from fastrl.algos.dqn import learner_for
    from fastrl.replay import ReplayBuffer
    from fastrl.runner import replay_config_for

    device = torch.device(config.resolved_device())
    learner = learner_for(config, tuple(envs.single_observation_space.shape), int(envs.single_action_space.n),
                          device)
    replay = ReplayBuffer(replay_config_for(config, envs, config.dqn.gamma, 1 << 30), device)
    actions = _random_actions(envs, device)
    replay.add(envs.reset(seed=config.seed))
    for i in range(-(-config.dqn.learning_starts // envs.num_envs)):
        obs, reward, terminated, truncated, _ = envs.step(actions[i % len(actions)])
        replay.add(obs, actions[i % len(actions)], reward, terminated, truncated)
    generator = torch.Generator(device=device).manual_seed(config.seed)

    def body() -> int:
        batch = replay.sample(config.dqn.batch_size, generator)
        priorities = learner.update(batch)
        if config.replay.prioritized:
            replay.update_priorities(batch.indices, priorities)
        return 1

    return _timed(body, seconds, device)


def _end_to_end(config: RunConfig, steps_after_fill: float) -> tuple[float, dict[str, float]]:
    """The training loop's env steps/s after learning starts, and its mean per-stage ms there."""
    from fastrl.log import METRICS, read_jsonl
    from fastrl.runner import train

    per_iteration = config.env.num_envs
    interval = max(per_iteration, int(steps_after_fill / 5) // per_iteration * per_iteration)
    start = -(-config.dqn.learning_starts // interval) * interval  # the first row at or after the fill
    stop = start + 5 * interval
    with tempfile.TemporaryDirectory() as tmp:
        run = dataclasses.replace(config, run_dir=Path(tmp) / "run", log_interval=interval,
                                  total_env_steps=stop + interval)  # stop_at ends it first: no final eval
        train(run, stop_at=stop)
        rows = [r for r in read_jsonl(Path(tmp) / "run" / METRICS) if r["env_steps"] > start]
    sps = statistics.median(r["sps"] for r in rows)
    stage_ms = {s: statistics.mean(r[f"ms_{s}"] for r in rows if f"ms_{s}" in r) for s in STAGES}
    return sps, stage_ms


def main(argv: list[str] | None = None, prog: str = "fastrl bench train") -> int:
    bench = tyro.cli(TrainBenchConfig, args=argv, prog=prog)
    rows: list[dict] = []
    for name in bench.preset:
        rows += measure(bench, name)
    records.print_table(rows, title="fastrl bench train",
                        extra_columns=("ratio_vs_bound",))
    path = bench.json or (records.default_path("train") if bench.save else None)
    if path is not None:
        records.write_records(path, rows, records.run_meta(bench))
        print(f"records written to {path}")
    return 0
