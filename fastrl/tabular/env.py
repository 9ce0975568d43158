"""Sampling a ``TabularMDP`` as an environment: first states and steps for a batch of independent agents.

The sampled methods (Monte-Carlo, TD) see the MDP only through this, one transition at a time, like an agent;
the tables stay the specification they are tested against. A step takes tensors of any shape (one entry per
independent run or episode), so R runs advance together with a fixed number of tensor ops per step.
"""

from __future__ import annotations

import torch

from fastrl.tabular.mdp import TabularMDP


class TabularEnv:
    """Draws from an MDP's start distribution and transitions with one ``torch.Generator``."""

    def __init__(self, mdp: TabularMDP, generator: torch.Generator):
        self.mdp, self.generator = mdp, generator
        # inverse-CDF sampling: s' is the first state whose cumulative probability exceeds a uniform draw
        self._start_cdf = mdp.start.cumsum(0)
        self._transition_cdf = mdp.transitions.cumsum(-1)
        # a deterministic MDP (both gridworlds here) needs no draw: s' is read from a table, several times faster
        self._next_state = mdp.transitions.argmax(-1) if bool(mdp.transitions.max(-1).values.eq(1).all()) else None

    def _draw(self, cdf: torch.Tensor) -> torch.Tensor:
        u = torch.rand(cdf.shape[:-1], dtype=cdf.dtype, generator=self.generator)
        # a row's last entry may round to just below 1; clamp so a draw above it still lands in the table
        return (u.unsqueeze(-1) >= cdf).sum(-1).clamp_(max=cdf.shape[-1] - 1)

    def reset(self, shape: tuple[int, ...] | int) -> torch.Tensor:
        """First states S_0, int64 of ``shape``."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return self._draw(self._start_cdf.expand(*shape, -1))

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(S_{t+1}, R_{t+1}, terminated) for (S_t, A_t), each of the shape of ``states``."""
        if self._next_state is not None:
            next_states = self._next_state[states, actions]
        else:
            next_states = self._draw(self._transition_cdf[states, actions])
        return next_states, self.mdp.rewards[states, actions], self.mdp.terminal[next_states]
