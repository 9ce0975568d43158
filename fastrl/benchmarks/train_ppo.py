"""``fastrl bench train`` for PPO / A2C presets.

Four measurements, the envs of the preset's count and batch size (async halves where the
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
env-only, on the engine's own threads: a little dearer per step than the loop's fewer threads, so the
ceiling errs a little low (the ``env_only_threads`` and ``env_threads`` fields of each record say which).
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
import time
from collections.abc import Callable

import numpy as np
import torch

from fastrl import records
from fastrl.benchmarks.train_config import TrainBenchConfig, with_learner_options
from fastrl.benchmarks.train_timing import env_body, loop_rate, synchronize, timed_cpu
from fastrl.config import RunConfig, preset
from fastrl.hardware import resolve_run


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
        config, choices = resolve_run(config, envs.single_observation_space, envs.single_action_space)
        c = config.ppo
        batch_size = envs.batch_size
        own_threads = min(config.env.num_envs, cpu_cores())
        threads = config.env.make_options().get("num_threads") or own_threads
        loop_threads = (config.env.make_options() | loop_options).get("num_threads") or own_threads
        try:
            env_sps, env_cpu = timed_cpu(env_body(envs), bench.seconds, envs.device)
            learner, rollout = _ppo_learner_and_rollout(envs, config)
            learner_sps, learner_cpu = timed_cpu(_ppo_learner_body(learner, rollout), bench.seconds, envs.device)
            with learner.acting():
                act_sps, act_cpu = timed_cpu(_ppo_act_body(learner, rollout, batch_size), bench.seconds / 2,
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
        end_to_end, stage_ms = ppo_end_to_end(config, bench.seconds * min(env_sps, learner_sps))
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
                synchronize(envs.device)
                start = time.perf_counter()
                with learner.acting() if k else contextlib.nullcontext():
                    steps[key][k] += run()
                synchronize(envs.device)
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


def ppo_end_to_end(config: RunConfig, steps: float) -> tuple[float, dict[str, float]]:
    """The training loop's env steps/s after its first log row (warm-up), and its mean per-stage ms there."""
    from fastrl.algos import algorithm

    per_rollout = config.ppo.num_steps * config.env.num_envs
    interval = max(per_rollout, int(steps / 5) // per_rollout * per_rollout)
    return loop_rate(config, interval, interval, 6 * interval, algorithm("ppo").stages)
