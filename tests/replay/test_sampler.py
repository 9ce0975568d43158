"""Samplers: uniform over the valid transitions; prioritized in proportion to p^alpha, with the importance
weights of Schaul et al. (normalized by the maximum weight), beta's schedule, and priority updates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_env import ScriptedEnvs

from fastrl.ops import _registry
from fastrl.replay import BufferConfig, ReplayBuffer

DRAWS = 100_000


def chi_square_p_value(counts: torch.Tensor, expected: torch.Tensor) -> float:
    """P(X >= statistic) for a chi-square with len - 1 degrees of freedom (the regularized upper gamma)."""
    statistic = ((counts.double() - expected) ** 2 / expected).sum()
    dof = torch.tensor(counts.numel() - 1, dtype=torch.float64)
    return float(torch.special.gammaincc(dof / 2, statistic / 2))


def filled(prioritized: bool, per_env: int = 40, calls: int = 60, **kw) -> ReplayBuffer:
    envs = ScriptedEnvs([[5, 3], [7]], [["term", "trunc"], ["term"]], stack=0)
    buffer = ReplayBuffer(BufferConfig(capacity=2 * per_env, num_envs=2, obs_shape=(3,), n_step=2,
                                       prioritized=prioritized, **kw))
    buffer.add(envs.reset())
    for _ in range(calls - 1):
        actions = np.zeros(2, dtype=np.int64)
        obs, reward, terminated, truncated = envs.step(actions)
        buffer.add(obs, torch.from_numpy(actions), reward, terminated, truncated)
    return buffer


def draw_counts(buffer: ReplayBuffer, batch: int, generator: torch.Generator) -> torch.Tensor:
    counts = torch.zeros(buffer.layout.num_slots, dtype=torch.int64)
    for _ in range(DRAWS // batch):
        counts += torch.bincount(buffer.sample(batch, generator).indices, minlength=counts.numel())
    return counts


def valid_slots(buffer: ReplayBuffer) -> torch.Tensor:
    return torch.nonzero(buffer.storage["valid"][: buffer.layout.num_slots]).squeeze(1)


def test_uniform_draws_every_valid_transition_equally_often():
    buffer = filled(prioritized=False)
    valid = valid_slots(buffer)
    assert 40 < valid.numel() < buffer.layout.num_slots  # some slots are invalid (terminal observations)
    counts = draw_counts(buffer, 50, torch.Generator().manual_seed(0))
    assert counts.sum() == DRAWS
    assert counts[valid].sum() == DRAWS  # never an invalid slot
    expected = torch.full((valid.numel(),), DRAWS / valid.numel(), dtype=torch.float64)
    assert chi_square_p_value(counts[valid], expected) > 1e-3


@pytest.mark.parametrize("alpha", [0.6, 1.0])
def test_prioritized_frequencies_follow_p_to_the_alpha(alpha):
    buffer = filled(prioritized=True, alpha=alpha)
    valid = valid_slots(buffer)
    td = torch.rand(valid.numel(), generator=torch.Generator().manual_seed(1)) * 10
    buffer.update_priorities(valid, td)
    assert _registry.last_backend("sumtree") == buffer.sampler.tree.backend
    counts = draw_counts(buffer, 50, torch.Generator().manual_seed(2))
    assert counts[valid].sum() == DRAWS
    p = (td.double() + buffer.config.priority_eps) ** alpha
    assert chi_square_p_value(counts[valid], DRAWS * p / p.sum()) > 1e-3
    # and the same counts are far from uniform (the test can tell the two apart)
    uniform = torch.full((valid.numel(),), DRAWS / valid.numel(), dtype=torch.float64)
    assert chi_square_p_value(counts[valid], uniform) < 1e-12


def test_importance_weights_and_beta_schedule():
    buffer = filled(prioritized=True, alpha=0.7, beta_start=0.4, beta_end=1.0, beta_steps=10)
    valid = valid_slots(buffer)
    td = torch.linspace(0.1, 5.0, valid.numel())
    buffer.update_priorities(valid, td)
    p = torch.zeros(buffer.layout.num_slots, dtype=torch.float64)
    p[valid] = (td.double() + buffer.config.priority_eps) ** 0.7
    probability = p / p.sum()
    n = valid.numel()
    generator = torch.Generator().manual_seed(3)
    for k in range(12):
        beta = 0.4 + 0.6 * min(k / 10, 1.0)
        assert buffer.sampler.beta == pytest.approx(beta)
        batch = buffer.sample(64, generator)
        w = (n * probability[batch.indices]) ** -beta
        w_max = (n * probability[valid].min()) ** -beta
        torch.testing.assert_close(batch.weights, (w / w_max).float(), rtol=1e-6, atol=0)
        assert float(batch.weights.max()) <= 1.0


def test_priority_update_moves_the_draws_and_new_entries_enter_at_the_maximum():
    buffer = filled(prioritized=True, alpha=1.0)
    valid = valid_slots(buffer)
    target = valid[5:6]
    generator = torch.Generator().manual_seed(4)
    buffer.update_priorities(valid, torch.ones(valid.numel()))
    before = (buffer.sample(50, generator).indices == target).float().mean()
    buffer.update_priorities(target, torch.tensor([float(valid.numel())]))  # as much as all others together
    after = (buffer.sample(50, generator).indices == target).float().mean()
    assert before < 0.05 and 0.4 < after < 0.6
    buffer.update_priorities(target, torch.tensor([0.0]))
    assert (buffer.sample(50, generator).indices == target).sum() == 0  # priority eps ** alpha: tiny
    # the running maximum (valid.numel() + eps) is what the next transitions enter with
    fresh_before = set(valid_slots(buffer).tolist())
    buffer.add(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64), torch.zeros(2), torch.zeros(2, dtype=torch.bool),
               torch.zeros(2, dtype=torch.bool))
    fresh = torch.tensor(sorted(set(valid_slots(buffer).tolist()) - fresh_before))
    assert fresh.numel() >= 1
    leaves = buffer.sampler.leaf_priorities()
    torch.testing.assert_close(leaves[fresh], torch.full_like(leaves[fresh], valid.numel() + 1e-6))


def test_update_of_an_overwritten_slot_keeps_it_out():
    buffer = filled(prioritized=True, per_env=10, calls=12)
    slot = valid_slots(buffer)[0:1]
    for _ in range(10):  # one lap: the slot is overwritten and its new transition still pending
        buffer.add(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64), torch.zeros(2),
                   torch.zeros(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool))
    stale = slot[~buffer.storage["valid"][slot]]
    if stale.numel() == 0:  # the chosen slot happened to be re-filled and finished: pick the newest instead
        stale = torch.tensor([buffer.layout.pad + (buffer.steps - 1) % buffer.layout.per_env])
    assert not buffer.storage["valid"][stale].any()
    buffer.update_priorities(stale, torch.tensor([100.0]))
    assert float(buffer.sampler.leaf_priorities()[stale]) == 0.0
