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

PPO / A2C presets: ``fastrl.benchmarks.train_ppo`` (its docstring gives the four measurements, the bounds
and ``--compare``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import tyro

from fastrl import records
from fastrl.algos.base import OFF_POLICY_STAGES
from fastrl.algos.offpolicy import learner_step
from fastrl.benchmarks.train_config import TrainBenchConfig, with_learner_options
from fastrl.benchmarks.train_episodic import EPISODIC, measure_episodic
from fastrl.benchmarks.train_ppo import measure_ppo, ppo_bench_config, ppo_end_to_end
from fastrl.benchmarks.train_timing import env_only, loop_rate, random_actions, timed
from fastrl.config import ALGO_FIELDS, ConfigError, RunConfig, preset
from fastrl.hardware import torch_threads


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
    algo = preset(name).algo
    if algo in EPISODIC:  # REINFORCE, NFQ: fastrl.benchmarks.train_episodic
        return measure_episodic(bench, name)
    rows = measure_ppo(bench, name) if algo == "ppo" else measure_off_policy(bench, name)
    if bench.busy_cores:
        rows.append(_busy_row(bench, name, rows[0]))
    return rows


def _busy_row(bench: TrainBenchConfig, name: str, idle: dict) -> dict:
    """The loop's end-to-end rate while ``bench.busy_cores`` other processes spin, beside the idle row."""
    from fastrl.benchmarks.busy import busy_cores

    config = _measured_config(bench, name)
    end_to_end = ppo_end_to_end if config.algo == "ppo" else _end_to_end
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

    with torch_threads(config.torch_threads) as threads:
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            env_sps = env_only(envs, bench.seconds, seed=config.seed)
            updates_per_s = _learner_only(envs, config, bench.seconds)
        finally:
            envs.close()
        bound = updates_per_s / off_policy_section(config).replay_ratio
        end_to_end, stage_ms = _end_to_end(config, bench.seconds * min(env_sps, bound))
    return env_sps, updates_per_s, end_to_end, stage_ms, threads


def off_policy_section(config: RunConfig):
    """The section with an off-policy learner's ``learning_starts``, ``batch_size`` and ``gamma``: the first of
    its algorithm's sections (DQN's, or DDPG's for the DDPG family; the replay-based measurements serve both)."""
    return getattr(config, ALGO_FIELDS[config.algo][0])


def _learner_only(envs, config: RunConfig, seconds: float) -> float:
    """Updates/s of sample + update (+ priorities) on a replay filled with ``learning_starts`` random steps."""
    return timed(_learner_body(envs, config), seconds, torch.device(config.resolved_device()))


def learner_on_filled_replay(envs, config: RunConfig):
    """An off-policy preset's learner and a replay filled with ``learning_starts`` random steps of ``envs``:
    (learner, replay, sampling generator, the learner's config section)."""
    from fastrl.algos import algorithm
    from fastrl.replay import ReplayBuffer
    from fastrl.runner import replay_config_for

    section = off_policy_section(config)
    device = torch.device(config.resolved_device())
    learner = algorithm(config.algo).learner_for(config, envs.single_observation_space,
                                                 envs.single_action_space, device)
    replay = ReplayBuffer(replay_config_for(config, envs, section.gamma, 1 << 30), device)
    actions = random_actions(envs, device)
    replay.add(envs.reset(seed=config.seed))
    for i in range(-(-section.learning_starts // envs.num_envs)):
        obs, reward, terminated, truncated, _ = envs.step(actions[i % len(actions)])
        replay.add(obs, actions[i % len(actions)], reward, terminated, truncated)
    return learner, replay, torch.Generator(device=device).manual_seed(config.seed), section


def _learner_body(envs, config: RunConfig) -> Callable[[], int]:
    """One off-policy learner step on a replay filled with ``learning_starts`` random steps of ``envs``."""
    return learner_body(*learner_on_filled_replay(envs, config), config.replay.prioritized)


def learner_body(learner, replay, generator, section, prioritized: bool) -> Callable[[], int]:
    """One step of the training loop's own ``learner_step`` (sample, update, priorities where prioritized) on
    ``learner_on_filled_replay``'s parts: 1 update."""
    from fastrl.run.stopwatch import Stopwatch

    clock = Stopwatch(OFF_POLICY_STAGES)

    def body() -> int:
        learner_step(replay, learner, section.batch_size, generator, prioritized, clock)
        return 1

    return body


def _end_to_end(config: RunConfig, steps_after_fill: float) -> tuple[float, dict[str, float]]:
    """The training loop's env steps/s after learning starts, and its mean per-stage ms there."""
    per_iteration = config.env.num_envs
    interval = max(per_iteration, int(steps_after_fill / 5) // per_iteration * per_iteration)
    start = -(-off_policy_section(config).learning_starts // interval) * interval  # the first row after the fill
    return loop_rate(config, interval, start, start + 5 * interval, OFF_POLICY_STAGES)


def main(argv: list[str] | None = None, prog: str = "fastrl bench train") -> int:
    if argv is not None and _algo_flag(argv) in ("a3c", "unreal"):  # Hogwild workers: rate against their number
        from fastrl.benchmarks import train_a3c

        return train_a3c.main(argv, prog=f"{prog} --algo {_algo_flag(argv)}")
    from fastrl.log import CountBar
    from fastrl.train_cli import report_error

    bench = tyro.cli(TrainBenchConfig, args=argv, prog=prog)
    rows: list[dict] = []
    try:
        _check_compare(bench)
        with CountBar("presets", len(bench.presets())) as bar:  # a live bar on a terminal
            for name in bench.presets():
                rows += measure(bench, name)
                bar.advance(text=f"{name} measured")
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
