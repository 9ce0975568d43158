"""IMPALA declared once: its presets, its checks, and where its learner and loop live."""

from __future__ import annotations

from fastrl.algos.base import Algorithm, lazy
from fastrl.algos.spaces import require_discrete_actions
from fastrl.config import ATARI_OPTIONS, EnvConfig, ImpalaConfig, RunConfig
from fastrl.config.torso import torso_fits


def _impala_atari() -> RunConfig:
    """IMPALA on Atari with the paper's hyperparameters (Espeholt et al. 2018, table G.1, the shallow network's
    single-task runs): unrolls of 20, batches of 32 trajectories (4 unrolls of 8 envs), RMSProp 6e-4 (decay 0.99,
    eps 0.01) annealed to 0, entropy 0.01, baseline cost 0.5, gradient norm 40, gamma 0.99, V-trace rho-bar = 1,
    lambda 1; the Nature CNN in place of the paper's shallow network; 4 actor processes of 8 envs instead of 48
    actors."""
    return RunConfig(
        algo="impala", env=EnvConfig(id="Pong-v5", num_envs=8, backend="envpool", options=ATARI_OPTIONS),
        impala=ImpalaConfig(actors=4, unroll=20, batch_unrolls=4, slots_per_actor=2, gamma=0.99, lr=6e-4,
                            anneal_lr=True, rmsprop_alpha=0.99, optim_eps=0.01, entropy_coef=0.01, value_coef=0.5,
                            max_grad_norm=40.0, network="nature_cnn", eval_deterministic=False),
        total_env_steps=10_000_000, log_interval=10_240, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=0,
    )


def _impala_catch() -> RunConfig:
    """bsuite's Catch (native, torch): 2 actor processes of 8 envs, unrolls of 10, one unroll per update (80
    transitions), RMSProp 6e-3 annealed to 0 (eps 1e-5: the paper's 0.01 swamped Catch's small gradients, and
    94 updates of 2 x 20-step unrolls in 30k steps learned nothing), a small MLP. At a constant 3e-3 one seed
    of five ended at 0.6 (its actors' timing, and so its run, differ every time); annealed from 6e-3 over 24k
    env steps one test run in about fifteen ended below 0.9, over 32k eight seeds ended at 1.0. Its learning
    test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="impala", env=EnvConfig(id="Catch-v0", num_envs=8, backend="native"),
        impala=ImpalaConfig(actors=2, unroll=10, batch_unrolls=1, slots_per_actor=2, gamma=0.99, lr=6e-3,
                            anneal_lr=True, optim_eps=1e-5, entropy_coef=0.01, value_coef=0.5, max_grad_norm=40.0,
                            hidden=(64,)),
        total_env_steps=32_000, log_interval=3_200, eval_episodes=50, torch_threads=1,
    )


def check_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    require_discrete_actions(config, action_space, where, "IMPALA here has a categorical policy")
    torso_fits(config.impala, observation_space, config.env.id, where)


ALGORITHM = Algorithm(
    names=("impala",),
    sections=("impala",),
    presets={"impala-atari": _impala_atari, "impala-catch": _impala_catch},
    check_run=lambda config: None,
    check_env=check_env,
    learner_for=lazy("fastrl.algos.impala.learner:learner_for"),
    evaluation_policy=lazy("fastrl.algos.impala.learner:evaluation_policy"),
    train=lazy("fastrl.algos.impala.learner:train"),
    stages=("wait", "count", "update"),
)
