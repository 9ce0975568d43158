"""Greedy and epsilon-greedy action choice from action values Q[..., A], for any batch of rows at once.

Ties among the greedy actions are broken uniformly at random: with Q initialised to 0 every action ties at
first, and a fixed choice (the lowest index) would steer every run of an experiment the same way.
"""

from __future__ import annotations

import torch


def greedy_mask(q: torch.Tensor) -> torch.Tensor:
    """[..., A] bool: the actions that reach max_a Q[..., a]."""
    return q == q.max(-1, keepdim=True).values


def greedy(q: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """argmax_a Q[..., a], a uniformly random one among ties."""
    scores = torch.rand(q.shape, dtype=torch.float32, generator=generator)
    return torch.where(greedy_mask(q), scores, -1.0).argmax(-1)


def epsilon_greedy(q: torch.Tensor, epsilon: float, generator: torch.Generator) -> torch.Tensor:
    """With probability epsilon a uniformly random action, else a greedy one."""
    explore = torch.rand(q.shape[:-1], generator=generator) < epsilon
    random_actions = torch.randint(q.shape[-1], q.shape[:-1], generator=generator)
    return torch.where(explore, random_actions, greedy(q, generator))


def epsilon_greedy_probabilities(q: torch.Tensor, epsilon: float) -> torch.Tensor:
    """pi(a | s) [..., A] of ``epsilon_greedy``: epsilon / A on every action, plus 1 - epsilon shared by the
    greedy ones."""
    mask = greedy_mask(q).to(q.dtype)
    return epsilon / q.shape[-1] + (1 - epsilon) * mask / mask.sum(-1, keepdim=True)


def sample_actions(probabilities: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of pi(. | s) [..., A], drawn by inverse CDF."""
    u = torch.rand(probabilities.shape[:-1], dtype=probabilities.dtype, generator=generator)
    return (u.unsqueeze(-1) >= probabilities.cumsum(-1)).sum(-1).clamp_(max=probabilities.shape[-1] - 1)
