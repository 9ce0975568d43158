"""PPO's and A2C's training loop on a ``fastrl.runner.Run``: collect a rollout, learn from it, tick.

Per iteration: the collector steps the envs ``num_steps`` times with the policy (``fastrl.rollout``; async
envs step one half while the policy acts for the other; native envs through ``fastrl.device_rollout``, which
never reads the device and on CUDA replays the whole rollout as one CUDA graph), rewards are scaled where
``normalize_rewards``, and ``PPO.learn`` computes advantages (GAE) and runs the epochs of minibatch updates.
The env options (native envs without the action check; async collection's halves and engine threads) come
from ``env_options``.
"""

from __future__ import annotations

import math

import torch

from fastrl.algos.common import RunningMeanStd
from fastrl.algos.ppo.learner import PPO, learner_for
from fastrl.config import ConfigError
from fastrl.device_rollout import DeviceCollector
from fastrl.envs.base import torch_dtype
from fastrl.rollout import Collector, Rollout


class RewardScaler:
    """gymnasium's NormalizeReward over a rollout: r / sqrt(Var[G] + 1e-8), clipped to ±10, where G is each
    env's running discounted return (G ← γ G + r, zeroed after an episode's end) and Var its running variance
    over the valid steps (all-reduced over ranks, so that they scale alike)."""

    def __init__(self, num_envs: int, gamma: float, device: torch.device, world_size: int = 1):
        self.gamma, self.world_size = gamma, world_size
        self.returns = torch.zeros(num_envs, device=device)
        self.stats = RunningMeanStd(()).to(device)
        self._discounted = self._scaled = None

    def scale(self, rollout: Rollout) -> torch.Tensor:
        if self._scaled is None:
            self._discounted, self._scaled = torch.empty_like(rollout.rewards), torch.empty_like(rollout.rewards)
        ended = rollout.terminated | rollout.truncated
        for t in range(rollout.num_steps):
            self.returns.mul_(self.gamma).add_(rollout.rewards[t])
            self._discounted[t].copy_(self.returns)
            self.returns.masked_fill_(ended[t], 0.0)
        self.stats.update(self._discounted.flatten(), rollout.valid.flatten(), all_reduce=self.world_size > 1)
        scale = torch.rsqrt(self.stats.var.float() + 1e-8)
        return torch.mul(rollout.rewards, scale, out=self._scaled).clamp_(-10.0, 10.0)

    def state_dict(self) -> dict:
        return {"returns": self.returns, "stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict, envs_continue: bool) -> None:
        self.stats.load_state_dict(state["stats"])
        if envs_continue:
            self.returns.copy_(state["returns"])


def env_options(config) -> dict:
    """Native envs: ``check_actions=False`` unless the env options set it (the rollout stays on the device,
    ``fastrl.device_rollout``: the check reads the device at every step, and the policy's actions are in range
    by construction). Async collection: ``batch_size = num_envs / 2``, and unless the env options set
    ``num_threads``, the engine's threads (``async_env_threads``); refused where the backend has no async
    mode."""
    from fastrl.envs.native import NATIVE_ENVS

    backend = config.env.backend
    native = backend == "native" or (backend == "auto" and config.env.id in NATIVE_ENVS)
    if not config.ppo.async_envs:
        return {"check_actions": False} if native and "check_actions" not in config.env.make_options() else {}
    if native or backend == "gymnasium":
        shown = "native" if backend == "auto" else backend
        raise ConfigError(f"--async-envs needs an env engine with an async mode (envpool, ale), but {config.env.id} "
                          f"runs on the {shown} backend here; drop --async-envs (or choose --backend envpool)")
    options = {"batch_size": config.env.num_envs // 2}
    if "num_threads" not in config.env.make_options():
        options["num_threads"] = async_env_threads(config.env.num_envs)
    return options


def async_env_threads(num_envs: int) -> int:
    """Env threads for async collection: one per env of the half in flight, leaving one core to the main
    thread, which acts for the other half meanwhile (at least one thread).

    More threads than cores - 1 only compete with the acting thread, which the scheduler then time-slices
    against the policy's forward passes: ppo-atari's rollout was collected faster with one env thread than
    with two on 2 cores (profiles/cpu-amd-epyc-2c/design-measurements.md).
    """
    from fastrl.envs.base import cpu_cores

    return max(1, min(num_envs // 2, cpu_cores() - 1))


def train(run) -> PPO:
    """Train a PPO / A2C learner on ``run``'s envs until the run's step budget is spent; returns the learner."""
    config = run.config.ppo
    envs = run.envs
    learner = learner_for(run.config, envs.single_observation_space, envs.single_action_space, run.device,
                          rank=run.rank, world_size=run.world_size)
    rollout = Rollout(config.num_steps, envs.num_envs, run.observation_shape, torch_dtype(envs.single_observation_space),
                      learner.action_shape, learner.action_dtype, run.device)
    if envs.backend == "native":
        graphs = run.device.type == "cuda" and not envs.check_actions and not learner.config.bf16
        collector = DeviceCollector(envs, rollout, run.after_step, run.stopwatch, graphs=graphs)
    else:
        collector = Collector(envs, rollout, run.after_step, run.stopwatch)
    scaler = (RewardScaler(envs.num_envs, config.gamma, run.device, run.world_size)
              if config.normalize_rewards else None)
    saved = run.checkpoint.state["loop"] if run.checkpoint is not None else None
    if saved is not None:
        learner.load_state_dict(saved["learner"])
    if run.world_size > 1:
        learner.broadcast_from_rank0()
    obs = run.start()
    if run.envs_restored:
        collector.load_state_dict(saved["collector"], obs)
    else:
        collector.begin(obs)
    if scaler is not None and saved is not None:
        scaler.load_state_dict(saved["rewards"], envs_continue=run.envs_restored)
    per_rollout = config.num_steps * envs.num_envs * run.world_size
    updates_total = max(1, math.ceil(run.config.total_env_steps / per_rollout))

    def state() -> dict:
        return {"learner": learner.state_dict(), "obs": rollout.next_obs, "collector": collector.state_dict(),
                "rewards": None if scaler is None else scaler.state_dict()}

    running = run.env_steps < run.config.total_env_steps
    while running:
        learner.begin_rollout(config.num_steps, envs.num_envs)
        with learner.acting():
            collector.collect(learner.act)
        rewards = rollout.rewards if scaler is None else scaler.scale(rollout)
        learner.learn(rollout, rewards, updates_total, run.stopwatch)
        running = run.tick(learner, state)
    return learner
