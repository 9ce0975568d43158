"""PPO and A2C declared once: presets, checks, and where the learner and its rollout loop live."""

from __future__ import annotations

import dataclasses

from fastrl.algos.base import Algorithm, lazy
from fastrl.config import ATARI_OPTIONS, ConfigError, EnvConfig, PPOConfig, RunConfig
from fastrl.config.torso import network_for, torso_fits


def _ppo_atari() -> RunConfig:
    """PPO on Atari as in the PPO paper and CleanRL's ppo_atari: 8 envs x 128 steps, 4 epochs of 4 minibatches,
    Adam 2.5e-4 annealed to 0, clip 0.1 (ratio and value), entropy 0.01, GAE(0.99, 0.95), grad norm 0.5.
    Collected async (half the envs step while the policy acts for the other half: the same transitions).

    Precision, memory format and compile are left to ``auto`` (``fastrl.hardware``): bfloat16 autocast and
    channels-last where the device computes bf16 natively, float32 where torch would emulate it (forcing bf16 on
    an AVX2-only CPU made this preset many times slower than CleanRL's). profiles/*/train-ppo-options.json holds
    what each option measured on each CPU.

    Threads: the update runs on all cores (torch_threads 0), the policy acts on one (act_threads 1) while the
    env engine steps the other half on the rest (fastrl.algos.ppo.loop.async_env_threads). On a machine shared with
    other busy processes, --torch-threads 1 is safer: a two-thread update that loses a core waits at every
    OpenMP barrier (profiles/*/train-ppo.json)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Pong-v5", num_envs=8, backend="envpool", options=ATARI_OPTIONS),
        ppo=PPOConfig(num_steps=128, gamma=0.99, gae_lambda=0.95, epochs=4, minibatches=4, clip_coef=0.1,
                      clip_value_loss=True, value_coef=0.5, entropy_coef=0.01, optimizer="adam", lr=2.5e-4,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, async_envs=True, act_threads=1,
                      eval_deterministic=False, network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_240, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=0,
    )


def _ppo_atari_fast() -> RunConfig:
    """PPO on Atari tuned for wall clock on a GPU workstation: 64 async envs x 64 steps (4096 transitions per
    rollout), 4 epochs of 8 minibatches, on the GPU where there is one; otherwise ppo-atari. Not yet measured
    on a GPU."""
    base = _ppo_atari()
    return dataclasses.replace(
        base, env=dataclasses.replace(base.env, num_envs=64), ppo=dataclasses.replace(base.ppo, num_steps=64, minibatches=8),
        device="auto", torch_threads=0, log_interval=40_960)


def _ppo_mujoco() -> RunConfig:
    """PPO for MuJoCo as in the PPO paper and CleanRL's ppo_continuous_action: 2048 transitions per rollout
    (8 envs x 256 steps), 10 epochs of 32 minibatches, Adam 3e-4 annealed, clip 0.2, no entropy bonus,
    diagonal Gaussian with state-independent log std, observations and rewards normalized."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="HalfCheetah-v4", num_envs=8, backend="envpool"),
        ppo=PPOConfig(num_steps=256, gamma=0.99, gae_lambda=0.95, epochs=10, minibatches=32, clip_coef=0.2,
                      clip_value_loss=True, value_coef=0.5, entropy_coef=0.0, optimizer="adam", lr=3e-4,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, normalize_observations=True,
                      normalize_rewards=True, network="mlp", hidden=(64, 64)),
        total_env_steps=1_000_000, log_interval=10_240, eval_episodes=10, torch_threads=1,
    )


def _ppo_cartpole() -> RunConfig:
    """CartPole-v1 (native, torch): the RL Zoo's PPO recipe (8 envs x 32 steps, 20 epochs of the whole rollout,
    Adam 1e-3 annealed, clip 0.2, GAE(0.98, 0.8), no entropy bonus) with a 64x64 MLP, for 60k env steps (the
    Zoo's 100k took twice the time and ended alike).
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="CartPole-v1", num_envs=8, backend="native"),
        ppo=PPOConfig(num_steps=32, gamma=0.98, gae_lambda=0.8, epochs=20, minibatches=1, clip_coef=0.2,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.0, optimizer="adam", lr=1e-3,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, network="mlp", hidden=(64, 64)),
        total_env_steps=60_000, log_interval=5_120, eval_episodes=20, torch_threads=1,
    )


def _ppo_catch() -> RunConfig:
    """bsuite's Catch (native, torch): PPO with a small MLP.
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Catch-v0", num_envs=8, backend="native"),
        ppo=PPOConfig(num_steps=16, gamma=0.99, gae_lambda=0.95, epochs=4, minibatches=2, clip_coef=0.2,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, optimizer="adam", lr=1e-3,
                      anneal_lr=False, optim_eps=1e-5, max_grad_norm=0.5, network="mlp", hidden=(64,)),
        total_env_steps=20_000, log_interval=1_024, eval_episodes=50, torch_threads=1,
    )


def _ppo_pendulum() -> RunConfig:
    """Pendulum-v1 (envpool): ppo-mujoco (normalized observations and rewards, 8 envs x 256 steps, 10 epochs of
    32 minibatches, Adam annealed) with Pendulum's shorter horizon (gamma 0.95) and a larger step (lr 1e-3), for
    50k env steps. Its learning test asserts its final evaluation (tests/algos/)."""
    base = _ppo_mujoco()
    return dataclasses.replace(base, env=EnvConfig(id="Pendulum-v1", num_envs=8, backend="envpool"),
                               ppo=dataclasses.replace(base.ppo, gamma=0.95, lr=1e-3), total_env_steps=50_000,
                               log_interval=8_192, eval_episodes=20)


def _ppo_minatar() -> RunConfig:
    """MinAtar (native, torch; Breakout by default, any of the five games by --env): PureJaxRL's PPO for gymnax's
    MinAtar (luchris429/purejaxrl, examples/brax_minatar.ipynb: 64 envs x 128 steps, 4 epochs of 8 minibatches,
    Adam 5e-3 annealed to 0 (eps 1e-5), clip 0.2 on the ratio and the value, entropy 0.01, value 0.5,
    GAE(0.99, 0.95), grad norm 0.5) with MinAtar's own torso (``network="minatar"``: conv 16x3x3, 128 units,
    shared by the policy and value heads, as MinAtar's actor-critic) in place of PureJaxRL's 64x64 MLPs.
    gymnax-blines (RobertTLange/gymnax-blines, agents/*-MinAtar/ppo.yaml) trains the same 64 x 128 rollouts with
    a constant lr 5e-4, gamma 0.999 and 256x256 MLPs.

    The budget is 250k env steps (both sources train 10M; the lr anneals over whichever budget the run has):
    about 40 s on two idle CPU cores, and Breakout's final greedy evaluation is already 8-11 (a random policy
    scores 0.4). Its learning test asserts it (tests/algos/); ``--total-env-steps 10000000`` is the sources'
    protocol. The loop runs on the device (``fastrl.device_rollout``; one CUDA graph per rollout on a GPU)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="MinAtar/Breakout-v1", num_envs=64, backend="native"),
        ppo=PPOConfig(num_steps=128, gamma=0.99, gae_lambda=0.95, epochs=4, minibatches=8, clip_coef=0.2,
                      clip_value_loss=True, value_coef=0.5, entropy_coef=0.01, optimizer="adam", lr=5e-3,
                      anneal_lr=True, optim_eps=1e-5, max_grad_norm=0.5, network="minatar"),
        total_env_steps=250_000, log_interval=16_384, eval_episodes=32, torch_threads=1,
    )


def _a2c_atari() -> RunConfig:
    """A2C on Atari as OpenAI Baselines' (Mnih et al. 2016, synchronous): 16 envs x 5 steps, one gradient step
    per rollout, RMSProp 7e-4 (alpha 0.99, eps 1e-5) annealed, n-step returns (lambda 1), no clipping, no
    advantage normalization, entropy 0.01, grad norm 0.5. Threads as ppo-atari, which measured faster than one
    torch thread throughout with two env threads (profiles/cpu-amd-epyc-2c/design-measurements.md)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Pong-v5", num_envs=16, backend="envpool", options=ATARI_OPTIONS),
        ppo=PPOConfig(num_steps=5, gamma=0.99, gae_lambda=1.0, epochs=1, minibatches=1, clip_coef=0.0,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, normalize_advantages=False,
                      optimizer="rmsprop", lr=7e-4, anneal_lr=True, optim_eps=1e-5, rmsprop_alpha=0.99,
                      max_grad_norm=0.5, async_envs=True, act_threads=1, eval_deterministic=False,
                      network="nature_cnn"),
        total_env_steps=10_000_000, log_interval=10_000, checkpoint_interval=1_000_000, eval_episodes=10,
        torch_threads=0,
    )


def _a2c_catch() -> RunConfig:
    """bsuite's Catch (native, torch): A2C as a2c-atari (16 envs x 5 steps, one RMSProp step per rollout, n-step
    returns, no clipping, no advantage normalization) with a small MLP and a larger step (lr 3e-3, constant).
    Its learning test asserts its final evaluation (tests/algos/)."""
    return RunConfig(
        algo="ppo", env=EnvConfig(id="Catch-v0", num_envs=16, backend="native"),
        ppo=PPOConfig(num_steps=5, gamma=0.99, gae_lambda=1.0, epochs=1, minibatches=1, clip_coef=0.0,
                      clip_value_loss=False, value_coef=0.5, entropy_coef=0.01, normalize_advantages=False,
                      optimizer="rmsprop", lr=3e-3, anneal_lr=False, optim_eps=1e-5, rmsprop_alpha=0.99,
                      max_grad_norm=0.5, network="mlp", hidden=(64,)),
        total_env_steps=30_000, log_interval=1_040, eval_episodes=50, torch_threads=1,
    )


def check_run(config: RunConfig) -> None:
    ppo, num_envs = config.ppo, config.env.num_envs
    batch = ppo.num_steps * num_envs
    if batch % ppo.minibatches:
        raise ConfigError(f"--minibatches {ppo.minibatches} does not divide the rollout's {batch} transitions "
                          f"(--num-steps {ppo.num_steps} x --num-envs {num_envs}); expected a divisor of {batch}")
    if ppo.async_envs and num_envs % 2:
        raise ConfigError(f"--async-envs steps half the envs while the policy acts for the other half: "
                          f"--num-envs {num_envs} must be even")


def check_env(config: RunConfig, observation_space, action_space, where: str) -> None:
    import gymnasium
    import numpy as np

    if isinstance(action_space, gymnasium.spaces.Discrete):
        if action_space.start != 0:
            raise ConfigError(f"{where}: actions start at {action_space.start}; PPO expects actions 0..n-1")
    elif isinstance(action_space, gymnasium.spaces.Box):
        if len(action_space.shape) != 1:
            raise ConfigError(f"{where}: PPO's Gaussian policy needs a flat Box action space, but "
                              f"{config.env.id} has shape {action_space.shape}")
        if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
            raise ConfigError(f"{where}: PPO clips continuous actions to the space's bounds, but {config.env.id} "
                              f"has unbounded actions {action_space}")
    else:
        raise ConfigError(f"{where}: PPO needs a Discrete or a Box action space, but {config.env.id} has "
                          f"{action_space}")
    torso_fits(config.ppo, observation_space, config.env.id, where)
    shape = tuple(observation_space.shape or ())
    if config.ppo.normalize_observations and network_for(config.ppo, shape) == "nature_cnn":
        raise ConfigError(f"{where}: --normalize-observations is for vector observations; the Nature CNN "
                          f"scales frames by 1/255 itself")


ALGORITHM = Algorithm(
    names=("ppo",),
    sections=("ppo",),
    presets={"ppo-atari": _ppo_atari, "ppo-atari-fast": _ppo_atari_fast, "ppo-mujoco": _ppo_mujoco,
             "ppo-cartpole": _ppo_cartpole, "ppo-catch": _ppo_catch, "ppo-pendulum": _ppo_pendulum,
             "ppo-minatar": _ppo_minatar,
             "a2c-atari": _a2c_atari, "a2c-catch": _a2c_catch},
    check_run=check_run,
    check_env=check_env,
    learner_for=lazy("fastrl.algos.ppo.learner:learner_for"),
    evaluation_policy=lazy("fastrl.algos.ppo.learner:evaluation_policy"),
    train=lazy("fastrl.algos.ppo.loop:train"),
    stages=("env", "act", "store", "rollout", "advantages", "update"),
    env_options=lazy("fastrl.algos.ppo.loop:env_options"),
    distributed=True,
    resolve_hardware=lazy("fastrl.hardware:resolve_ppo_run"),
)
