"""A2C (the PPO learner configured as one plain RMSProp step per rollout) learns Catch within a bounded budget.

The run evaluates every 1,040 env steps and stops as soon as an evaluation reaches the target, so a passing
run takes only the steps it needs (5k-15k for seeds 0-7 here, a few seconds); the 30k budget bounds a failing
one. Catch pays +1 for a caught ball and -1 for a missed one; a uniformly random policy scores about -0.6, so a
greedy mean of >= 0.9 over 50 episodes is a learned policy.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a2c_catch_reaches_0_9(tmp_path, seed):
    config = dataclasses.replace(preset("a2c-catch"), seed=seed, eval_interval=1_040, stop_return=0.9,
                                 run_dir=tmp_path / "run", tensorboard=False, progress=False)
    c = config.ppo
    # A2C, not PPO: one epoch of one minibatch, no clipping, RMSProp, n-step returns.
    assert (c.epochs, c.minibatches, c.clip_coef, c.optimizer, c.gae_lambda) == (1, 1, 0.0, "rmsprop", 1.0)
    train(config)
    rows = read_jsonl(tmp_path / "run" / METRICS)
    evals = [(r["env_steps"], r["eval_return_mean"]) for r in rows if "eval_return_mean" in r]
    assert evals[-1][1] >= 0.9, f"greedy return by env step: {evals}"
    # One gradient step per rollout of 16 envs x 5 steps.
    last = [r for r in rows if "updates" in r][-1]
    assert last["updates"] == last["env_steps"] // (config.env.num_envs * c.num_steps)
