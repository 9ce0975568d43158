"""REINFORCE declared once: its presets, its checks, and where its learner and loop live."""

from __future__ import annotations

from fastrl.algos.base import Algorithm, lazy
from fastrl.algos.spaces import require_discrete_actions
from fastrl.config import EnvConfig, ReinforceConfig, RunConfig


def _reinforce_cartpole() -> RunConfig:
    """CartPole-v1 (native, torch): REINFORCE with a learned baseline, 8 envs, one Adam step (lr 1e-2) per 4
    episodes, for 40k env steps (one step per 8 episodes ended lower on one seed of three). Its learning test
    asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="reinforce", env=EnvConfig(id="CartPole-v1", num_envs=8, backend="native"),
        reinforce=ReinforceConfig(gamma=0.99, episodes_per_update=4, baseline=True, lr=1e-2, baseline_lr=1e-2,
                                  horizon=600, hidden=(32,)),
        total_env_steps=40_000, log_interval=5_000, eval_episodes=20, torch_threads=1,
    )


def _reinforce_catch() -> RunConfig:
    """bsuite's Catch (native, torch): REINFORCE without a baseline, 8 envs, one Adam step per 8 episodes.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="reinforce", env=EnvConfig(id="Catch-v0", num_envs=8, backend="native"),
        reinforce=ReinforceConfig(gamma=0.99, episodes_per_update=8, baseline=False, lr=1e-2, horizon=20,
                                  hidden=(64,)),
        total_env_steps=20_000, log_interval=2_000, eval_episodes=50, torch_threads=1,
    )


ALGORITHM = Algorithm(
    names=("reinforce",),
    sections=("reinforce",),
    presets={"reinforce-cartpole": _reinforce_cartpole, "reinforce-catch": _reinforce_catch},
    check_run=lambda config: None,
    check_env=lambda config, observation_space, action_space, where: require_discrete_actions(
        config, action_space, where, "REINFORCE here has a categorical policy"),
    learner_for=lazy("fastrl.algos.reinforce.learner:learner_for"),
    evaluation_policy=lazy("fastrl.algos.reinforce.learner:evaluation_policy"),
    train=lazy("fastrl.algos.reinforce.learner:train"),
    stages=("env", "act", "store", "update"),
)
