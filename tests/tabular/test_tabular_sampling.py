"""The sampler and the epsilon-greedy choice draw with the probabilities the tables say."""

from __future__ import annotations

import torch
from scipy import stats

from fastrl.tabular.env import TabularEnv
from fastrl.tabular.grids import cliff_walking
from fastrl.tabular.mdp import TabularMDP
from fastrl.tabular.policies import epsilon_greedy, epsilon_greedy_probabilities

DRAWS = 20_000


def assert_frequencies(draws: torch.Tensor, probabilities: torch.Tensor) -> None:
    """Chi-square goodness of fit at the 1e-4 level over the outcomes with positive probability."""
    counts = torch.bincount(draws, minlength=len(probabilities)).double()
    assert counts[probabilities == 0].sum() == 0, "drew an outcome of probability 0"
    possible = probabilities > 0
    result = stats.chisquare(counts[possible].numpy(), (probabilities[possible] * len(draws)).numpy())
    assert result.pvalue > 1e-4, (counts.tolist(), probabilities.tolist())


def test_a_stochastic_mdp_steps_with_its_transition_probabilities():
    torch.manual_seed(0)
    P = torch.distributions.Dirichlet(torch.full((5,), 0.7, dtype=torch.float64)).sample((5, 2))
    P[4] = torch.nn.functional.one_hot(torch.tensor(4), 5).double()  # state 4 is terminal
    terminal = torch.tensor([False, False, False, False, True])
    rewards = torch.arange(10, dtype=torch.float64).view(5, 2) * ~terminal.unsqueeze(1)
    start = torch.tensor([0.5, 0.25, 0.25, 0.0, 0.0], dtype=torch.float64)
    mdp = TabularMDP("random", P, rewards, terminal, start, (1, 5), ("a", "b"))
    env = TabularEnv(mdp, torch.Generator().manual_seed(1))
    assert_frequencies(env.reset(DRAWS), start)
    states, actions = torch.full((DRAWS,), 2), torch.full((DRAWS,), 1)
    next_states, r, done = env.step(states, actions)
    assert_frequencies(next_states, P[2, 1])
    assert bool((r == rewards[2, 1]).all()) and torch.equal(done, next_states == 4)


def test_the_cliff_sends_the_agent_back_to_the_start_with_reward_minus_100():
    mdp = cliff_walking()
    env = TabularEnv(mdp, torch.Generator().manual_seed(0))
    start = env.reset(3)
    moves = torch.tensor([mdp.action_names.index(a) for a in ("right", "up", "left")])
    next_states, rewards, done = env.step(start, moves)
    assert next_states.tolist() == [36, 24, 36] and rewards.tolist() == [-100.0, -1.0, -1.0]
    assert not done.any()
    assert env.step(torch.tensor([35]), torch.tensor([1]))[2].tolist() == [True]  # down from (2, 11): the goal


def test_epsilon_greedy_draws_its_probabilities_and_breaks_ties_evenly():
    q = torch.tensor([1.0, 3.0, 3.0, -2.0], dtype=torch.float64)  # two greedy actions
    generator = torch.Generator().manual_seed(0)
    for epsilon in (0.0, 0.1, 1.0):
        probabilities = epsilon_greedy_probabilities(q, epsilon)
        assert abs(float(probabilities.sum()) - 1) < 1e-12
        assert_frequencies(epsilon_greedy(q.expand(DRAWS, 4), epsilon, generator), probabilities)
