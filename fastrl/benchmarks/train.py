"""``fastrl bench train``: end-to-end training env steps/s beside its two bounds, measured in one process.

    fastrl bench train --algo dqn                       (dqn-cartpole and dqn-atari)
    fastrl bench train --algo td3                       (td3-mujoco; also ddpg, d4pg)
    fastrl bench train --algo ppo --env Pong-v5         (ppo-atari)
    fastrl bench train --preset ppo-atari --learner-options bf16=true channels_last=true

Off-policy presets (DQN, and DDPG / TD3 / D4PG): for each (on its env, or on ``--env``), three measurements
of ``--seconds`` each:

1. **env-only**: the same envs (``make_env``, same count and backend) stepped with pre-drawn random actions
   (within the bounds of continuous ones) on the learner's device: the rate the envs allow;
2. **learner-only**: the learner's gradient updates (sample a batch, update — for TD3 an actor and target
   update every ``policy_delay`` — new priorities where prioritized) on a replay filled by random play:
   updates/s, and the env-step rate they allow at the preset's replay ratio (updates/s ÷ replay ratio);
3. **end-to-end**: the real training loop (``fastrl.runner.train``) from an empty replay, timed after
   learning starts, with its per-stage milliseconds (env, act, replay_add, sample, update).

The figure of merit is ``ratio_vs_bound`` = end-to-end ÷ min(env-only, learner-only bound): what the loop's
own plumbing loses. The loop steps the envs, then updates (nothing overlapped), so the rate it can reach is
the serial **env+learner** = 1 ÷ (1 ÷ env-only + 1 ÷ learner-only); ``ratio_vs_serial`` = end-to-end ÷ that
is what acting and storing cost beyond the two. Throughput, not learning, is measured: ``learning_starts`` is
cut to a short fill and the replay capacity is capped (``--capacity``), neither of which changes the cost of
a step.

PPO / A2C presets: four measurements, the envs of the preset's count and batch size (async halves where the
preset says):

1. **envpool-raw** (envpool backends): the engine itself, same envs, batch size and threads as env-only,
   numpy actions;
2. **env-only**: the envs through ``make_env``, stepped with random actions as fast as they go (async: both
   halves kept in flight), on the engine's own threads (one per core) unless the env options set them: the
   envs at their fastest here. The loop may step them on fewer (``env_threads`` in the record beside
   ``env_only_threads``): async collection leaves the acting thread a core;
3. **learner-only**: ``PPO.learn`` (GAE, then the epochs of minibatch updates) on a collected rollout:
   env steps/s = rollout transitions ÷ its time, and samples/s (transitions × epochs ÷ time);
4. **end-to-end**: the training loop, its SPS after the first log row, and its per-stage ms (env, act, store,
   advantages, update).

The learner is the bound on a CPU (Nature CNN), so ``ratio_vs_bound`` = end-to-end ÷ min(env-only,
learner-only) is what collection (the policy's forward passes, env waits, stores) costs on top of learning.
``learning_share`` is the same ratio read from the loop's own stage timers (learning ms ÷ rollout ms), which
load from other processes, changing between the separate measurements, cannot skew.

min(env-only, learner-only) is reachable only where the envs step during the update, which on-policy
learning without policy lag forbids: a rollout's first actions need the update before it. The rate a
lag-free loop can reach is the serial one, **env+learner** = 1 ÷ (1 ÷ env-only + 1 ÷ learner-only): the
envs' own stepping, then the learning, nothing overlapped. ``ratio_vs_serial`` = end-to-end ÷ that bound is
what acting and the loop's plumbing cost beyond the two.

On a CPU every part of a step competes for the same cores, so there is a harder limit, which no schedule
(overlapped, with policy lag, on any threads) can pass: **cpu-ceiling** = cores ÷ the CPU time one env step
costs in all, the envs' stepping (env-only), the policy's forward pass at the loop's batch size
(**act-only**, in the loop's acting context: its threads, bf16) and its share of the update (learner-only),
each measured as the process's CPU time (every thread) per env step (``cpu_us_per_step``), the least over
five windows of its measurement (a neighbour on a shared VM only adds to a cost). The envs' share comes from
env-only, on the engine's own threads: a little dearer per step than the loop's fewer threads (Pong on the
2-core VM: 355 us with two threads, 344 with one), so the ceiling errs a few percent low.
``ratio_vs_ceiling`` = end-to-end ÷ that ceiling; the ceiling row's own ``ratio_vs_bound`` says how much of
the learner-only bound the machine could reach at best.

``--compare 'compile=true' 'bf16=false channels_last=false'`` holds learner option sets against the preset's
own on the learner-only bound and on acting, in alternating rounds of the same run (``learner-only[OPTIONS]``
and ``act-only[OPTIONS]`` rows with ``ratio_vs_preset``): how a choice such as bf16, channels-last or
torch.compile is decided.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro

from fastrl import records
from fastrl.algos.base import OFF_POLICY_STAGES
from fastrl.algos.offpolicy import learner_step
from fastrl.config import ALGO_FIELDS, DDPG_VARIANTS, ConfigError, RunConfig, preset
from fastrl.hardware import resolve_run

#: windows of a measurement whose least CPU time per step is taken (see ``_timed_cpu``)
CPU_WINDOWS = 5
#: learner family -> the presets ``--algo`` measures
DEFAULT_PRESETS = {"dqn": ("dqn-cartpole", "dqn-atari"), "ppo": ("ppo-atari",), "td3": ("td3-mujoco",),
                   "ddpg": ("ddpg-mujoco",), "d4pg": ("d4pg-mujoco",)}


@dataclass
class TrainBenchConfig:
    """End-to-end training env steps/s beside the env-only rate and the learner-only bound."""

    algo: Literal["dqn", "ppo", "td3", "ddpg", "d4pg"] = "dqn"
    """learner family whose default presets to measure (dqn: dqn-cartpole, dqn-atari; ppo: ppo-atari; td3,
    ddpg, d4pg: td3-mujoco, ddpg-mujoco, d4pg-mujoco; a3c: its own suite, fastrl.benchmarks.train_a3c:
    steps/s against --workers)"""
    preset: tuple[str, ...] = ()
    """presets to measure instead of --algo's (see fastrl train <algo> --help)"""
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
    learner_options: tuple[str, ...] = ()
    """learner config fields to set, as KEY=VALUE (JSON values), e.g. bf16=true channels_last=true
    async_envs=false (PPO), replay_ratio=0.5 hidden=[32,32] (DQN, DDPG)"""
    compare: tuple[str, ...] = ()
    """PPO: learner option sets to hold against the preset's own on the learner-only bound, each a
    space-separated KEY=VALUE list (e.g. 'compile=true' 'bf16=false channels_last=false'); measured in
    alternating rounds with the preset's learner, rows learner-only[OPTIONS] and act-only[OPTIONS] with
    ratio_vs_preset"""
    compare_rounds: int = 8
    """alternating rounds of --compare: in each, every learner learns once from its rollout"""
    busy_cores: int = 0
    """also measure the loop end to end while this many other processes each keep a core busy, beside the idle
    figure (rows fastrl[busy N] with ratio_vs_idle)"""
    profile: bool = False
    """also write a torch.profiler trace (Chrome trace JSON, for Perfetto) of a few steady-state iterations of
    each preset's training loop to profiles/<hardware>/traces/train-<preset>-<env>.json.gz"""

    def presets(self) -> tuple[str, ...]:
        return self.preset or DEFAULT_PRESETS[self.algo]


def with_learner_options(config: RunConfig, options: tuple[str, ...], flag: str = "--learner-options") -> RunConfig:
    """``config`` with its learner section's fields set from KEY=VALUE items (``flag``: where they came from,
    for the error messages)."""
    section = ALGO_FIELDS[config.algo][0]
    values = {}
    for item in options:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. bf16=true")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    learner = getattr(config, section)
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(learner)})
    if unknown:
        raise ConfigError(f"{flag}: {', '.join(unknown)} not fields of {type(learner).__name__}")
    return dataclasses.replace(config, **{section: dataclasses.replace(learner, **values)})


def bench_config(bench: TrainBenchConfig, name: str) -> RunConfig:
    """An off-policy preset (DQN, DDPG family) as measured: the bench's device, threads, capacity cap,
    learner options and short fill."""
    config = with_learner_options(preset(name, bench.env), bench.learner_options)
    section = off_policy_section(config)
    least = section.batch_size + config.env.num_envs * config.replay.n_step
    return dataclasses.replace(
        config, device=bench.device, torch_threads=bench.torch_threads or config.torch_threads,
        replay=dataclasses.replace(config.replay, capacity=min(config.replay.capacity, bench.capacity),
                                   save_with_checkpoint=False),
        **{ALGO_FIELDS[config.algo][0]: dataclasses.replace(section, learning_starts=max(bench.fill, least))},
        tensorboard=False, progress=False, eval_interval=0, checkpoint_interval=0)


def measure(bench: TrainBenchConfig, name: str) -> list[dict]:
    """The preset's records; with ``--busy-cores``, its end-to-end rate with those cores taken, too."""
    rows = measure_ppo(bench, name) if preset(name).algo == "ppo" else measure_off_policy(bench, name)
    if bench.busy_cores:
        rows.append(_busy_row(bench, name, rows[0]))
    return rows


def _busy_row(bench: TrainBenchConfig, name: str, idle: dict) -> dict:
    """The loop's end-to-end rate while ``bench.busy_cores`` other processes spin, beside the idle row."""
    from fastrl.benchmarks.busy import busy_cores

    config = _measured_config(bench, name)
    end_to_end = _ppo_end_to_end if config.algo == "ppo" else _end_to_end
    with busy_cores(bench.busy_cores):
        sps, _ = end_to_end(config, bench.seconds * idle["value"])
    fields = {k: v for k, v in idle.items() if k not in ("backend", "value", "ratio_vs_bound", "ratio_vs_serial",
                                                         "ratio_vs_ceiling", "learning_share")}
    return records.record(**(fields | {"backend": f"fastrl[busy {bench.busy_cores}]", "value": sps}),
                          busy_cores=bench.busy_cores, ratio_vs_idle=sps / idle["value"])


def _measured_config(bench: TrainBenchConfig, name: str) -> RunConfig:
    """The preset as this bench measures it: ``ppo_bench_config`` or the off-policy ``bench_config``."""
    return ppo_bench_config(bench, name) if preset(name, bench.env).algo == "ppo" else bench_config(bench, name)


def measure_off_policy(bench: TrainBenchConfig, name: str) -> list[dict]:
    config = bench_config(bench, name)  # DQN, or the DDPG family (DDPG / TD3 / D4PG): the same measurements
    section = off_policy_section(config)
    env_sps, updates_per_s, end_to_end, stage_ms, torch_threads = off_policy_rates(bench, config)
    bound = updates_per_s / section.replay_ratio

    case = f"{name}/{config.env.id}/n{config.env.num_envs}/{config.device}"
    common = {"preset": name, "algo": config.algo, "env_id": config.env.id, "num_envs": config.env.num_envs,
              "replay_ratio": section.replay_ratio, "batch_size": section.batch_size,
              "hidden": list(section.hidden), "torch_threads": torch_threads}
    slower = min(env_sps, bound)
    serial = 1.0 / (1.0 / env_sps + 1.0 / bound)
    rows = [
        records.record("train", case, "fastrl", "env_steps_per_s", end_to_end, "1/s",
                       ratio_vs_bound=end_to_end / slower, ratio_vs_serial=end_to_end / serial, **common),
        records.record("train", case, "env-only", "env_steps_per_s", env_sps, "1/s", **common),
        records.record("train", case, "learner-only", "env_steps_per_s", bound, "1/s", **common),
        records.record("train", case, "learner-only", "updates_per_s", updates_per_s, "1/s", **common),
        records.record("train", case, "env+learner", "env_steps_per_s", serial, "1/s", **common),
    ]
    rows += [records.record("train", case, "fastrl", f"ms_{stage}", ms, "ms", **common)
             for stage, ms in stage_ms.items()]
    return rows


def off_policy_rates(bench: TrainBenchConfig, config: RunConfig) -> tuple[float, float, float, dict[str, float], int]:
    """An off-policy preset's three measurements, on its torch threads: (env-only env steps/s, learner-only
    updates/s, end-to-end env steps/s, the loop's per-stage ms, the torch threads they ran on)."""
    from fastrl.run.envs import make_env

    threads_before = torch.get_num_threads()
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    try:
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            env_sps = _env_only(envs, bench.seconds, seed=config.seed)
            updates_per_s = _learner_only(envs, config, bench.seconds)
        finally:
            envs.close()
        bound = updates_per_s / off_policy_section(config).replay_ratio
        end_to_end, stage_ms = _end_to_end(config, bench.seconds * min(env_sps, bound))
    finally:
        torch.set_num_threads(threads_before)
    return env_sps, updates_per_s, end_to_end, stage_ms, config.torch_threads or threads_before


def _timed(body: Callable[[], int], seconds: float, device: torch.device) -> float:
    """Run ``body() -> count`` until ``seconds`` pass (after a short warm-up); count per second."""
    return _timed_cpu(body, seconds, device)[0]


def _timed_cpu(body: Callable[[], int], seconds: float, device: torch.device,
               windows: int = CPU_WINDOWS) -> tuple[float, float]:
    """``_timed``, and the CPU time the whole process (every thread: the envs' own too) spent per count: the
    least over ``windows`` equal parts of the time. On a shared VM, neighbours slow the same work down for
    seconds at a time, and only ever add to its cost, so the least is the work's own cost."""
    warmup_end = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warmup_end:
        body()
    _synchronize(device)
    total, start = 0, time.perf_counter()
    cpu_per_count = float("inf")
    for k in range(1, windows + 1):
        count, cpu_start = 0, time.process_time()
        deadline = start + seconds * k / windows
        while count == 0 or time.perf_counter() < deadline:
            count += body()
        _synchronize(device)
        cpu_per_count = min(cpu_per_count, (time.process_time() - cpu_start) / count)
        total += count
    return total / (time.perf_counter() - start), cpu_per_count


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _random_actions(envs, device: torch.device, count: int = 64) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    space = envs.single_action_space
    if not hasattr(space, "n"):  # a Box: uniform within its bounds
        low, high = (torch.as_tensor(b, dtype=torch.float32) for b in (space.low, space.high))
        return [(low + (high - low) * torch.rand((envs.num_envs, *space.shape), generator=generator)).to(device)
                for _ in range(count)]
    return [torch.randint(0, space.n, (envs.num_envs,), generator=generator).to(device) for _ in range(count)]


def off_policy_section(config: RunConfig):
    """The section with an off-policy learner's ``learning_starts``, ``batch_size`` and ``gamma``: DQN's or, for
    the DDPG family, DDPG's (the replay-based measurements below serve both)."""
    return config.ddpg if config.algo in DDPG_VARIANTS else config.dqn


def _learner_only(envs, config: RunConfig, seconds: float) -> float:
    """Updates/s of sample + update (+ priorities) on a replay filled with ``learning_starts`` random steps."""
    return _timed(_learner_body(envs, config), seconds, torch.device(config.resolved_device()))


def _learner_body(envs, config: RunConfig) -> Callable[[], int]:
    """One off-policy learner step, the training loop's own ``learner_step`` (sample, update, priorities where
    prioritized), on a replay filled with ``learning_starts`` random steps of ``envs``: 1 update."""
    from fastrl.algos import algorithm
    from fastrl.replay import ReplayBuffer
    from fastrl.run.stopwatch import Stopwatch
    from fastrl.runner import replay_config_for

    section = off_policy_section(config)
    device = torch.device(config.resolved_device())
    learner = algorithm(config.algo).learner_for(config, envs.single_observation_space,
                                                 envs.single_action_space, device)
    replay = ReplayBuffer(replay_config_for(config, envs, section.gamma, 1 << 30), device)
    actions = _random_actions(envs, device)
    replay.add(envs.reset(seed=config.seed))
    for i in range(-(-section.learning_starts // envs.num_envs)):
        obs, reward, terminated, truncated, _ = envs.step(actions[i % len(actions)])
        replay.add(obs, actions[i % len(actions)], reward, terminated, truncated)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    clock = Stopwatch(OFF_POLICY_STAGES)

    def body() -> int:
        learner_step(replay, learner, section.batch_size, generator, config.replay.prioritized, clock)
        return 1

    return body


def _end_to_end(config: RunConfig, steps_after_fill: float) -> tuple[float, dict[str, float]]:
    """The training loop's env steps/s after learning starts, and its mean per-stage ms there."""
    per_iteration = config.env.num_envs
    interval = max(per_iteration, int(steps_after_fill / 5) // per_iteration * per_iteration)
    start = -(-off_policy_section(config).learning_starts // interval) * interval  # the first row after the fill
    return _loop_rate(config, interval, start, start + 5 * interval, OFF_POLICY_STAGES)


def _loop_rate(config: RunConfig, interval: int, start: int, stop: int,
               stages: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """Run the training loop to ``stop`` env steps, logging every ``interval``; the median env steps/s of its
    log rows after ``start`` and the mean per-stage ms there."""
    from fastrl.log import METRICS, read_jsonl
    from fastrl.runner import train

    with tempfile.TemporaryDirectory() as tmp:
        run = dataclasses.replace(config, run_dir=Path(tmp) / "run", log_interval=interval,
                                  total_env_steps=stop + interval)  # stop_at ends it first: no final eval
        train(run, stop_at=stop)
        rows = [r for r in read_jsonl(Path(tmp) / "run" / METRICS) if r["env_steps"] > start]
    sps = statistics.median(r["sps"] for r in rows)
    stage_ms = {s: statistics.mean(r[f"ms_{s}"] for r in rows if f"ms_{s}" in r) for s in stages}
    return sps, stage_ms


# ---------------------------------------------------------------------------------------------------------
# PPO / A2C
# ---------------------------------------------------------------------------------------------------------


def ppo_bench_config(bench: TrainBenchConfig, name: str) -> RunConfig:
    """The preset as measured: the bench's device and threads, its learner options, no side outputs."""
    config = with_learner_options(preset(name, bench.env), bench.learner_options)
    return dataclasses.replace(config, device=bench.device, torch_threads=bench.torch_threads or config.torch_threads,
                               tensorboard=False, progress=False, eval_interval=0, checkpoint_interval=0)


def measure_ppo(bench: TrainBenchConfig, name: str) -> list[dict]:
    from fastrl.algos.ppo.loop import env_options
    from fastrl.envs.base import cpu_cores
    from fastrl.run.envs import make_env

    config = ppo_bench_config(bench, name)
    threads_before = torch.get_num_threads()
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    try:
        # env-only and envpool-raw: the envs at their fastest here, on the engine's own threads (one per env, at
        # most one per core) unless the env options set them; the loop may give them fewer (async collection
        # leaves the acting thread a core: fastrl.algos.ppo.loop.async_env_threads).
        loop_options = env_options(config)
        envs = make_env(config, config.env.num_envs, config.seed,
                        **{k: v for k, v in loop_options.items() if k != "num_threads"})
        config, choices = resolve_run(config, tuple(envs.single_observation_space.shape))
        c = config.ppo
        batch_size = envs.batch_size
        own_threads = min(config.env.num_envs, cpu_cores())
        threads = config.env.make_options().get("num_threads") or own_threads
        loop_threads = (config.env.make_options() | loop_options).get("num_threads") or own_threads
        try:
            env_sps, env_cpu = _timed_cpu(_env_body(envs), bench.seconds, envs.device)
            learner, rollout = _ppo_learner_and_rollout(envs, config)
            learner_sps, learner_cpu = _timed_cpu(_ppo_learner_body(learner, rollout), bench.seconds, envs.device)
            with learner.acting():
                act_sps, act_cpu = _timed_cpu(_ppo_act_body(learner, rollout, batch_size), bench.seconds / 2,
                                              envs.device)
        finally:
            envs.close()
        raw_sps = None
        if envs.backend == "envpool":
            from fastrl.benchmarks.envs import _action_pool, _timed, raw_loop

            actions = _action_pool(envs.single_action_space, config.env.num_envs, np.random.default_rng(0))
            body, close = raw_loop("envpool", config.env.id, config.env.num_envs, batch_size, threads, actions)
            try:
                raw_sps = _timed(body, bench.seconds)
            finally:
                close()
        end_to_end, stage_ms = _ppo_end_to_end(config, bench.seconds * min(env_sps, learner_sps))
        compared = {}
        if bench.compare:  # last: the other learners (and torch.compile's) must not disturb the figures above
            envs = make_env(config, config.env.num_envs, config.seed,
                            **{k: v for k, v in loop_options.items() if k != "num_threads"})
            try:
                compared = _compare_learners(envs, config, bench)
            finally:
                envs.close()
    finally:
        torch.set_num_threads(threads_before)

    mode = f"async{batch_size}" if batch_size < config.env.num_envs else "sync"
    case = f"{name}/{config.env.id}/n{config.env.num_envs}/{mode}/{config.device}"
    torch_threads = config.torch_threads or threads_before
    common = {"preset": name, "env_id": config.env.id, "num_envs": config.env.num_envs, "num_steps": c.num_steps,
              "epochs": c.epochs, "minibatches": c.minibatches, "bf16": c.bf16, "channels_last": c.channels_last,
              "env_threads": loop_threads, "env_only_threads": threads, "batch_size": batch_size,
              "torch_threads": torch_threads,
              "act_threads": c.act_threads or torch_threads,
              "hardware_choices": {choice.field: choice.reason for choice in choices}}
    bound = min(env_sps, learner_sps)
    serial = 1.0 / (1.0 / env_sps + 1.0 / learner_sps)
    # What the machine allows at all: every env step costs the CPU time of its stepping, its forward pass and
    # its share of the update, which no schedule (however overlapped, with or without policy lag) spreads over
    # more than the machine's cores.
    cores = cpu_cores()
    ceiling = cores / (env_cpu + act_cpu + learner_cpu)
    # The share of the loop's own wall time spent learning (GAE + update), from its stage timers: the same
    # ratio as ratio_vs_bound, but immune to load that changes between the separate measurements.
    rollout_ms = 1e3 * c.num_steps * config.env.num_envs / end_to_end
    learning_share = (stage_ms["update"] + stage_ms["advantages"]) / rollout_ms
    rows = [
        records.record("train", case, "fastrl", "env_steps_per_s", end_to_end, "1/s",
                       ratio_vs_bound=end_to_end / bound, ratio_vs_serial=end_to_end / serial,
                       ratio_vs_ceiling=end_to_end / ceiling, learning_share=learning_share, **common),
        records.record("train", case, "env-only", "env_steps_per_s", env_sps, "1/s", cpu_us_per_step=1e6 * env_cpu,
                       **common),
        records.record("train", case, "learner-only", "env_steps_per_s", learner_sps, "1/s",
                       cpu_us_per_step=1e6 * learner_cpu, **common),
        records.record("train", case, "act-only", "env_steps_per_s", act_sps, "1/s", cpu_us_per_step=1e6 * act_cpu,
                       **common),
        records.record("train", case, "env+learner", "env_steps_per_s", serial, "1/s", **common),
        records.record("train", case, "cpu-ceiling", "env_steps_per_s", ceiling, "1/s", cores=cores,
                       ratio_vs_bound=ceiling / bound, **common),
        records.record("train", case, "learner-only", "samples_per_s", learner_sps * c.epochs, "1/s", **common),
    ]
    if raw_sps is not None:
        rows.append(records.record("train", case, "envpool-raw", "env_steps_per_s", raw_sps, "1/s", **common))
    for k, part in enumerate(("learner-only", "act-only") if compared else ()):
        base = compared[""][k]
        for options, rates in compared.items():
            label = options or "preset"
            extra = {"ratio_vs_preset": rates[k] / base} if options else {}
            rows.append(records.record("train", case, f"{part}[{label}]", "env_steps_per_s", rates[k], "1/s",
                                       rounds=bench.compare_rounds, **extra, **common))
    rows += [records.record("train", case, "fastrl", f"ms_{stage}", ms, "ms", **common)
             for stage, ms in stage_ms.items()]
    return rows


def _env_only(envs, seconds: float, seed: int | None = None) -> float:
    """Env steps/s of the envs alone, random actions; async: both halves in flight, each sent as it lands."""
    return _timed(_env_body(envs, seed), seconds, envs.device)


def _env_body(envs, seed: int | None = None) -> Callable[[], int]:
    """One env step (sync) or one half landing and sent again (async) with random actions: its env steps."""
    actions = _random_actions(envs, envs.device)
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


def _ppo_learner_and_rollout(envs, config: RunConfig):
    """A fresh PPO learner and one rollout its policy collected from ``envs``."""
    from fastrl.algos.ppo.learner import learner_for
    from fastrl.envs.base import torch_dtype
    from fastrl.rollout import Collector, Rollout
    from fastrl.run.stopwatch import Stopwatch

    device = torch.device(config.resolved_device())
    c = config.ppo
    learner = learner_for(config, envs.single_observation_space, envs.single_action_space, device)
    rollout = Rollout(c.num_steps, envs.num_envs, tuple(envs.single_observation_space.shape),
                      torch_dtype(envs.single_observation_space), learner.action_shape, learner.action_dtype, device)
    collector = Collector(envs, rollout, lambda info: None, Stopwatch(("env", "act", "store")))
    collector.begin(envs.reset(seed=config.seed))
    learner.begin_rollout(c.num_steps, envs.num_envs)
    with learner.acting():
        collector.collect(learner.act)
    return learner, rollout


def _ppo_learner_body(learner, rollout) -> Callable[[], int]:
    """``PPO.learn`` (GAE, then the epochs of minibatch updates) on the same rollout: its env steps."""
    def body() -> int:
        learner.learn(rollout, rollout.rewards, updates_total=1 << 30)
        return rollout.num_steps * rollout.num_envs

    return body


#: policy forward passes per learner and round of ``--compare`` (about a tenth of a ppo-atari rollout's)
COMPARE_ACTS = 32


def _compare_learners(envs, config: RunConfig, bench: TrainBenchConfig) -> dict[str, tuple[float, float]]:
    """(learner-only, act-only) env steps/s of the preset's learner ('') and of one learner per ``bench.compare``
    option set, each with its own rollout of ``envs``: in each of ``compare_rounds`` rounds every learner in turn
    learns once and acts ``COMPARE_ACTS`` times (in its acting context), so that the drift of a shared machine
    hits them alike. Each learner's first ``learn`` and act (where torch.compile compiles) are not timed."""
    parts = {}
    for options in ("", *bench.compare):
        learner, rollout = _ppo_learner_and_rollout(envs, with_learner_options(config, tuple(options.split())))
        act = _ppo_act_body(learner, rollout, envs.batch_size)
        parts[options] = (learner, _ppo_learner_body(learner, rollout), _repeated(act, COMPARE_ACTS))
        parts[options][1]()
        with learner.acting():
            act()
    steps = {key: [0, 0] for key in parts}
    seconds = {key: [0.0, 0.0] for key in parts}
    for _ in range(bench.compare_rounds):
        for key, (learner, learn, acts) in parts.items():
            for k, run in enumerate((learn, acts)):
                _synchronize(envs.device)
                start = time.perf_counter()
                with learner.acting() if k else contextlib.nullcontext():
                    steps[key][k] += run()
                _synchronize(envs.device)
                seconds[key][k] += time.perf_counter() - start
    return {key: (steps[key][0] / seconds[key][0], steps[key][1] / seconds[key][1]) for key in parts}


def _repeated(body: Callable[[], int], times: int) -> Callable[[], int]:
    """``body`` called ``times`` times: the sum of its counts."""
    return lambda: sum(body() for _ in range(times))


def _ppo_act_body(learner, rollout, batch_size: int) -> Callable[[], int]:
    """The policy's forward pass for ``batch_size`` envs, as collection calls it (inside ``learner.acting()``,
    which the caller enters: its threads and autocast): its env steps."""
    ids = torch.arange(batch_size, device=rollout.obs.device) if batch_size < rollout.num_envs else None
    step = itertools.count()

    def body() -> int:
        t = next(step) % rollout.num_steps
        learner.act(rollout.obs[t, :batch_size], t, ids)
        return batch_size

    return body


def _ppo_end_to_end(config: RunConfig, steps: float) -> tuple[float, dict[str, float]]:
    """The training loop's env steps/s after its first log row (warm-up), and its mean per-stage ms there."""
    from fastrl.algos import algorithm

    per_rollout = config.ppo.num_steps * config.env.num_envs
    interval = max(per_rollout, int(steps / 5) // per_rollout * per_rollout)
    return _loop_rate(config, interval, interval, 6 * interval, algorithm("ppo").stages)


def main(argv: list[str] | None = None, prog: str = "fastrl bench train") -> int:
    if argv is not None and _algo_flag(argv) == "a3c":  # Hogwild workers: throughput against their number
        from fastrl.benchmarks import train_a3c

        return train_a3c.main(argv, prog=f"{prog} --algo a3c")
    from fastrl.train_cli import report_error

    bench = tyro.cli(TrainBenchConfig, args=argv, prog=prog)
    rows: list[dict] = []
    try:
        _check_compare(bench)
        for name in bench.presets():
            rows += measure(bench, name)
            if bench.profile:
                print(f"trace written to {write_trace(bench, name)}")
    except ConfigError as err:  # a preset, option or flag that does not fit: one line, not a traceback
        return report_error(prog, err)
    records.print_table(rows, title="fastrl bench train",
                        extra_columns=("ratio_vs_bound", "ratio_vs_serial", "ratio_vs_ceiling", "ratio_vs_preset",
                                       "ratio_vs_idle", "learning_share"))
    path = bench.json or (records.default_path("train") if bench.save else None)
    if path is not None:
        records.write_records(path, rows, records.run_meta(bench))
        print(f"records written to {path}")
    return 0


def write_trace(bench: TrainBenchConfig, name: str) -> Path:
    """A trace of the preset's loop as measured (its bench config), over a few iterations after the fill
    (off-policy: 10 env steps, 20 after the first update) or the first two rollouts (PPO: 2 rollouts)."""
    from fastrl.runner import train
    from fastrl.trace import StepTrace

    config = _measured_config(bench, name)
    if config.algo == "ppo":
        per_iteration, skip, active = config.ppo.num_steps * config.env.num_envs, 2, 2
    else:
        per_iteration, active = config.env.num_envs, 10
        skip = -(-off_policy_section(config).learning_starts // per_iteration) + 20
    path = records.default_path(f"traces/train-{name}-{config.env.id}").with_suffix(".json.gz")
    stop = (skip + active + 1) * per_iteration
    trace = StepTrace(path, skip=skip, active=active)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run = dataclasses.replace(config, run_dir=Path(tmp) / "run", log_interval=stop,
                                      total_env_steps=stop + per_iteration)
            train(run, stop_at=stop, trace=trace)
    finally:
        trace.close()
    if not trace.written:
        raise RuntimeError(f"the trace of {name} was not written: the loop ended before its traced iterations")
    return path


def _check_compare(bench: TrainBenchConfig) -> None:
    """``--compare`` is for PPO presets, with option sets that are fields of their learner: refused before any
    measurement otherwise (minutes in, a typo would end the run)."""
    if not bench.compare:
        return
    if bench.compare_rounds < 1:
        raise ConfigError(f"--compare-rounds must be >= 1, got {bench.compare_rounds}")
    for name in bench.presets():
        config = preset(name, bench.env)
        if config.algo != "ppo":
            raise ConfigError(f"--compare holds PPO learner options against each other; preset {name!r} is "
                              f"{config.algo}")
        for options in bench.compare:
            with_learner_options(config, tuple(options.split()), flag="--compare")


def _algo_flag(argv: list[str]) -> str | None:
    """The value of ``--algo`` in ``argv`` (``--algo a3c`` or ``--algo=a3c``), or None."""
    for i, arg in enumerate(argv):
        if arg == "--algo" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--algo="):
            return arg.split("=", 1)[1]
    return None
