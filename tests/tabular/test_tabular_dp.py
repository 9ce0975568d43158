"""Dynamic programming against the exact linear solve and against the numbers Sutton & Barto print."""

from __future__ import annotations

import pytest
import torch

from fastrl.tabular.dp import action_values, policy_evaluation, policy_iteration, value_iteration
from fastrl.tabular.grids import cliff_walking, gridworld_4x4
from fastrl.tabular.mdp import TabularMDP, exact_value, uniform_policy

# S&B Figure 4.1 (left column): v_k of the equiprobable random policy on the 4x4 gridworld, gamma = 1,
# printed to one decimal; k = None is v_pi, printed as integers
FIGURE_4_1 = {
    1: [[0.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, 0.0]],
    2: [[0.0, -1.7, -2.0, -2.0], [-1.7, -2.0, -2.0, -2.0], [-2.0, -2.0, -2.0, -1.7], [-2.0, -2.0, -1.7, 0.0]],
    3: [[0.0, -2.4, -2.9, -3.0], [-2.4, -2.9, -3.0, -2.9], [-2.9, -3.0, -2.9, -2.4], [-3.0, -2.9, -2.4, 0.0]],
    10: [[0.0, -6.1, -8.4, -9.0], [-6.1, -7.7, -8.4, -8.4], [-8.4, -8.4, -7.7, -6.1], [-9.0, -8.4, -6.1, 0.0]],
    None: [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]],
}


def random_policy(mdp: TabularMDP, seed: int) -> torch.Tensor:
    """A stochastic policy with every action possible (so every episode ends), drawn from a Dirichlet."""
    concentration = torch.ones(mdp.num_actions, dtype=torch.float64)
    torch.manual_seed(seed)
    return torch.distributions.Dirichlet(concentration).sample((mdp.num_states,))


@pytest.mark.parametrize("sweeps", [1, 2, 3, 10])
def test_policy_evaluation_sweeps_are_figure_4_1(sweeps):
    mdp = gridworld_4x4()
    v_k, done = policy_evaluation(mdp, uniform_policy(mdp), gamma=1.0, max_sweeps=sweeps)
    assert done == sweeps
    # the book prints one decimal: half a unit of it, and a hair for the float error of the exact halves
    assert torch.allclose(v_k.view(4, 4), torch.tensor(FIGURE_4_1[sweeps], dtype=torch.float64), rtol=0,
                          atol=0.05 + 1e-9)


def test_random_policy_value_is_the_linear_solve_and_the_book():
    mdp = gridworld_4x4()
    v_pi, _ = policy_evaluation(mdp, uniform_policy(mdp), gamma=1.0, theta=1e-12)
    exact = exact_value(mdp, uniform_policy(mdp), gamma=1.0)
    assert torch.allclose(v_pi, exact, rtol=0, atol=1e-9)
    assert torch.allclose(exact.view(4, 4), torch.tensor(FIGURE_4_1[None], dtype=torch.float64), atol=1e-9)


# not the cliff with gamma = 1: a random walk there takes thousands of moves to reach the goal, and the
# sweeps converge as slowly (policy iteration starts with such a walk too)
@pytest.mark.parametrize(("make_mdp", "gamma"), [(gridworld_4x4, 1.0), (gridworld_4x4, 0.9), (cliff_walking, 0.9)])
@pytest.mark.parametrize("seed", [0, 1])
def test_policy_evaluation_of_any_policy_is_the_linear_solve(make_mdp, gamma, seed):
    mdp = make_mdp()
    policy = random_policy(mdp, seed)
    v, _ = policy_evaluation(mdp, policy, gamma, theta=1e-12)
    assert torch.allclose(v, exact_value(mdp, policy, gamma), rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize(("make_mdp", "gamma"), [(gridworld_4x4, 1.0), (gridworld_4x4, 0.9), (cliff_walking, 0.9)])
def test_policy_and_value_iteration_find_the_optimal_values(make_mdp, gamma):
    mdp = make_mdp()
    pi_pi, v_pi, _ = policy_iteration(mdp, gamma)
    pi_vi, v_vi, _ = value_iteration(mdp, gamma)
    assert torch.allclose(v_pi, v_vi, rtol=0, atol=1e-8)
    for policy in (pi_pi, pi_vi):  # each returned policy is worth what its method says: the linear solve
        assert torch.allclose(exact_value(mdp, policy, gamma), v_vi, rtol=0, atol=1e-8)
    # v* satisfies the Bellman optimality equation, and no policy does better than it
    assert torch.allclose(action_values(mdp, v_vi, gamma).max(-1).values, v_vi, rtol=0, atol=1e-8)
    assert bool((exact_value(mdp, random_policy(mdp, 0), gamma) <= v_vi + 1e-9).all())


def test_optimal_values_of_the_books_gridworlds():
    """4x4 gridworld: v*(s) = -(moves to the nearer terminal corner) (Figure 4.1, right); cliff walking: the
    optimal path from the start is 13 moves along the cliff's edge (Example 6.6)."""
    grid, cliff = gridworld_4x4(), cliff_walking()
    _, v_grid, improvements = policy_iteration(grid, 1.0)
    moves = [min(r + c, 6 - r - c) for r in range(4) for c in range(4)]
    assert v_grid.tolist() == [-float(m) for m in moves]
    assert improvements == 2  # the greedy policy of the random policy's values is already optimal (Figure 4.1)
    _, v_cliff, _ = value_iteration(cliff, 1.0)
    assert float(v_cliff[int(cliff.start.argmax())]) == -13.0


def test_a_table_that_is_not_a_distribution_is_refused():
    mdp = gridworld_4x4()
    P = mdp.transitions.clone()
    P[5, 2, 6] = 0.5
    with pytest.raises(ValueError, match=r"P\[5, 2\] sums to 0.5; expected 1"):
        TabularMDP("broken", P, mdp.rewards, mdp.terminal, mdp.start, mdp.grid_shape, mdp.action_names)
