"""REINFORCE's math on hand-made batches: Monte-Carlo returns, the episode buffer of batched envs, the losses
and their gradients (with and without a baseline).

The policy here is a table: with ``hidden=()`` the MLP torso is a flatten and the head one linear layer, so a
one-hot observation e_s reads column s of the weight matrix, and the logits of s are whatever the test writes.
"""

from __future__ import annotations

import math

import pytest
import torch

from fastrl.algos.reinforce.episodes import EpisodeBuffer, monte_carlo_returns
from fastrl.algos.reinforce.learner import Reinforce
from fastrl.config import ReinforceConfig


def test_monte_carlo_returns_stop_at_each_episode_end():
    # gamma 0.5. Env 0: terminated at t = 1, then an unfinished episode; env 1: truncated at t = 2.
    rewards = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0]])
    terminated = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=torch.bool)
    truncated = torch.tensor([[0, 0], [0, 0], [0, 1], [0, 0]], dtype=torch.bool)
    returns = monte_carlo_returns(rewards, terminated, truncated, 0.5)
    # env 0: G_1 = 2, G_0 = 1 + 0.5 * 2 = 2; the unfinished rows: G_3 = 4, G_2 = 3 + 0.5 * 4 = 5.
    # env 1: G_2 = 1 (truncation bootstraps from nothing), G_1 = 1.5, G_0 = 1.75; G_3 = 1.
    torch.testing.assert_close(returns, torch.tensor([[2.0, 1.75], [2.0, 1.5], [5.0, 1.0], [4.0, 1.0]]))


def step(buffer, obs, actions, rewards, terminated=(0, 0), truncated=(0, 0)):
    buffer.add(torch.tensor(obs, dtype=torch.float32)[:, None], torch.tensor(actions), torch.tensor(rewards),
               torch.tensor(terminated, dtype=torch.bool), torch.tensor(truncated, dtype=torch.bool))


def test_episode_buffer_hands_over_whole_episodes_and_keeps_the_rest():
    buffer = EpisodeBuffer(6, 2, (1,), torch.float32, torch.device("cpu"))
    # Observations name (env, step): 10, 11, 12 are env 0's; 20, 21, 22 env 1's; 19 and 29 final observations
    # seen on the autoreset step after an end, which belongs to no episode.
    step(buffer, [10, 20], [0, 1], [1.0, 1.0], terminated=(0, 1))
    step(buffer, [11, 29], [1, 0], [2.0, 0.0], terminated=(1, 0))
    assert not buffer.ready(3) and buffer.ready(2)
    step(buffer, [19, 21], [0, 1], [0.0, 3.0])
    obs, actions, returns, episodes = buffer.take(0.5)
    assert episodes == 2  # rows in time order, env index fastest: env 0's 10, env 1's 20, env 0's 11
    assert obs.squeeze(1).tolist() == [10, 20, 11] and actions.tolist() == [0, 1, 1]
    assert returns.tolist() == [1 + 0.5 * 2, 1.0, 2.0]
    assert buffer.fill.tolist() == [0, 1] and buffer.obs[0, 1].item() == 21 and not buffer.ready(1)

    step(buffer, [12, 22], [0, 0], [5.0, 4.0], terminated=(0, 1), truncated=(1, 0))
    obs, actions, returns, episodes = buffer.take(0.5)
    assert episodes == 2 and obs.squeeze(1).tolist() == [12, 21, 22] and returns.tolist() == [5.0, 3 + 0.5 * 4, 4.0]
    assert buffer.fill.tolist() == [0, 0]


def test_an_episode_longer_than_the_horizon_stops_the_run():
    buffer = EpisodeBuffer(2, 1, (1,), torch.float32, torch.device("cpu"))
    buffer.add(torch.zeros(1, 1), torch.zeros(1, dtype=torch.int64), torch.ones(1), torch.zeros(1, dtype=torch.bool),
               torch.zeros(1, dtype=torch.bool))
    assert not buffer.ready(1)
    buffer.add(torch.zeros(1, 1), torch.zeros(1, dtype=torch.int64), torch.ones(1), torch.zeros(1, dtype=torch.bool),
               torch.zeros(1, dtype=torch.bool))
    assert buffer.ready(1)
    with pytest.raises(RuntimeError, match="env 0's episode reached --horizon 2 steps without ending"):
        buffer.take(0.9)


# Two states, two actions. Logits of s0: [0, ln 3] (pi = 1/4, 3/4); of s1: [0, 0] (pi = 1/2, 1/2).
# Baseline V(s0) = 1, V(s1) = -2. The batch: (s0, a1, G 3), (s1, a0, G 2), (s0, a0, G -1).
OBS = torch.eye(2)[[0, 1, 0]]
ACTIONS = torch.tensor([1, 0, 0])
RETURNS = torch.tensor([3.0, 2.0, -1.0])


def table_learner(baseline: bool) -> Reinforce:
    learner = Reinforce(ReinforceConfig(hidden=(), baseline=baseline), (2,), 2, "cpu", seed=0)
    with torch.no_grad():
        head = learner.policy[1]
        head.weight.copy_(torch.tensor([[0.0, 0.0], [math.log(3), 0.0]]))
        head.bias.zero_()
        if baseline:
            learner.baseline[1].weight.copy_(torch.tensor([[1.0, -2.0]]))
            learner.baseline[1].bias.zero_()
    return learner


def test_the_policy_loss_weights_log_probabilities_by_the_returns():
    learner = table_learner(baseline=False)
    policy_loss, value_loss, _ = learner.losses(OBS, ACTIONS, RETURNS)
    by_hand = -(3 * math.log(3 / 4) + 2 * math.log(1 / 2) + (-1) * math.log(1 / 4)) / 3
    assert value_loss is None and policy_loss.item() == pytest.approx(by_hand, rel=1e-6)


def test_the_baseline_subtracts_from_the_returns_and_learns_by_regression_alone():
    learner = table_learner(baseline=True)
    policy_loss, value_loss, _ = learner.losses(OBS, ACTIONS, RETURNS)
    # G - V = [3 - 1, 2 + 2, -1 - 1] = [2, 4, -2]
    by_hand = -(2 * math.log(3 / 4) + 4 * math.log(1 / 2) + (-2) * math.log(1 / 4)) / 3
    assert policy_loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert value_loss.item() == pytest.approx(0.5 * (2 ** 2 + 4 ** 2 + 2 ** 2) / 3, rel=1e-6)
    (policy_loss + value_loss).backward()
    # d/dlogits of -(G - V) log pi(a|s) / 3 is -(G - V)(e_a - pi) / 3; summed per state (column of the table):
    # s0: -(2/3)([0, 1] - [1/4, 3/4]) + (2/3)([1, 0] - [1/4, 3/4]) = [2/3, -2/3]; s1: -(4/3)([1, 0] - [1/2, 1/2]).
    torch.testing.assert_close(learner.policy[1].weight.grad, torch.tensor([[2 / 3, -2 / 3], [-2 / 3, 2 / 3]]))
    # The baseline's gradient is its regression's alone, (V - G) / 3 per sample (the policy term sees V
    # detached): s0: (1 - 3) / 3 + (1 + 1) / 3 = 0; s1: (-2 - 2) / 3.
    torch.testing.assert_close(learner.baseline[1].weight.grad, torch.tensor([[0.0, -4 / 3]]))


def test_acting_samples_the_policy():
    learner = table_learner(baseline=False)
    actions = learner.act(torch.eye(2)[[0] * 4000 + [1] * 4000])
    assert actions[:4000].float().mean().item() == pytest.approx(0.75, abs=0.03)
    assert actions[4000:].float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert learner.act_greedy(torch.eye(2)[[0]]).tolist() == [1]
