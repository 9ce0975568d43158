"""A finite MDP given by its tables, and the exact value of a policy on it.

Tables rather than a step function, because the tabular methods are checked against what the tables imply:
dynamic programming reads them directly, and the value of a policy is the solution of one linear system
(Sutton & Barto, eq. 4.4 in matrix form), which is the specification every sampled method is tested against.

Episodic tasks are MDPs with absorbing terminal states: a terminal state moves to itself with reward 0 under
every action, so ``v(terminal) = 0`` and the discount ``gamma = 1`` is allowed whenever the policy ends its
episodes with probability 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TabularMDP:
    """The tables of a finite MDP with ``S`` states and ``A`` actions (float64, on the CPU)."""

    name: str
    transitions: torch.Tensor
    """P[s, a, s'] = p(s' | s, a); each P[s, a] sums to 1"""
    rewards: torch.Tensor
    """R[s, a] = r(s, a), the expected reward of taking a in s (the reward itself in the MDPs here, where it is
    a function of (s, a))"""
    terminal: torch.Tensor
    """[S] bool: the absorbing states that end an episode"""
    start: torch.Tensor
    """[S] the distribution of the first state of an episode"""
    grid_shape: tuple[int, int]
    """(rows, columns): state s is the cell (s // columns, s % columns)"""
    action_names: tuple[str, ...]

    def __post_init__(self):
        S, A = self.num_states, self.num_actions
        shapes = {"transitions": (S, A, S), "rewards": (S, A), "terminal": (S,), "start": (S,)}
        for field, shape in shapes.items():
            if tuple(getattr(self, field).shape) != shape:
                raise ValueError(f"{self.name}: {field} has shape {tuple(getattr(self, field).shape)}; "
                                 f"expected {shape}")
        sums = self.transitions.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums)):
            s, a = divmod(int((sums - 1).abs().argmax()), A)
            raise ValueError(f"{self.name}: P[{s}, {a}] sums to {float(sums[s, a])}; expected 1")
        stays = self.transitions[self.terminal][:, :, self.terminal].sum(-1)
        if not (torch.allclose(stays, torch.ones_like(stays)) and self.rewards[self.terminal].eq(0).all()):
            raise ValueError(f"{self.name}: a terminal state must move to a terminal state with reward 0")

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[1]

    def cell(self, state: int) -> tuple[int, int]:
        return divmod(state, self.grid_shape[1])


def policy_model(mdp: TabularMDP, policy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(P_pi [S, S'], r_pi [S]): the Markov reward process a policy pi[s, a] = pi(a | s) induces."""
    return torch.einsum("sa,sat->st", policy, mdp.transitions), (policy * mdp.rewards).sum(-1)


def exact_value(mdp: TabularMDP, policy: torch.Tensor, gamma: float) -> torch.Tensor:
    """v_pi [S], the solution of v = r_pi + gamma P_pi v, by ``torch.linalg.solve``.

    The system is solved over the non-terminal states only, with v = 0 on the terminal ones: with gamma = 1
    the full (I - P_pi) is singular (a terminal row is all zeros), while the non-terminal block is invertible
    exactly when the policy ends every episode with probability 1.
    """
    P_pi, r_pi = policy_model(mdp, policy)
    live = ~mdp.terminal
    system = torch.eye(int(live.sum()), dtype=P_pi.dtype) - gamma * P_pi[live][:, live]
    value = torch.zeros(mdp.num_states, dtype=P_pi.dtype)
    value[live] = torch.linalg.solve(system, r_pi[live])
    return value


def uniform_policy(mdp: TabularMDP) -> torch.Tensor:
    """pi(a | s) = 1 / A: the equiprobable random policy of S&B Example 4.1."""
    return torch.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions, dtype=torch.float64)
