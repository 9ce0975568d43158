"""``fastrl bench train`` for the learners that run their own loops on whole episodes or unrolls: REINFORCE,
NFQ and IMPALA.

Three measurements of ``--seconds`` each, on the preset's envs (their count and backend):

1. **env-only**: the envs stepped with random actions;
2. **learner-only**: the learner's own update on episodes of random play. REINFORCE: one gradient step on
   ``episodes_per_update`` complete episodes, as the env-step rate it allows (the loop collects those episodes
   in as many env steps as they hold). NFQ: one refit (its Q iterations of batch Rprop epochs) on every
   transition of ``--fill`` env steps of random play, as pattern-epochs per second (patterns × epochs ×
   iterations ÷ time). NFQ has no env-step bound: a refit's cost grows with the batch D all run long, and the
   env steps between refits with the length of its policy's episodes. IMPALA: one V-trace update on a batch
   of ``batch_unrolls`` unrolls of random play, as the env-step rate it allows (the batch's env steps ÷ its
   time); its actors step their envs in other processes meanwhile, so its end-to-end rate may pass the serial
   bound, up to min(env-only x actors, learner-only) on enough cores;
3. **end-to-end**: the training loop (``fastrl.runner.train``) in six log rows: its median env steps/s over
   the rows after the first, and its per-stage ms. REINFORCE and NFQ: over the preset's own budget, since
   their rate changes as the policy learns (longer episodes: fewer updates per env step; NFQ: a larger D).
   IMPALA: over about ``--seconds`` at the slower of the two other rates, as PPO's (its per-update cost is
   fixed).

For REINFORCE, as for the other learners, ``ratio_vs_bound`` = end-to-end ÷ min(env-only, learner-only), and
since the loop steps and then learns (nothing overlapped), ``ratio_vs_serial`` = end-to-end ÷ (1 ÷ (1 ÷
env-only + 1 ÷ learner-only)): what acting and storing cost beyond the two.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fastrl import records
from fastrl.benchmarks.train_config import TrainBenchConfig
from fastrl.benchmarks.train_ppo import ppo_bench_config
from fastrl.benchmarks.train_timing import env_only, loop_rate, random_actions, timed
from fastrl.config import RunConfig
from fastrl.envs.base import torch_dtype
from fastrl.hardware import torch_threads

#: the learners this module measures
EPISODIC = ("reinforce", "nfq", "impala")


def measure_episodic(bench: TrainBenchConfig, name: str) -> list[dict]:
    from fastrl.algos import algorithm
    from fastrl.run.envs import make_env

    config = ppo_bench_config(bench, name)  # the bench's device and threads, its learner options, no side outputs
    with torch_threads(config.torch_threads) as threads:
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            env_sps = env_only(envs, bench.seconds, seed=config.seed)
            body = {"reinforce": _reinforce_body, "nfq": _nfq_body, "impala": _impala_body}[config.algo](
                envs, config, bench.fill)
            learner_rate = timed(body, bench.seconds, torch.device(config.resolved_device()))
        finally:
            envs.close()
        per_step = config.env.num_envs
        steps = (bench.seconds * min(env_sps, learner_rate) if config.algo == "impala"
                 else config.total_env_steps)
        interval = max(per_step, int(steps / 6) // per_step * per_step)
        end_to_end, stage_ms = loop_rate(config, interval, interval, 6 * interval, algorithm(config.algo).stages)
    case = f"{name}/{config.env.id}/n{config.env.num_envs}/{config.device}"
    section = getattr(config, config.algo)
    common = {"preset": name, "algo": config.algo, "env_id": config.env.id, "num_envs": config.env.num_envs,
              "hidden": list(section.hidden), "torch_threads": threads}
    stages = [records.record("train", case, "fastrl", f"ms_{stage}", ms, "ms", **common)
              for stage, ms in stage_ms.items()]
    env_row = records.record("train", case, "env-only", "env_steps_per_s", env_sps, "1/s", **common)
    if config.algo == "nfq":
        common["fill"] = bench.fill
        return [records.record("train", case, "fastrl", "env_steps_per_s", end_to_end, "1/s", **common), env_row,
                records.record("train", case, "learner-only", "pattern_epochs_per_s", learner_rate, "1/s",
                               **common), *stages]
    serial = 1.0 / (1.0 / env_sps + 1.0 / learner_rate)
    return [
        records.record("train", case, "fastrl", "env_steps_per_s", end_to_end, "1/s",
                       ratio_vs_bound=end_to_end / min(env_sps, learner_rate), ratio_vs_serial=end_to_end / serial,
                       **common),
        env_row,
        records.record("train", case, "learner-only", "env_steps_per_s", learner_rate, "1/s", **common),
        records.record("train", case, "env+learner", "env_steps_per_s", serial, "1/s", **common),
        *stages,
    ]


def _random_play(envs, config: RunConfig, store, stop: Callable[[], bool]) -> int:
    """Step ``envs`` with random actions into ``store`` (its ``add(obs, action, reward, next_obs, terminated,
    truncated)``) until ``stop()``; the episodes ended."""
    actions = random_actions(envs, envs.device)
    obs, episodes, k = envs.reset(seed=config.seed), 0, 0
    while not stop():
        next_obs, reward, terminated, truncated, info = envs.step(actions[k % len(actions)])
        store(obs, actions[k % len(actions)], reward, next_obs, terminated, truncated)
        episodes += int(info["episode_end"].sum())
        obs, k = next_obs, k + 1
    return episodes


def _reinforce_body(envs, config: RunConfig, fill: int) -> Callable[[], int]:
    """One REINFORCE update on ``episodes_per_update`` episodes of random play: the env steps they hold."""
    from fastrl.algos.reinforce.episodes import EpisodeBuffer
    from fastrl.algos.reinforce.learner import learner_for

    c = config.reinforce
    learner = learner_for(config, envs.single_observation_space, envs.single_action_space, envs.device)
    buffer = EpisodeBuffer(c.horizon, envs.num_envs, tuple(envs.single_observation_space.shape),
                           torch_dtype(envs.single_observation_space), envs.device)
    _random_play(envs, config, lambda obs, action, reward, next_obs, terminated, truncated: buffer.add(
        obs, action, reward, terminated, truncated), lambda: buffer.ready(c.episodes_per_update))
    batch = buffer.take(c.gamma)
    steps = batch[0].shape[0]

    def body() -> int:
        learner.update(*batch)
        return steps

    return body


def _nfq_body(envs, config: RunConfig, fill: int) -> Callable[[], int]:
    """One NFQ refit on every transition of ``fill`` env steps of random play: its pattern-epochs."""
    from fastrl.algos.nfq.learner import learner_for
    from fastrl.algos.nfq.transitions import Transitions

    c = config.nfq
    learner = learner_for(config, envs.single_observation_space, envs.single_action_space, envs.device)
    rows = -(-fill // envs.num_envs)
    data = Transitions(rows, envs.num_envs, tuple(envs.single_observation_space.shape),
                       torch_dtype(envs.single_observation_space), envs.device)
    _random_play(envs, config, data.add, lambda: data.steps == rows)
    patterns = data.patterns()
    pattern_epochs = patterns[0].shape[0] * c.epochs * c.iterations

    def body() -> int:
        learner.refit(*patterns)
        return pattern_epochs

    return body


def _impala_body(envs, config: RunConfig, fill: int) -> Callable[[], int]:
    """One IMPALA update on ``batch_unrolls`` unrolls of random play (uniform μ): the env steps they hold."""
    from fastrl.algos.impala.learner import learner_for

    c = config.impala
    learner = learner_for(config, envs.single_observation_space, envs.single_action_space, envs.device)
    actions = random_actions(envs, envs.device)
    obs = [envs.reset(seed=config.seed).clone()]
    batch = {name: [] for name in ("actions", "rewards", "terminated", "truncated")}
    for k in range(c.unroll * c.batch_unrolls):
        out = [x.clone() for x in envs.step(actions[k % len(actions)])[:4]]  # the envs reuse their buffers
        for name, value in zip(batch, (actions[k % len(actions)], *out[1:4]), strict=True):
            batch[name].append(value)
        obs.append(out[0])
    T, N = c.unroll, envs.num_envs

    def unrolls(steps: list[torch.Tensor], first: int) -> torch.Tensor:
        """Steps [k·T + first, ...) of each unroll k, laid side by side along the env dimension."""
        return torch.cat([torch.stack(steps[k * T:(k + 1) * T + first]) for k in range(c.batch_unrolls)], dim=1)

    inputs = {"obs": unrolls(obs, 1), **{name: unrolls(steps, 0) for name, steps in batch.items()}}
    inputs["behaviour_logits"] = torch.zeros((T, N * c.batch_unrolls, learner.actions), device=envs.device)
    inputs["valid"] = torch.ones((T, N * c.batch_unrolls), dtype=torch.bool, device=envs.device)

    def body() -> int:
        learner.learn(inputs, 0.0, 0.0)
        return T * N * c.batch_unrolls

    return body
