"""Temporal-difference learning (Sutton & Barto, chapter 6): TD(0) prediction; SARSA, Q-learning and Expected
SARSA control. R independent runs step together: V [R, S] and Q [R, S, A] hold one table per run, and every
update line is the book's, indexed by the run.

A run that has finished its episodes keeps stepping with its updates masked off (``active``), so all runs
share one loop. V and Q of a terminal state are never updated and stay 0, as the book requires.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastrl.tabular.env import TabularEnv
from fastrl.tabular.mdp import TabularMDP
from fastrl.tabular.policies import epsilon_greedy, epsilon_greedy_probabilities, sample_actions
from fastrl.tabular.threads import on_one_thread

#: the control methods, by the name the command line uses
CONTROL_METHODS = ("sarsa", "q-learning", "expected-sarsa")


@on_one_thread
def td0_prediction(mdp: TabularMDP, policy: torch.Tensor, gamma: float, alpha: float, runs: int, episodes: int,
                   generator: torch.Generator, online: bool = True) -> torch.Tensor:
    """V [R, S]: tabular TD(0) for v_pi (S&B §6.1) after ``episodes`` episodes of ``policy`` in each run.

    ``online``: V(S) changes at every step, the book's loop. Its estimate then settles around v_pi with a
    bias of order alpha, since the value a step bootstraps from was just updated from a correlated state
    (``fastrl tabular gridworld`` measures it: profiles/tabular/gridworld-prediction.json).
    ``online=False`` sums each episode's increments, computed with the values the episode started with, and
    applies them when it ends (Sutton 1988's setting): for a small enough constant alpha the mean of V then
    converges to v_pi itself, which is what the test checks.
    """
    env = TabularEnv(mdp, generator)
    run = torch.arange(runs)
    V = torch.zeros(runs, mdp.num_states, dtype=torch.float64)
    increments = V if online else torch.zeros_like(V)
    finished = torch.zeros(runs, dtype=torch.int64)
    S = env.reset(runs)
    while bool((active := finished < episodes).any()):
        A = sample_actions(policy[S], generator)
        S_next, R, terminated = env.step(S, A)
        increments[run, S] += alpha * active * (R + gamma * V[run, S_next] - V[run, S])
        if not online:
            V += increments * terminated.unsqueeze(1)
            increments *= ~terminated.unsqueeze(1)
        finished += terminated & active
        S = torch.where(terminated, env.reset(runs), S_next) if bool(terminated.any()) else S_next
    return V


@dataclass(frozen=True)
class ControlResult:
    Q: torch.Tensor
    """[R, S, A] the action values at the end of each run"""
    episode_returns: torch.Tensor
    """[R, episodes] the undiscounted sum of rewards of each episode, as the agent collected them (online,
    exploration included): the measure of S&B Figure 6.4"""


@on_one_thread
def td_control(mdp: TabularMDP, method: str, gamma: float, alpha: float, epsilon: float, runs: int,
               episodes: int, generator: torch.Generator) -> ControlResult:
    """SARSA, Q-learning or Expected SARSA (S&B §6.4-6.6) with an epsilon-greedy behaviour policy, Q_0 = 0."""
    if method not in CONTROL_METHODS:
        raise ValueError(f"unknown TD control method {method!r}; expected one of {', '.join(CONTROL_METHODS)}")
    env = TabularEnv(mdp, generator)
    S_count = mdp.num_states
    Q = torch.zeros(runs, S_count, mdp.num_actions, dtype=torch.float64)
    rows = Q.view(runs * S_count, -1)  # run r's Q(s, .) is rows[first_row[r] + s]: one index op per lookup
    run = torch.arange(runs)
    first_row = run * S_count
    episode_returns = torch.zeros(runs, episodes, dtype=torch.float64)
    finished = torch.zeros(runs, dtype=torch.int64)
    S = env.reset(runs)
    A = epsilon_greedy(rows[first_row + S], epsilon, generator)
    while bool((active := finished < episodes).any()):
        S_next, R, terminated = env.step(S, A)
        q_next = rows[first_row + S_next]  # Q(S', .) before the update
        if method == "sarsa":  # A' is chosen before Q(S, A) changes
            A_next = epsilon_greedy(q_next, epsilon, generator)
            target = R + gamma * q_next.gather(1, A_next.unsqueeze(1)).squeeze(1)
        elif method == "q-learning":
            target = R + gamma * q_next.max(-1).values
        else:  # expected-sarsa
            target = R + gamma * (epsilon_greedy_probabilities(q_next, epsilon) * q_next).sum(-1)
        row_S = first_row + S
        rows[row_S, A] += alpha * active * (target - rows[row_S, A])
        episode_returns[run, finished.clamp(max=episodes - 1)] += R * active
        finished += terminated & active
        new_episodes = bool(terminated.any())
        if new_episodes:
            S_next = torch.where(terminated, env.reset(runs), S_next)
        # Q-learning and Expected SARSA choose the next action from the updated Q, as does SARSA for the first
        # action of a new episode
        if method != "sarsa":
            A_next = epsilon_greedy(rows[first_row + S_next], epsilon, generator)
        elif new_episodes:
            A_next = torch.where(terminated, epsilon_greedy(rows[first_row + S_next], epsilon, generator), A_next)
        S, A = S_next, A_next
    return ControlResult(Q, episode_returns)
