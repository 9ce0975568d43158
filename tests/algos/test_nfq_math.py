"""NFQ's math on hand-made batches: the pattern set's targets in the paper's cost terms, the growing batch of
batched envs, batch Rprop, and acting by the least cost.

Q here is a table: with ``hidden=()`` the MLP is one linear layer on [one-hot s, one-hot a] (then a sigmoid for
failure costs), so Q(s, a) = σ(u_s + v_a) with u, v whatever the test writes.
"""

from __future__ import annotations

import math

import pytest
import torch

from fastrl.algos.nfq.learner import NFQ
from fastrl.algos.nfq.transitions import Transitions
from fastrl.config import ConfigError, NFQConfig

LN3 = math.log(3)


def table_nfq(u, v, **overrides) -> NFQ:
    """An NFQ on 2 one-hot states and 2 actions whose pre-activation is u[s] + v[a]."""
    learner = NFQ(NFQConfig(hidden=(), **overrides), (2,), 2, "cpu", seed=0)
    with torch.no_grad():
        learner.q[0].weight.copy_(torch.tensor([[*u, *v]]))
        learner.q[0].bias.zero_()
    return learner


def one_hot(states) -> torch.Tensor:
    return torch.eye(2)[states]


# Failure costs: Q(s0, ·) = σ(0), σ(−ln 3) = 1/2, 1/4; Q(s1, ·) = σ(ln 3), σ(0) = 3/4, 1/2.
U, V = (0.0, LN3), (0.0, -LN3)


def test_q_values_and_the_greedy_action_minimize_the_cost():
    learner = table_nfq(U, V)
    torch.testing.assert_close(learner.q_values(one_hot([0, 1])), torch.tensor([[0.5, 0.25], [0.75, 0.5]]))
    torch.testing.assert_close(learner.q_taken(one_hot([0, 1]), torch.tensor([1, 0])), torch.tensor([0.25, 0.75]))
    assert learner.act(one_hot([0, 1]), epsilon=0.0).tolist() == [1, 1]


def test_failure_targets_bootstrap_the_step_cost_and_stop_at_a_failure():
    learner = table_nfq(U, V, gamma=0.9, step_cost=0.01, failure_cost=1.0)
    # (s', terminated): (s1, no): 0.01 + 0.9 * min(3/4, 1/2); (s0, yes): the failure's 1;
    # (s0, no; a truncation): 0.01 + 0.9 * min(1/2, 1/4). The rewards are not read.
    targets = learner.targets(torch.tensor([5.0, 5.0, 5.0]), one_hot([1, 0, 0]), torch.tensor([False, True, False]))
    torch.testing.assert_close(targets, torch.tensor([0.01 + 0.9 * 0.5, 1.0, 0.01 + 0.9 * 0.25]))


def test_a_transition_into_the_goal_region_costs_nothing_and_still_bootstraps():
    # goal (0, 0.5): dimension 0 free, |s_1| < 0.5; s0 = (1, 0) is in the goal, s1 = (0, 1) is not.
    learner = table_nfq(U, V, gamma=0.9, step_cost=0.01, failure_cost=1.0, goal=(0.0, 0.5))
    targets = learner.targets(torch.zeros(3), one_hot([0, 1, 0]), torch.tensor([False, False, True]))
    torch.testing.assert_close(targets, torch.tensor([0.0 + 0.9 * 0.25, 0.01 + 0.9 * 0.5, 1.0]))


def test_scaled_inputs_are_z_scores_over_the_pattern_set_taken_at_each_refit():
    learner = NFQ(NFQConfig(hidden=(3,), scale_inputs=True, epochs=1), (2,), 2, "cpu", seed=0)
    obs = torch.tensor([[0.0, 10.0], [2.0, 30.0], [4.0, 20.0]])
    probe = torch.tensor([[2.0, 20.0], [4.0, 30.0]])
    torch.testing.assert_close(learner.inputs(probe), probe)  # the identity until the first refit
    learner.refit(obs, torch.tensor([0, 1, 0]), torch.zeros(3), obs, torch.zeros(3, dtype=torch.bool))
    torch.testing.assert_close(learner.inputs(probe), torch.tensor([[0.0, 0.0], [1.0, 1.0]]), atol=1e-5, rtol=0)
    pairs = torch.cat([learner.inputs(probe).repeat_interleave(2, dim=0), torch.eye(2).repeat(2, 1)], dim=1)
    torch.testing.assert_close(learner.q_values(probe), learner.q(pairs).view(2, 2))
    assert NFQ(NFQConfig(), (2,), 2, "cpu", seed=0).inputs(probe).equal(probe)  # without it, the raw observation


def test_negative_reward_targets_and_a_linear_output():
    learner = table_nfq((1.0, -2.0), (0.5, 0.0), gamma=0.9, costs="negative_reward")
    # Q(s0, ·) = 1.5, 1; Q(s1, ·) = −1.5, −2 (no sigmoid): min over s0 is 1, over s1 is −2.
    torch.testing.assert_close(learner.q_values(one_hot([0, 1])), torch.tensor([[1.5, 1.0], [-1.5, -2.0]]))
    targets = learner.targets(torch.tensor([1.0, -1.0, 0.5]), one_hot([0, 1, 1]), torch.tensor([False, True, False]))
    torch.testing.assert_close(targets, torch.tensor([-1.0 + 0.9 * 1.0, 1.0, -0.5 + 0.9 * -2.0]))


def test_a_refit_is_batch_rprop_on_the_whole_pattern_set():
    """One epoch: Rprop's first step moves every weight by Δ0 against the sign of the gradient of the mean
    squared error over all patterns; many epochs fit the (fixed, γ = 0) targets."""
    obs, actions = one_hot([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    rewards = torch.tensor([-0.2, 0.1, 0.3, -0.4])  # negative_reward costs, γ 0: the targets are −r
    terminated = torch.zeros(4, dtype=torch.bool)
    learner = table_nfq((0.3, -0.2), (0.1, 0.4), gamma=0.0, costs="negative_reward", epochs=1, rprop_step=0.05)
    before = learner.q[0].weight.detach().clone()
    loss = (learner.q_taken(obs, actions) + rewards).square().mean()
    (grad,) = torch.autograd.grad(loss, learner.q[0].weight)
    learner.refit(obs, actions, rewards, one_hot([0, 1, 0, 1]), terminated)
    torch.testing.assert_close(learner.q[0].weight.detach(), before - 0.05 * grad.sign())

    # Q = u_s + v_a + b holds additive targets: −r = 0.2, −0.1 for s0 and −0.3, −0.6 for s1 (v1 − v0 = −0.3 in
    # both states), which the fit reaches.
    rewards = torch.tensor([-0.2, 0.1, 0.3, 0.6])
    learner = table_nfq((0.3, -0.2), (0.1, 0.4), gamma=0.0, costs="negative_reward", epochs=200)
    learner.refit(obs, actions, rewards, one_hot([0, 1, 0, 1]), terminated)
    torch.testing.assert_close(learner.q_taken(obs, actions), -rewards, atol=1e-3, rtol=0)
    assert learner.take_stats()["patterns"] == 4 and learner.take_stats()["loss"] < 1e-6


def test_the_growing_batch_keeps_every_transition_but_the_autoreset_steps():
    data = Transitions(4, 2, (1,), torch.float32, torch.device("cpu"))

    def add(obs, action, reward, next_obs, terminated=(0, 0), truncated=(0, 0)):
        as_obs = lambda x: torch.tensor(x, dtype=torch.float32)[:, None]  # noqa: E731
        data.add(as_obs(obs), torch.tensor(action), torch.tensor(reward), as_obs(next_obs),
                 torch.tensor(terminated, dtype=torch.bool), torch.tensor(truncated, dtype=torch.bool))

    add([10, 20], [0, 1], [1.0, 2.0], [11, 21], terminated=(1, 0))   # env 0 fails: 11 is its final observation
    add([11, 21], [1, 1], [0.0, 3.0], [30, 22], truncated=(0, 1))    # env 0 autoresets (30: its next start)
    add([30, 22], [0, 0], [4.0, 0.0], [31, 40])                       # env 1 autoresets
    assert data.episodes_ended() == 2 and data.episodes_ended() == 0
    obs, actions, rewards, next_obs, terminated = data.patterns()
    assert obs.squeeze(1).tolist() == [10, 20, 21, 30] and next_obs.squeeze(1).tolist() == [11, 21, 22, 31]
    assert actions.tolist() == [0, 1, 1, 0] and rewards.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert terminated.tolist() == [True, False, False, False]  # a truncation is no failure
    add([31, 40], [0, 0], [0.0, 0.0], [32, 41])
    with pytest.raises(RuntimeError, match="transitions are full at 4 steps"):
        add([32, 41], [0, 0], [0.0, 0.0], [33, 42])


def test_bad_nfq_values_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="--failure-cost 2.0: a cost in"):
        NFQConfig(failure_cost=2.0)
    with pytest.raises(ConfigError, match="--costs 'reward': expected failure or negative_reward"):
        NFQConfig(costs="reward")
    with pytest.raises(ConfigError, match="--goal: bound 1 is -0.1; expected numbers >= 0"):
        NFQConfig(goal=(0.3, -0.1))
    with pytest.raises(ConfigError, match="a goal region is a failure-costs notion"):
        NFQConfig(goal=(0.3,), costs="negative_reward")
