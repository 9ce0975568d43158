"""``fastrl bench train --algo td3``: DDPG / TD3 / D4PG training env steps/s beside its two bounds, in one process
(the measurements of one preset; ``fastrl.benchmarks.train`` runs the command).

    fastrl bench train --algo td3                          (td3-mujoco: HalfCheetah-v5)
    fastrl bench train --algo td3 --env Hopper-v5 --seconds 5
    fastrl bench train --preset td3-pendulum d4pg-pendulum

For each preset (on its env, or on ``--env``), three measurements of ``--seconds`` each, as for DQN in
``fastrl.benchmarks.train``:

1. **env-only**: the same envs (``make_env``, same count and backend) stepped with pre-drawn random actions
   within the bounds, on the learner's device: the rate the envs allow;
2. **learner-only**: the learner's gradient updates (sample a batch, critic update, every ``policy_delay``
   an actor and target update, new priorities where prioritized) on a replay filled by random play:
   updates/s, and the env-step rate they allow at the preset's update-to-data ratio (updates/s ÷ replay_ratio);
3. **end-to-end**: the real training loop (``fastrl.runner.train``) from an empty replay, timed after learning
   starts, with its per-stage milliseconds (env, act, replay_add, sample, update).

``ratio_vs_bound`` = end-to-end ÷ min(env-only, learner-only bound) is what the loop's own plumbing (acting,
stepping, storing) costs on top of the slower of the two. The loop steps the envs, then updates (nothing
overlapped), so the rate it can reach is the serial **env+learner** = 1 ÷ (1 ÷ env-only + 1 ÷ learner-only);
``ratio_vs_serial`` = end-to-end ÷ that is what acting and storing cost beyond the two. On a CPU the learner
is the bound by far (TD3's 256-256 networks: ~7 ms an update on one core, the envs ~0.1 ms a step), so the
two ratios nearly agree. Throughput, not learning, is measured:
``learning_starts`` is cut to a short fill and the replay capacity capped (``--capacity``), neither of which
changes the cost of a step.
"""

from __future__ import annotations

from fastrl import records
from fastrl.benchmarks.train import TrainBenchConfig, bench_config, off_policy_rates


def measure(bench: TrainBenchConfig, name: str) -> list[dict]:
    """The records of one preset: end-to-end, env-only, learner-only and the loop's stage times."""
    config = bench_config(bench, name)
    env_sps, updates_per_s, end_to_end, stage_ms, torch_threads = off_policy_rates(bench, config)
    bound = updates_per_s / config.ddpg.replay_ratio

    c = config.ddpg
    case = f"{name}/{config.env.id}/n{config.env.num_envs}/{config.device}"
    common = {"preset": name, "algo": config.algo, "env_id": config.env.id, "num_envs": config.env.num_envs,
              "replay_ratio": c.replay_ratio, "batch_size": c.batch_size, "hidden": list(c.hidden),
              "torch_threads": torch_threads}
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
