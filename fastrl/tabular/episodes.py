"""Whole episodes for Monte-Carlo methods: B episodes generated side by side, their returns, their first visits.

Episodes are padded tensors [T, B] (T: the longest episode of the batch) with a ``valid`` mask, so that the
Monte-Carlo averages are sums over tensors instead of Python loops over steps and episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fastrl.tabular.env import TabularEnv


@dataclass(frozen=True)
class Episodes:
    """S_t, A_t and R_{t+1} of B episodes, [T, B]; past an episode's end ``valid`` is False and R is 0."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    valid: torch.Tensor


def generate_episodes(env: TabularEnv, act: Callable[[torch.Tensor], torch.Tensor], batch: int,
                      max_steps: int = 100_000) -> Episodes:
    """Run ``batch`` episodes from the start distribution to their terminal states; ``act`` maps S_t [B] to
    A_t [B]. Raises when one has not ended after ``max_steps`` (a policy that never reaches a terminal)."""
    states = env.reset(batch)
    alive = ~env.mdp.terminal[states]
    steps: list[tuple[torch.Tensor, ...]] = []
    while bool(alive.any()):
        if len(steps) == max_steps:
            raise RuntimeError(f"{env.mdp.name}: {int(alive.sum())} of {batch} episodes still running after "
                               f"{max_steps} steps; the policy may never reach a terminal state")
        actions = act(states)
        next_states, rewards, terminated = env.step(states, actions)
        steps.append((states, actions, torch.where(alive, rewards, 0.0), alive))
        alive = alive & ~terminated
        states = next_states
    if not steps:
        raise RuntimeError(f"{env.mdp.name}: every episode started in a terminal state")
    return Episodes(*(torch.stack(column) for column in zip(*steps, strict=True)))


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = R_{t+1} + gamma G_{t+1} [T, B], computed backwards from G_T = 0 (S&B eq. 3.9)."""
    returns = torch.zeros_like(rewards)
    following = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = rewards[t] + gamma * following
        returns[t] = following
    return returns


def first_visits(keys: torch.Tensor, valid: torch.Tensor, num_keys: int) -> torch.Tensor:
    """[T, B] bool: step t is the first of its episode with this key (a state, or a state-action pair index)."""
    T, B = keys.shape
    time = torch.arange(T).unsqueeze(1).expand(T, B)
    never = torch.full((B, num_keys), T, dtype=torch.int64)  # T: no visit
    episode = torch.arange(B).expand(T, B)
    first_time = never.scatter_reduce(1, keys.T, torch.where(valid, time, T).T, reduce="amin")
    return valid & (time == first_time[episode, keys])
