"""IMPALA: the V-trace loss on a hand-made batch, V-trace's correction of lagged data against the uncorrected
(on-policy) targets, on a batch and over a whole run with a forced lag, actors that really act with older
parameters, and the catch preset's final policy.

Networks here are tables: with ``hidden=()`` the torso is a flatten, so a one-hot observation e_s reads column s
of the policy head (the logits of s) and of the value head (V(s)).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_dqn_learns import assert_ends_solved

from fastrl.algos.impala.learner import Impala
from fastrl.config import ConfigError, ImpalaConfig, preset

LN3 = math.log(3)


def table_impala(policy_logits, values, **overrides) -> Impala:
    """An IMPALA learner on one-hot states whose logits and V are the given tables ([states, A], [states])."""
    states, actions = len(policy_logits), len(policy_logits[0])
    learner = Impala(ImpalaConfig(hidden=(), **overrides), (states,), actions, "cpu", seed=0)
    with torch.no_grad():
        learner.net.policy.weight.copy_(torch.tensor(policy_logits).T)
        learner.net.policy.bias.zero_()
        learner.net.value.weight.copy_(torch.tensor([values]))
        learner.net.value.bias.zero_()
    return learner


def test_the_vtrace_loss_of_a_hand_made_unroll():
    # π(·|s0) = 1/4, 3/4; π(·|s1) = 1/2, 1/2; V(s0) = 1, V(s1) = 2. The actor's μ is uniform in both states.
    # One env, T = 2: s0 -a1-> s1 -a0-> s0, rewards 1, 2, no episode end, gamma 0.9, rho-bar = 1, lambda = 1.
    learner = table_impala([[0.0, LN3], [0.0, 0.0]], [1.0, 2.0], gamma=0.9)
    obs = torch.eye(2)[[0, 1, 0]][:, None]                        # [T + 1, B = 1, 2]
    actions = torch.tensor([[1], [0]])
    no = torch.zeros(2, 1, dtype=torch.bool)
    args = (obs, actions, torch.zeros(2, 1, 2), torch.tensor([[1.0], [2.0]]), no, no)
    vs, advantages, log_rhos, _, _ = learner.targets(*args)
    # rho_0 = (3/4) / (1/2) = 1.5, clipped to 1; rho_1 = 1. delta_1 = 2 + 0.9 * 1 - 2 = 0.9, v_1 = 2.9;
    # delta_0 = 1 + 0.9 * 2 - 1 = 1.8, v_0 = 1 + 1.8 + 0.9 * (2.9 - 2) = 3.61.
    # A_0 = 1 + 0.9 * v_1 - 1 = 2.61; A_1 = 2 + 0.9 * V(s0) - 2 = 0.9 (v_2 = V(s_2), the bootstrap).
    torch.testing.assert_close(log_rhos.exp(), torch.tensor([[1.5], [1.0]]))
    torch.testing.assert_close(vs, torch.tensor([[3.61], [2.9]]))
    torch.testing.assert_close(advantages, torch.tensor([[2.61], [0.9]]))
    loss, policy_loss, value_loss, entropy, rho = learner.losses(*args, torch.ones(2, 1, dtype=torch.bool))
    assert policy_loss.item() == pytest.approx(-(2.61 * math.log(3 / 4) + 0.9 * math.log(1 / 2)) / 2, rel=1e-5)
    assert value_loss.item() == pytest.approx(0.5 * ((3.61 - 1) ** 2 + (2.9 - 2) ** 2) / 2, rel=1e-5)
    entropies = [-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), math.log(2)]
    assert entropy.item() == pytest.approx(sum(entropies) / 2, rel=1e-5) and rho.item() == pytest.approx(1.25)
    # An autoreset row (valid False) is left out of every mean.
    _, policy_loss, value_loss, _, _ = learner.losses(*args, torch.tensor([[True], [False]]))
    assert policy_loss.item() == pytest.approx(-2.61 * math.log(3 / 4), rel=1e-5)
    assert value_loss.item() == pytest.approx(0.5 * (3.61 - 1) ** 2, rel=1e-5)


def test_vtrace_estimates_the_learners_policy_from_lagged_data_where_on_policy_targets_do_not():
    """A one-step bandit (reward 1 for action 1, 0 for action 0). The actor acted with an old policy μ (μ(a1) =
    0.1); the learner's π has moved on (π(a1) = 3/4). Averaged over the actor's data, V-trace's targets
    (ρ̄ above every ratio) estimate V^π = 0.75; the targets of a learner that takes the data as its own
    (``correction="none"``, ρ = c = 1: a lagged on-policy update) estimate V^μ = 0.1, the value of a policy it
    no longer has."""
    learner = table_impala([[0.0, LN3]], [0.5], clip_rho=100.0, clip_pg_rho=100.0)
    count = 20_000
    mu_logits = torch.tensor([math.log(9), 0.0])
    actions = torch.multinomial(mu_logits.softmax(-1), count, replacement=True,
                                generator=torch.Generator().manual_seed(0))[None]
    obs = torch.ones(2, count, 1)
    rewards = actions.float()
    done = torch.ones(1, count, dtype=torch.bool)
    vs, _, _, _, _ = learner.targets(obs, actions, mu_logits.expand(1, count, 2), rewards, done, ~done)
    assert vs.mean().item() == pytest.approx(0.75, abs=0.04)
    uncorrected = table_impala([[0.0, LN3]], [0.5], correction="none")  # the data taken as π's own
    vs_on_policy, _, log_rhos, _, _ = uncorrected.targets(obs, actions, mu_logits.expand(1, count, 2), rewards,
                                                          done, ~done)
    assert vs_on_policy.mean().item() == pytest.approx(0.1, abs=0.02)
    assert log_rhos.exp().mean().item() == pytest.approx(1.0, abs=0.1)  # measured all the same: E_μ[ρ] = 1


@pytest.mark.slow
def test_with_a_large_lag_vtrace_ends_solved_where_uncorrected_updates_do_not():
    """impala-catch's budget with its actor always 64 updates behind the learner (of 400; ``fastrl.algos.impala
    .lagged``, deterministic per seed), seeds 0-2: with V-trace every final policy catches (1.0); the same
    learner taking the lagged unrolls as its own (``correction="none"``) ends at 0.68, -0.16, -0.64. Over seeds
    0-4 and lags 0-64 (profiles/cpu-*/lag-impala-catch.json) V-trace ended at 1.0 in every run, the uncorrected
    learner's mean fell with the lag."""
    from fastrl.algos.impala.lagged import final_returns, train_lagged

    finals = {}
    for correction in ("vtrace", "none"):
        for seed in (0, 1, 2):
            config = preset("impala-catch")
            config = dataclasses.replace(config, seed=seed,
                                         impala=dataclasses.replace(config.impala, correction=correction))
            returns = final_returns(config, train_lagged(config, lag=64))
            assert len(returns) == config.eval_episodes >= 20
            finals[correction, seed] = sum(returns) / len(returns)
    assert all(finals["vtrace", seed] >= 0.9 for seed in (0, 1, 2)), finals
    assert sum(finals["none", seed] for seed in (0, 1, 2)) / 3 <= 0.5, finals


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_impala_catch_ends_solved_with_actors_that_lag(tmp_path, seed, capsys):
    """The preset's final policy catches; on the way, the actors never waited for the learner: unrolls reached
    it with the parameters of earlier updates (the logged mean lag, in updates between the version an unroll
    acted with and the learner's, is above 0 in every row); eval reads the run."""
    from fastrl.train_cli import eval_main

    rows = assert_ends_solved(tmp_path, "impala-catch", seed, 0.9)
    lags = [r["policy_lag"] for r in rows if "policy_lag" in r]
    assert len(lags) == len(rows) and min(lags) > 0, lags
    for key in ("policy_loss", "value_loss", "entropy", "rho_mean", "ms_wait", "ms_update"):
        assert key in rows[-1], key
    assert eval_main([str(tmp_path), "--episodes", "4"]) == 0
    assert "most likely action" in capsys.readouterr().out


def test_a_bad_correction_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="--correction 'retrace': expected vtrace or none"):
        ImpalaConfig(correction="retrace")
