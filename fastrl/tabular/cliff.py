"""Sutton & Barto Example 6.6, cliff walking: SARSA learns the safe path, Q-learning the optimal one, and
SARSA's online return per episode is the higher of the two (Figure 6.4).

Q-learning learns the values of the greedy policy, whose best path runs along the cliff's edge, while its
epsilon-greedy behaviour sometimes steps off that edge; SARSA learns the values of the epsilon-greedy policy it
follows, for which a path a row or more away from the edge is worth more. This module runs the methods over
many independent runs, reads the greedy path each run learned, and states the comparison with confidence
intervals over runs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from fastrl.tabular.dp import action_values, value_iteration
from fastrl.tabular.mdp import TabularMDP
from fastrl.tabular.td import ControlResult, td_control
from fastrl.tabular.threads import on_one_thread


@dataclass(frozen=True)
class CliffSettings:
    """The experiment's settings; the defaults are the book's."""

    epsilon: float = 0.1
    """exploration of the epsilon-greedy behaviour policy"""
    alpha: float = 0.5
    """step size"""
    gamma: float = 1.0
    """discount (the task is episodic)"""
    episodes: int = 500
    """episodes per run"""
    runs: int = 100
    """independent runs per method, stepped together"""
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon {self.epsilon}: expected a probability in [0, 1]")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha {self.alpha}: expected a step size in (0, 1]")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma {self.gamma}: expected a discount in [0, 1]")
        for name in ("episodes", "runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)}: expected a positive count")


def run_method(mdp: TabularMDP, method: str, settings: CliffSettings) -> ControlResult:
    """``settings.runs`` runs of one method, from a random stream of its own: each method's runs are
    independent of the other's (the seed is mixed with the method's name), whatever order they run in."""
    generator = torch.Generator().manual_seed(zlib.crc32(f"{method}/{settings.seed}".encode()))
    return td_control(mdp, method, settings.gamma, settings.alpha, settings.epsilon, settings.runs,
                      settings.episodes, generator)


@on_one_thread
def greedy_path(mdp: TabularMDP, q: torch.Tensor) -> list[int]:
    """The states visited from the start by always taking argmax_a q[s, a] (the lowest action on ties) in a
    deterministic MDP, up to the terminal state or up to the first state visited twice (a greedy loop)."""
    if not bool(mdp.transitions.max(-1).values.eq(1).all()):
        raise ValueError(f"{mdp.name}: a greedy path needs deterministic transitions")
    next_state, action, terminal = mdp.transitions.argmax(-1).tolist(), q.argmax(-1).tolist(), mdp.terminal.tolist()
    path = [int(mdp.start.argmax())]
    while not terminal[path[-1]]:
        following = next_state[path[-1]][action[path[-1]]]
        if following in path:
            break
        path.append(following)
    return path


def cliff_edge(mdp: TabularMDP) -> set[int]:
    """The states beside the cliff: those other than the start from which a move costs the cliff's reward
    (the lowest in the table); the cliff's own cells count too, but no path enters them."""
    beside = (mdp.rewards == mdp.rewards.min()).any(-1) & (mdp.start == 0)
    return set(beside.nonzero().squeeze(1).tolist())


def path_kind(mdp: TabularMDP, path: list[int], optimal: list[int]) -> str:
    """'optimal': the path of the optimal policy (along the cliff's edge); 'safe': to the goal with at most
    one state on the edge (the book's safe path runs along the top row; a learned one may come down a column
    early); 'edge': to the goal along more of the edge; 'loop': the greedy path never reaches the goal."""
    if path == optimal:
        return "optimal"
    if not bool(mdp.terminal[path[-1]]):
        return "loop"
    return "safe" if len(cliff_edge(mdp).intersection(path)) <= 1 else "edge"


def optimal_path(mdp: TabularMDP, gamma: float) -> list[int]:
    """The greedy path of the optimal action values, found by value iteration."""
    _, v_star, _ = value_iteration(mdp, gamma)
    return greedy_path(mdp, action_values(mdp, v_star, gamma))
