"""DDPG, TD3 and D4PG declared once (one learner, three names): presets, checks, learner and loop."""

from __future__ import annotations

import dataclasses

from fastrl.algos.base import Algorithm, lazy
from fastrl.config import DDPG_VARIANTS, ConfigError, DDPGConfig, EnvConfig, ReplayConfig, RunConfig
from fastrl.config.replay import check_replay_fits


def _td3_mujoco() -> RunConfig:
    """TD3 as Fujimoto et al. (2018) and their reference code: actor and twin critics of 256-256 units, Adam
    3e-4, batch 256, gamma 0.99, tau 0.005, exploration N(0, 0.1), target smoothing N(0, 0.2) clipped to ±0.5,
    the actor and targets updated every 2 critic updates, 25k uniformly random steps first, one update per env
    step, a 1M replay; 8 envpool envs instead of 1 (8 updates after each step of the 8)."""
    return RunConfig(
        algo="td3", env=EnvConfig(id="HalfCheetah-v5", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=1_000_000),
        ddpg=DDPGConfig(gamma=0.99, batch_size=256, replay_ratio=1.0, learning_starts=25_000, actor_lr=3e-4,
                        critic_lr=3e-4, tau=0.005, exploration="gaussian", exploration_noise=0.1, policy_delay=2,
                        target_noise=0.2, target_noise_clip=0.5, hidden=(256, 256)),
        total_env_steps=1_000_000, log_interval=10_000, checkpoint_interval=100_000, eval_interval=50_000,
        eval_episodes=10, torch_threads=1)


def _ddpg_mujoco() -> RunConfig:
    """DDPG as re-tuned by Fujimoto et al. (2018, "OurDDPG"): td3-mujoco without TD3's three changes (one
    critic, no target smoothing, the actor and targets updated after every critic update)."""
    return dataclasses.replace(_td3_mujoco(), algo="ddpg")


def _d4pg_mujoco() -> RunConfig:
    """D4PG (Barth-Maron et al. 2018) with Acme's settings: a 51-atom categorical critic, 5-step returns, Adam
    1e-4 for both networks, batch 256, exploration N(0, 0.3), hard target copies every 100 updates, gradient
    norms clipped to 40; one update per env step, 8 envpool envs. The support [-200, 1400] covers
    HalfCheetah's discounted returns (rewards up to ~12 per step); other envs may want their own --v-min/--v-max."""
    return RunConfig(
        algo="d4pg", env=EnvConfig(id="HalfCheetah-v5", num_envs=8, backend="envpool"),
        replay=ReplayConfig(capacity=1_000_000, n_step=5),
        ddpg=DDPGConfig(gamma=0.99, batch_size=256, replay_ratio=1.0, learning_starts=25_000, actor_lr=1e-4,
                        critic_lr=1e-4, max_grad_norm=40.0, target_update="hard", target_period=100,
                        exploration="gaussian", exploration_noise=0.3, atoms=51, v_min=-200.0, v_max=1400.0,
                        hidden=(256, 256)),
        total_env_steps=1_000_000, log_interval=10_000, checkpoint_interval=100_000, eval_interval=50_000,
        eval_episodes=10, torch_threads=1)


def _td3_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool) with TD3 made small for a CPU: 64-64 networks, Adam 1e-3, batch 128, tau 0.01,
    exploration N(0, 0.2), 1k random steps, one update per env step of 4 envs, for 12k env steps.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="td3", env=EnvConfig(id="Pendulum-v1", num_envs=4, backend="envpool"),
        replay=ReplayConfig(capacity=100_000),
        ddpg=DDPGConfig(gamma=0.99, batch_size=128, replay_ratio=1.0, learning_starts=1_000, actor_lr=1e-3,
                        critic_lr=1e-3, tau=0.01, exploration_noise=0.2, policy_delay=2, target_noise=0.2,
                        target_noise_clip=0.5, hidden=(64, 64)),
        total_env_steps=12_000, log_interval=2_000, eval_interval=2_000, eval_episodes=20, torch_threads=1)


def _d4pg_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool) with D4PG made small for a CPU: 64-64 networks, a 51-atom support on [-800, 0]
    (Pendulum's rewards lie in [-16.3, 0]), 3-step returns, Adam 1e-3, batch 128, exploration N(0, 0.2), 1k
    random steps, one update per env step of 4 envs, for 8k env steps.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="d4pg", env=EnvConfig(id="Pendulum-v1", num_envs=4, backend="envpool"),
        replay=ReplayConfig(capacity=100_000, n_step=3),
        ddpg=DDPGConfig(gamma=0.99, batch_size=128, replay_ratio=1.0, learning_starts=1_000, actor_lr=1e-3,
                        critic_lr=1e-3, tau=0.005, exploration_noise=0.2, atoms=51, v_min=-800.0, v_max=0.0,
                        hidden=(64, 64)),
        total_env_steps=8_000, log_interval=2_000, eval_interval=2_000, eval_episodes=20, torch_threads=1)


def check_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium
    import numpy as np

    name = config.algo.upper()
    if not isinstance(action_space, gymnasium.spaces.Box) or len(action_space.shape) != 1:
        raise ConfigError(f"{where}: {name} needs a flat continuous (Box) action space, but {config.env.id} has "
                          f"{action_space}; for discrete actions use dqn or ppo")
    low, high = action_space.low, action_space.high
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ConfigError(f"{where}: {name} scales its actions to the space's bounds, but {config.env.id} has "
                          f"{action_space}; expected finite bounds with low < high in every dimension")
    shape = tuple(observation_space.shape or ())
    if not isinstance(observation_space, gymnasium.spaces.Box) or len(shape) == 3:
        raise ConfigError(f"{where}: {name}'s actor and critics are MLPs on vector observations, but "
                          f"{config.env.id} observes {observation_space}")


ALGORITHM = Algorithm(
    names=DDPG_VARIANTS,
    sections=("ddpg", "replay"),
    presets={"td3-mujoco": _td3_mujoco, "ddpg-mujoco": _ddpg_mujoco, "d4pg-mujoco": _d4pg_mujoco,
             "td3-pendulum": _td3_pendulum, "d4pg-pendulum": _d4pg_pendulum},
    check_run=lambda config: check_replay_fits(config, config.ddpg),
    check_env=check_env,
    learner_for=lazy("fastrl.algos.ddpg.learner:learner_for"),
    evaluation_policy=lazy("fastrl.algos.ddpg.learner:evaluation_policy"),
    train=lazy("fastrl.algos.ddpg.learner:train"),
)
