"""Monte-Carlo prediction and control (Sutton & Barto, chapter 5), for R independent runs at once.

A value is the average of the returns that followed visits: first-visit MC counts only the first visit of a
state (or state-action pair) in each episode, every-visit MC counts them all. The runs share no data: run r
averages only its own episodes, so the spread of the R estimates is the sampling error of one run.
"""

from __future__ import annotations

import torch

from fastrl.tabular.env import TabularEnv
from fastrl.tabular.episodes import discounted_returns, first_visits, generate_episodes
from fastrl.tabular.mdp import TabularMDP
from fastrl.tabular.policies import epsilon_greedy, sample_actions
from fastrl.tabular.threads import on_one_thread


@on_one_thread
def mc_prediction(mdp: TabularMDP, policy: torch.Tensor, gamma: float, runs: int, episodes: int,
                  generator: torch.Generator, first_visit: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(V [R, S], visits [R, S]): each run's Monte-Carlo estimate of v_pi from ``episodes`` episodes of
    ``policy`` (S&B §5.1; V = 0 where a run never visited). The R * episodes episodes run as one batch."""
    env = TabularEnv(mdp, generator)
    batch = generate_episodes(env, lambda s: sample_actions(policy[s], generator), runs * episodes)
    G = discounted_returns(batch.rewards, gamma)
    counted = first_visits(batch.states, batch.valid, mdp.num_states) if first_visit else batch.valid
    run = torch.arange(runs).repeat_interleave(episodes).expand_as(batch.states)
    # Returns(S_t) <- Returns(S_t) + G_t, per run: one flat index per (run, state)
    cell = (run * mdp.num_states + batch.states)[counted]
    returns_sum = torch.zeros(runs * mdp.num_states, dtype=torch.float64).index_add_(0, cell, G[counted])
    visits = torch.zeros(runs * mdp.num_states, dtype=torch.float64).index_add_(0, cell, torch.ones_like(G[counted]))
    V = returns_sum / visits.clamp(min=1)
    return V.view(runs, -1), visits.view(runs, -1)


@on_one_thread
def mc_control(mdp: TabularMDP, gamma: float, epsilon: float, runs: int, episodes: int,
               generator: torch.Generator, first_visit: bool = True) -> torch.Tensor:
    """Q [R, S, A] of on-policy Monte-Carlo control for epsilon-soft policies (S&B §5.4): each run generates an
    episode epsilon-greedy in its own Q, sets Q(S_t, A_t) to the average of the returns that followed its
    (first) visits so far, and the next episode is epsilon-greedy in the new Q (the policy improvement)."""
    env = TabularEnv(mdp, generator)
    S, A = mdp.num_states, mdp.num_actions
    returns_sum = torch.zeros(runs * S * A, dtype=torch.float64)
    visits = torch.zeros(runs * S * A, dtype=torch.float64)
    Q = torch.zeros(runs, S, A, dtype=torch.float64)
    run = torch.arange(runs)
    for _ in range(episodes):
        batch = generate_episodes(env, lambda s, Q=Q: epsilon_greedy(Q[run, s], epsilon, generator), runs)
        G = discounted_returns(batch.rewards, gamma)
        pair = batch.states * A + batch.actions
        counted = first_visits(pair, batch.valid, S * A) if first_visit else batch.valid
        cell = (run * S * A + pair)[counted]
        returns_sum.index_add_(0, cell, G[counted])
        visits.index_add_(0, cell, torch.ones_like(G[counted]))
        Q = torch.where(visits > 0, returns_sum / visits.clamp(min=1), 0.0).view(runs, S, A)
    return Q
