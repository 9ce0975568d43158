"""A3C and async Q-learning declared once: presets, checks, and the supervisor of their Hogwild workers."""

from __future__ import annotations

from fastrl.algos.asynchronous.checks import check_run
from fastrl.algos.base import Algorithm, lazy
from fastrl.config import A3CConfig, ConfigError, EnvConfig, RunConfig, preset
from fastrl.config.torso import torso_fits


def _a3c_atari() -> RunConfig:
    """A3C FF on Atari as the paper: 16 workers, t_max 5, shared RMSProp lr 7e-4 (alpha 0.99, eps 0.1) annealed
    to 0, entropy 0.01, gradient-norm clip 40; one envpool env per worker on one thread (stacked 84x84 frames,
    episodic life, clipped rewards); Nature CNN torso. Not trained to a score here: 16 workers want 16 cores
    (``fastrl bench train --algo a3c`` measures a worker's rate)."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Pong-v5", num_envs=1, backend="envpool",
                      options=("episodic_life=true", "reward_clip=true", "num_threads=1")),
        a3c=A3CConfig(method="a3c", workers=16, t_max=5, optimizer="rmsprop", lr=7e-4, anneal_lr=True,
                      rmsprop_alpha=0.99, optim_eps=0.1, entropy_coef=0.01, value_coef=0.5, max_grad_norm=40.0,
                      network="nature_cnn"),
        total_env_steps=20_000_000, log_interval=50_000, checkpoint_interval=1_000_000, eval_interval=1_000_000,
        eval_episodes=5, torch_threads=1)


def _a3c_catch() -> RunConfig:
    """bsuite's Catch (native, torch) with 2 workers: A3C FF with a small MLP, t_max 10 (an episode is 9
    steps), shared RMSProp 2e-3 annealed to 0 over 80k env steps, entropy 0.05. With lr 1e-3 constant and
    entropy 0.01, greedy returns swung between 0.6 and 1.0 to the end (seed 1 ended at 0.64 after 40k steps).
    Over 50k env steps a slow start sometimes met an lr already annealed low: one CI run ended at 0.64 while
    the machine was busy; with 80k, runs with a core kept busy reached 1.0 by 32k and stayed there.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Catch-v0", num_envs=1, backend="native"),
        a3c=A3CConfig(method="a3c", workers=2, t_max=10, optimizer="rmsprop", lr=2e-3, anneal_lr=True,
                      rmsprop_alpha=0.99, optim_eps=1e-5, entropy_coef=0.05, value_coef=0.5, max_grad_norm=40.0,
                      network="mlp", hidden=(64,)),
        total_env_steps=80_000, log_interval=2_000, eval_episodes=50, torch_threads=1)


def _a3c_cartpole() -> RunConfig:
    """CartPole-v1 (native, torch) with 2 workers: A3C FF, 64x64 MLP, t_max 20, shared RMSProp lr 2e-3 (alpha
    0.99, eps 0.1, as the paper) annealed to 0 over 200k env steps, entropy 0.01, gradient-norm clip 40.
    RMSProp with a large eps because, once the policy solves the env, its advantages fall to ~0 while the
    gradient stays large: shared Adam (eps 1e-8, clip 1) normalized every update to a full-size step driven by
    the entropy bonus, so the solved policy drifted, collapsed and recovered, and where the annealed lr froze it
    decided the final score (final evaluations as low as 161); eps 0.1 in the square root keeps the steps of
    small gradients small. V has its own MLP (``fastrl.algos.asynchronous.network``): through a shared torso,
    V's errors (returns reach ~100 at γ 0.99) moved the policy's features, and seed 1's greedy policy fell
    from 500 to 33-110 mid-run in two of three runs and ended one at 302 (a CI run ended it at 430); with its
    own MLP, five seeds held 500 from ~140k env steps to the end of a 400k budget; at 200k (the lr annealed
    twice as fast) they reach 500 by 80-160k and end there (profiles/cpu-amd-epyc-2c/). At lr 7e-4 or 1e-3 it
    learned too slowly. Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="CartPole-v1", num_envs=1, backend="native"),
        a3c=A3CConfig(method="a3c", workers=2, t_max=20, optimizer="rmsprop", lr=2e-3, anneal_lr=True,
                      rmsprop_alpha=0.99, optim_eps=0.1, entropy_coef=0.01, value_coef=0.5, max_grad_norm=40.0,
                      network="mlp", hidden=(64, 64)),
        total_env_steps=200_000, log_interval=10_000, eval_episodes=20, torch_threads=1)


def _nstepq_catch() -> RunConfig:
    """bsuite's Catch (native, torch) with 2 workers: async n-step Q-learning (t_max 5), shared target network
    refreshed every 500 global steps, epsilon annealed over 5k global steps, for 30k env steps.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="a3c",
        env=EnvConfig(id="Catch-v0", num_envs=1, backend="native"),
        a3c=A3CConfig(method="nstep_q", workers=2, t_max=5, optimizer="rmsprop", lr=1e-3, anneal_lr=False,
                      rmsprop_alpha=0.99, optim_eps=1e-5, max_grad_norm=40.0, network="mlp", hidden=(64,),
                      target_period=500, epsilon_decay_steps=5_000),
        total_env_steps=30_000, log_interval=2_000, eval_episodes=50, torch_threads=1)


def default_config(env: str | None = None) -> RunConfig:
    """``fastrl train a3c`` without a preset: a3c-atari (on ``env``) for Atari ids, else the paper's settings
    on ``env`` with an MLP torso."""
    from fastrl.envs.atari import atari_game

    if env is None or atari_game(env):
        return preset("a3c-atari", env)
    return RunConfig(algo="a3c", env=EnvConfig(id=env, num_envs=1), a3c=A3CConfig(network="mlp"), torch_threads=1)


def check_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete) or action_space.start != 0:
        raise ConfigError(f"{where}: A3C and async Q-learning here need a discrete action space 0..n-1, but "
                          f"{config.env.id} has {action_space}")
    torso_fits(config.a3c, observation_space, config.env.id, where)


ALGORITHM = Algorithm(
    names=("a3c",),
    sections=("a3c",),
    presets={"a3c-atari": _a3c_atari, "a3c-catch": _a3c_catch, "a3c-cartpole": _a3c_cartpole,
             "nstepq-catch": _nstepq_catch},
    check_run=check_run,
    check_env=check_env,
    learner_for=lazy("fastrl.algos.a3c.workers:learner_for"),
    supervise=lazy("fastrl.algos.a3c.workers:train_run"),
    evaluate_run=lazy("fastrl.algos.a3c.workers:evaluate_run"),
    default_config=default_config,
)
