"""The one batched environment interface: ``VecEnv``, on torch tensors, sync and async.

Conventions (shared by every backend, so a learner is written once):

- ``reset() -> obs`` and ``step(actions) -> (obs, reward, terminated, truncated, info)`` act on all
  ``num_envs`` envs. Async backends also offer ``send(actions, env_ids)`` / ``recv() -> (obs, reward,
  terminated, truncated, env_ids, info)``, acting on ``batch_size`` envs at a time (``batch_size <
  num_envs``): the envs in ``env_ids`` step in the background while the caller works on another batch.
- Tensors live on ``device``: ``obs`` keeps the observation space's dtype, except that float64 becomes
  float32 (uint8 frames stay uint8); ``reward`` float32; ``terminated`` and ``truncated`` bool; ``env_ids``
  int64. Actions are accepted as torch tensors (any device) or numpy arrays.
- **Autoreset is next-step** (envpool's and gymnasium's default): after a step that returns
  ``terminated | truncated`` for env i, the *next* step of env i ignores its action and returns the first
  observation of a new episode, with reward 0 and both flags False. A learner that stores transitions skips
  the one that starts at a done step.
- ``info`` holds per-env episode statistics of the *full game*, also when episodic life is on:
  ``episode_end`` (bool: a full game ended at this step), ``episode_return`` (float32: its undiscounted,
  unclipped return) and ``episode_length`` (int32: its length in agent steps); the last two are valid where
  ``episode_end`` is True. Backends may add more keys (``lives`` for Atari).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium
import numpy as np
import torch


class Step(NamedTuple):
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict[str, Any]


class AsyncStep(NamedTuple):
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    env_ids: torch.Tensor
    info: dict[str, Any]


class VecEnv:
    """Base class of every backend adapter. Subclasses set the attributes below in ``__init__``."""

    env_id: str
    backend: str
    num_envs: int
    batch_size: int
    device: torch.device
    single_observation_space: gymnasium.Space
    single_action_space: gymnasium.Space
    #: where True (the default), actions are checked before they reach the engine; see envs.checks.
    check_actions: bool = True

    @property
    def is_async(self) -> bool:
        return self.batch_size < self.num_envs

    @property
    def observation_space(self) -> gymnasium.Space:
        return gymnasium.vector.utils.batch_space(self.single_observation_space, self.num_envs)

    @property
    def action_space(self) -> gymnasium.Space:
        return gymnasium.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        raise NotImplementedError

    def step(self, actions: torch.Tensor | np.ndarray) -> Step:
        raise NotImplementedError

    def send(self, actions: torch.Tensor | np.ndarray, env_ids: torch.Tensor | np.ndarray) -> None:
        raise NotImplementedError(
            f"{self.backend} backend for {self.env_id} has no async mode (send/recv); use step()")

    def recv(self) -> AsyncStep:
        raise NotImplementedError(
            f"{self.backend} backend for {self.env_id} has no async mode (send/recv); use step()")

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        mode = f"async batch {self.batch_size}" if self.is_async else "sync"
        return f"{type(self).__name__}({self.env_id!r}, num_envs={self.num_envs}, {mode}, device={self.device})"


def torch_dtype(space: gymnasium.Space) -> torch.dtype:
    """The tensor dtype for observations of ``space`` (float64 is delivered as float32)."""
    dtype = np.dtype(space.dtype)
    if dtype == np.float64:
        return torch.float32
    return torch.from_numpy(np.zeros((), dtype=dtype)).dtype


class EpisodeTracker:
    """Full-game return and length per env, for engines that report only per-step rewards.

    Fed the raw (unclipped) reward and a game-over flag per stepped env, it returns the ``episode_end``,
    ``episode_return`` and ``episode_length`` arrays for those envs, and restarts the counters of the envs
    whose game ended.
    """

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)

    def update(self, env_ids: np.ndarray, raw_reward: np.ndarray, game_over: np.ndarray, started: np.ndarray):
        """``started`` marks envs whose step was an autoreset (a new game's first observation)."""
        self.returns[env_ids] = np.where(started, 0.0, self.returns[env_ids] + raw_reward)
        self.lengths[env_ids] = np.where(started, 0, self.lengths[env_ids] + 1)
        ended = game_over.astype(bool)
        return ended, self.returns[env_ids].astype(np.float32), self.lengths[env_ids].astype(np.int32)
