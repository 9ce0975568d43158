"""Monte-Carlo and TD(0) prediction converge to v_pi from the linear solve, within the sampling error of the
run count (see conftest.assert_within_sampling_error); MC control finds an optimal policy."""

from __future__ import annotations

import pytest
import torch

from fastrl.tabular.dp import value_iteration
from fastrl.tabular.env import TabularEnv
from fastrl.tabular.episodes import discounted_returns, first_visits
from fastrl.tabular.grids import gridworld_4x4
from fastrl.tabular.mc import mc_control, mc_prediction
from fastrl.tabular.mdp import exact_value, uniform_policy
from fastrl.tabular.policies import epsilon_greedy_probabilities, sample_actions
from fastrl.tabular.td import td0_prediction


@pytest.mark.parametrize("first_visit", [True, False])
def test_monte_carlo_prediction_converges_to_v_pi(first_visit, within_sampling_error):
    """20 runs of 1,000 episodes of the random policy on the 4x4 gridworld. First-visit MC is unbiased;
    every-visit MC is biased by O(1 / episodes) (Singh & Sutton 1996), so the runs are long against their
    number: the bias shrinks with the episodes of a run, the tolerance only with the square root of all."""
    mdp = gridworld_4x4()
    policy = uniform_policy(mdp)
    V, visits = mc_prediction(mdp, policy, 1.0, runs=20, episodes=1000,
                              generator=torch.Generator().manual_seed(0), first_visit=first_visit)
    assert bool((visits[:, ~mdp.terminal] > 0).all())
    within_sampling_error(V, exact_value(mdp, policy, 1.0), f"first_visit={first_visit}")


def test_td0_prediction_converges_to_v_pi(within_sampling_error):
    """TD(0) with its increments applied at each episode's end, where the mean of V converges to v_pi for a
    small constant alpha; gamma = 0.9 so that 300 episodes forget V_0 = 0."""
    mdp = gridworld_4x4()
    policy = uniform_policy(mdp)
    V = td0_prediction(mdp, policy, 0.9, alpha=0.1, runs=30, episodes=300,
                       generator=torch.Generator().manual_seed(0), online=False)
    within_sampling_error(V, exact_value(mdp, policy, 0.9), "TD(0)")


def test_online_td0_makes_the_books_update():
    """V(S) <- V(S) + alpha [R + gamma V(S') - V(S)] at every step: replayed by hand from the same stream."""
    mdp = gridworld_4x4()
    policy = uniform_policy(mdp)
    V = td0_prediction(mdp, policy, 0.9, alpha=0.5, runs=1, episodes=3, generator=torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    env = TabularEnv(mdp, generator)
    expected = torch.zeros(mdp.num_states, dtype=torch.float64)
    s, episodes = int(env.reset(1)), 0
    while episodes < 3:
        a = sample_actions(policy[torch.tensor([s])], generator)
        s_next, r, done = (x.item() for x in env.step(torch.tensor([s]), a))
        expected[s] += 0.5 * (r + 0.9 * expected[s_next] - expected[s])
        episodes += done
        s = int(env.reset(1)) if done else s_next
    assert torch.equal(V[0], expected)


def test_returns_and_first_visits_of_a_hand_made_episode():
    rewards = torch.tensor([[1.0], [0.0], [2.0], [0.0]], dtype=torch.float64)  # the last step is padding
    assert discounted_returns(rewards, 0.5).squeeze(1).tolist() == [1.5, 1.0, 2.0, 0.0]
    states = torch.tensor([[3], [1], [3], [1]])
    valid = torch.tensor([[True], [True], [True], [False]])
    assert first_visits(states, valid, 4).squeeze(1).tolist() == [True, True, False, False]


@pytest.mark.parametrize("first_visit", [True, False])
def test_monte_carlo_control_learns_a_near_optimal_policy(first_visit):
    """On-policy epsilon-soft MC control on the 4x4 gridworld, 150 episodes per run: the expected return of
    every run's epsilon-greedy policy (linear solve, over the start distribution) is closer to v*'s than to
    the random policy's. Not v* itself: the average keeps the returns of the early, poor policies, and
    epsilon = 0.1 rarely retries an action ranked wrongly, so S&B §5.4 promise only the best epsilon-soft
    policy, and only in the limit."""
    mdp = gridworld_4x4()
    _, v_star, _ = value_iteration(mdp, 1.0)
    random_return = float(mdp.start @ exact_value(mdp, uniform_policy(mdp), 1.0))
    optimal_return = float(mdp.start @ v_star)
    Q = mc_control(mdp, 1.0, epsilon=0.1, runs=10, episodes=150, generator=torch.Generator().manual_seed(0),
                   first_visit=first_visit)
    for run, q in enumerate(Q):
        learned_return = float(mdp.start @ exact_value(mdp, epsilon_greedy_probabilities(q, 0.1), 1.0))
        assert learned_return - random_return > optimal_return - learned_return, f"run {run}: {learned_return}"
