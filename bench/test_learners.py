"""pytest-benchmark version of the learner side of ``fastrl bench train``: one round is one learner step of a
preset, on the same code the bench times (``fastrl.benchmarks.train``):

- off-policy presets (DQN, TD3): sample a batch, update, new priorities where prioritized, on a replay
  filled by random play;
- PPO presets: ``PPO.learn`` (GAE, then every epoch's minibatch updates) on one collected rollout, and the
  policy's forward pass for one batch of the loop's envs (in its acting context: threads, bf16).

Run ``pytest bench/test_learners.py`` (``-k ppo-atari`` for one preset; ``--benchmark-save`` /
``--benchmark-compare`` to track regressions). ``fastrl bench train`` is the finer tool: end-to-end SPS
beside these bounds, the CPU ceiling, records. Each preset runs on its own torch threads and envs.
"""

from __future__ import annotations

import pytest
import torch

from fastrl.benchmarks import timing, train_ppo
from fastrl.benchmarks import train as bench_train

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
OFF_POLICY = ("dqn-cartpole", "dqn-atari", "td3-pendulum")
ON_POLICY = ("ppo-cartpole", "ppo-atari")
SLOW = {("ppo-atari", "learn"): 3}  #: rounds for steps that take about a second here


@pytest.fixture
def preset_threads():
    """Runs a preset on its own torch threads (where it sets them) and restores the process's afterwards."""
    before = torch.get_num_threads()

    def use(config):
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)

    yield use
    torch.set_num_threads(before)


def _run(benchmark, name: str, part: str, body) -> None:
    def call():
        body()
        timing.synchronize(DEVICE)

    benchmark.extra_info.update(preset=name, part=part, device=DEVICE, torch_threads=torch.get_num_threads())
    if (name, part) in SLOW:
        benchmark.pedantic(call, rounds=SLOW[name, part], iterations=1, warmup_rounds=1)
    else:
        benchmark(call)


@pytest.mark.parametrize("name", OFF_POLICY)
def test_off_policy_update(benchmark, name, preset_threads):
    from fastrl.run.envs import make_env

    config = bench_train.bench_config(bench_train.TrainBenchConfig(device=DEVICE), name)
    preset_threads(config)
    envs = make_env(config, config.env.num_envs, config.seed)
    try:
        _run(benchmark, name, "update", bench_train._learner_body(envs, config))
    finally:
        envs.close()


@pytest.mark.parametrize("part", ["learn", "act"])
@pytest.mark.parametrize("name", ON_POLICY)
def test_ppo(benchmark, name, part, preset_threads):
    from fastrl.algos.ppo.loop import env_options
    from fastrl.run.envs import make_env

    config = train_ppo.ppo_bench_config(bench_train.TrainBenchConfig(device=DEVICE), name)
    preset_threads(config)
    options = {k: v for k, v in env_options(config).items() if k != "num_threads"}
    envs = make_env(config, config.env.num_envs, config.seed, **options)
    try:
        learner, rollout = train_ppo._ppo_learner_and_rollout(envs, config)
        if part == "learn":
            _run(benchmark, name, part, train_ppo._ppo_learner_body(learner, rollout))
        else:
            with learner.acting():
                _run(benchmark, name, part, train_ppo._ppo_act_body(learner, rollout, envs.batch_size))
    finally:
        envs.close()
