"""Sutton & Barto Example 6.6 at the book's settings (epsilon = 0.1, alpha = 0.5): SARSA learns the safe path,
Q-learning the optimal one, and SARSA's online return per episode is the higher; two seeds of 60 runs."""

from __future__ import annotations

import pytest
import torch

from fastrl.tabular.cliff import (
    CliffSettings,
    greedy_path,
    optimal_path,
    path_kind,
    run_method,
)
from fastrl.tabular.env import TabularEnv
from fastrl.tabular.grids import cliff_walking
from fastrl.tabular.intervals import difference_of_means
from fastrl.tabular.policies import epsilon_greedy, epsilon_greedy_probabilities
from fastrl.tabular.td import td_control


@pytest.mark.parametrize("seed", [0, 1])
def test_sarsa_walks_the_safe_path_and_q_learning_the_optimal_one(seed):
    """Q-learning's greedy path is the optimal one (found by value iteration) in every run. SARSA's is the
    optimal one in none, and a safe one in most: the rest are greedy loops of its noisy alpha = 0.5
    values, or touch the edge. The return over the second half of the episodes, averaged per run: SARSA's
    above Q-learning's, the lower end of the 99% BCa bootstrap interval of the difference above 0."""
    mdp = cliff_walking()
    settings = CliffSettings(runs=60, episodes=150, seed=seed)
    optimal = optimal_path(mdp, settings.gamma)
    sarsa, q_learning = run_method(mdp, "sarsa", settings), run_method(mdp, "q-learning", settings)
    q_kinds = [path_kind(mdp, greedy_path(mdp, q), optimal) for q in q_learning.Q]
    sarsa_kinds = [path_kind(mdp, greedy_path(mdp, q), optimal) for q in sarsa.Q]
    assert q_kinds == ["optimal"] * settings.runs
    assert "optimal" not in sarsa_kinds and sarsa_kinds.count("safe") > settings.runs / 2, sarsa_kinds
    late = settings.episodes // 2
    difference, low, _ = difference_of_means(sarsa.episode_returns[:, late:].mean(1).numpy(),
                                             q_learning.episode_returns[:, late:].mean(1).numpy(), 0.99, seed)
    assert low > 0, f"SARSA - Q-learning: {difference:.2f}, 99% interval from {low:.2f}"


def test_expected_sarsa_without_exploration_is_q_learning():
    """With epsilon = 0 the expected value of Q(S', .) under the greedy policy is max_a Q(S', a), and both
    choose their next action from the updated Q: the same updates from the same random stream."""
    mdp = cliff_walking()
    results = [td_control(mdp, method, 1.0, 0.5, 0.0, runs=4, episodes=5, generator=torch.Generator().manual_seed(0))
               for method in ("expected-sarsa", "q-learning")]
    assert torch.equal(results[0].Q, results[1].Q)
    assert torch.equal(results[0].episode_returns, results[1].episode_returns)


def test_an_unknown_method_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown TD control method 'sarsa2'"):
        td_control(cliff_walking(), "sarsa2", 1.0, 0.5, 0.1, 1, 1, torch.Generator())
    with pytest.raises(ValueError, match=r"epsilon 1.5: expected a probability in \[0, 1\]"):
        CliffSettings(epsilon=1.5)
    with pytest.raises(ValueError, match="runs -3: expected a positive count"):
        CliffSettings(runs=-3)


@pytest.mark.parametrize("method", ["sarsa", "q-learning", "expected-sarsa"])
def test_batched_control_is_the_books_loop_of_one_run(method):
    """One run replayed by the book's pseudocode, a plain loop of scalars over the same random stream: the
    batched update produces the same Q and the same episode returns."""
    mdp, alpha, epsilon, gamma, episodes = cliff_walking(), 0.5, 0.1, 1.0, 3
    result = td_control(mdp, method, gamma, alpha, epsilon, runs=1, episodes=episodes,
                        generator=torch.Generator().manual_seed(7))
    generator = torch.Generator().manual_seed(7)
    env = TabularEnv(mdp, generator)
    Q = torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64)

    def choose(s: int) -> int:
        return int(epsilon_greedy(Q[s].unsqueeze(0), epsilon, generator))

    returns = []
    S = int(env.reset(1))
    A = choose(S)
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            S_next, R, done = (x.item() for x in env.step(torch.tensor([S]), torch.tensor([A])))
            if method == "sarsa":
                A_next = choose(S_next)
                target = R + gamma * Q[S_next, A_next]
            elif method == "q-learning":
                target = R + gamma * Q[S_next].max()
            else:
                target = R + gamma * (epsilon_greedy_probabilities(Q[S_next], epsilon) * Q[S_next]).sum()
            Q[S, A] += alpha * (target - Q[S, A])
            total += R
            if done:
                S_next = int(env.reset(1))
            if method != "sarsa" or done:
                A_next = choose(S_next)
            S, A = S_next, A_next
        returns.append(total)
    assert torch.equal(result.Q[0], Q)
    assert result.episode_returns[0].tolist() == returns
