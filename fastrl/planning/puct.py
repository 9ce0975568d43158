"""What the batched search and its reference share: the game and evaluator interfaces, the prior, root noise
and the visit-count policy.

**A game** (``Rules``, e.g. ``fastrl.envs.connect_four.RULES``) is a two-player zero-sum game on canonical
states (the player to move is always "+1"): ``legal(states) -> bool [B, A]``, ``play(states, actions) ->
(next_states, reward, done)`` with the reward of the player who moved, ``finished(states) -> bool [B]``,
``random_moves(states, generator)``, ``observe(states)`` (a network's input) and ``from_observation(obs)``
(its inverse), ``num_actions``, ``state_shape``, ``max_moves``.

**An evaluator** ``evaluate(states) -> (logits [b, A], value [b])`` gives prior logits and the value of each
state for its player to move, in [-1, 1]: a network's (p, v) = f_θ(s), or ``rollout_evaluator``'s uniform prior
and random playout. Values are kept in float64 by both searches, so that the reference (Python floats) and
the batched search (torch float64) do the same IEEE operations in the same order and give the same visits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch

Evaluator = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class Rules(Protocol):
    name: str
    num_actions: int
    state_shape: tuple[int, ...]
    max_moves: int

    def legal(self, states: torch.Tensor) -> torch.Tensor: ...

    def play(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...

    def finished(self, states: torch.Tensor) -> torch.Tensor: ...

    def random_moves(self, states: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...


def priors(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """P(s, ·): the softmax of the logits over the legal actions, float64, 0 elsewhere (and 0 everywhere in a
    state without legal actions, which the search never expands from)."""
    p = logits.double().masked_fill(~legal, float("-inf")).softmax(dim=-1)
    return torch.where(legal, p, 0.0)


def standard_gamma(alpha: float, shape: tuple[int, ...], generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """Gamma(α, 1) draws (float64) from ``generator``, by Marsaglia and Tsang's method (2000): accept
    d v for v = (1 + c x)³, x ~ N(0, 1), when log u < x²/2 + d − d v + d log v (d = α − 1/3, c = 1/√(9d));
    for α < 1, Gamma(α) = Gamma(α + 1) u^(1/α). (torch's own sampler takes no generator.)"""
    boost = alpha < 1
    d = (alpha + 1.0 if boost else alpha) - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    f64 = dict(dtype=torch.float64, device=device)
    out = torch.zeros(shape, **f64)
    pending = torch.ones(shape, dtype=torch.bool, device=device)
    while bool(pending.any()):  # each round accepts over 95% of the draws still pending
        x = torch.randn(shape, generator=generator, **f64)
        u = torch.rand(shape, generator=generator, **f64)
        v = (1.0 + c * x) ** 3
        accept = pending & (v > 0) & (u.log() < 0.5 * x * x + d - d * v + d * v.clamp_min(1e-300).log())
        out = torch.where(accept, d * v, out)
        pending &= ~accept
    if boost:
        out = out * torch.rand(shape, generator=generator, **f64) ** (1.0 / alpha)
    return out


def dirichlet_noise(legal: torch.Tensor, alpha: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """η ~ Dir(α) over each row's legal actions (float64, 0 on illegal ones): Gamma(α) draws, normalized."""
    draws = standard_gamma(alpha, tuple(legal.shape), generator, legal.device).masked_fill_(~legal, 0.0)
    return draws / draws.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)


def with_noise(prior: torch.Tensor, noise: torch.Tensor | None, fraction: float) -> torch.Tensor:
    """The root prior with exploration noise: (1 − ε) P + ε η (AlphaZero: ε = 0.25)."""
    if noise is None:
        return prior
    return (1.0 - fraction) * prior + fraction * noise


def visit_policy(visits: torch.Tensor, temperature: float) -> torch.Tensor:
    """π(a) ∝ N(a)^(1/τ) over the root's visit counts [B, A]; τ = 0: all mass on the most visited action
    (the first of equals)."""
    counts = visits.double()
    if temperature == 0:
        return torch.nn.functional.one_hot(counts.argmax(dim=-1), counts.shape[-1]).double()
    weights = (counts / counts.amax(dim=-1, keepdim=True)).pow(1.0 / temperature)  # scaled: no overflow
    return weights / weights.sum(dim=-1, keepdim=True)


def sample_actions(policy: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.multinomial(policy, 1, generator=generator).squeeze(1)


def check_roots(rules: Rules, roots: torch.Tensor, where: str) -> torch.Tensor:
    """The legal actions of the roots [B, A]; refuses a root of the wrong shape or a finished game."""
    if tuple(roots.shape[1:]) != tuple(rules.state_shape):
        raise ValueError(f"{where}: roots have shape {tuple(roots.shape)}; expected [B, "
                         f"{', '.join(map(str, rules.state_shape))}] {rules.name} states")
    legal = rules.legal(roots)
    over = rules.finished(roots) | ~legal.any(dim=1)
    if bool(over.any()):
        raise ValueError(f"{where}: root {int(over.nonzero()[0, 0])} is a finished game; expected positions "
                         f"with a move to play")
    return legal


def network_evaluator(net: torch.nn.Module, rules) -> Evaluator:
    """(p, v) = f_θ(s): ``net(rules.observe(states)) -> (logits, value)``, without gradients."""

    def evaluate(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return net(rules.observe(states))

    return evaluate


def rollout_evaluator(rules: Rules, generator: torch.Generator | None = None) -> Evaluator:
    """Pure MCTS's evaluator: a uniform prior and the outcome of one uniformly random playout (for the
    player to move), batched over the states: one ply of every unfinished game per iteration."""

    def evaluate(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = states.shape[0]
        value = torch.zeros(batch, dtype=torch.float64, device=states.device)
        sign = torch.ones_like(value)  # +1 while the player to move at the leaf moves
        over = rules.finished(states)
        for _ in range(rules.max_moves):
            if bool(over.all()):
                break
            states, reward, done = rules.play(states, rules.random_moves(states, generator))
            value = torch.where(over, value, sign * reward)
            over = over | done
            sign = -sign
        return torch.zeros(batch, rules.num_actions, device=states.device), value

    return evaluate
