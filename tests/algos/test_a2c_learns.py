"""A2C (the PPO learner configured as one plain RMSProp step per rollout) learns Catch: preset a2c-catch run to
its end, judged on its final evaluation (see test_dqn_learns.py)."""

from __future__ import annotations

import pytest
from test_dqn_learns import SEEDS, assert_ends_solved

from fastrl.config import preset


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a2c_catch_ends_solved(tmp_path, seed):
    rows = assert_ends_solved(tmp_path, "a2c-catch", seed, 0.9)
    config = preset("a2c-catch")
    c = config.ppo
    # A2C, not PPO: one epoch of one minibatch, no clipping, RMSProp, n-step returns; one step per rollout.
    assert (c.epochs, c.minibatches, c.clip_coef, c.optimizer, c.gae_lambda) == (1, 1, 0.0, "rmsprop", 1.0)
    last = [r for r in rows if "updates" in r][-1]
    assert last["updates"] == last["env_steps"] // (config.env.num_envs * c.num_steps)
