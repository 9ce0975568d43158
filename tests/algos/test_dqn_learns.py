"""DQN's presets learn, judged on the agent a user keeps.

Each learning test trains a preset as ``fastrl train <algo> --preset NAME --seed S`` does (only the run
directory and the console and TensorBoard output differ), to the end of the preset's own ``total_env_steps``
with no early stop, and asserts on the run's final evaluation: the evaluation policy's mean return over the
preset's ``eval_episodes`` (>= 20) full episodes. A policy that peaked and collapsed before the end fails.
The other learners' tests (test_*_learns.py) use ``assert_ends_solved`` from here.

CartPole-v1 counts as solved at 475 (of 500); on Catch (+1 for a caught ball, -1 for a missed one) a
uniformly random policy scores about -0.6, so 0.9 is a learned policy.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl import checkpoint
from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train

SEEDS = (0, 1, 2)


def assert_ends_solved(tmp_path, name: str, seed: int, target: float) -> list[dict]:
    """Train preset ``name`` with ``seed`` to its end; assert that the final evaluation reaches ``target``.
    Returns the run's metric rows."""
    config = dataclasses.replace(preset(name), seed=seed, run_dir=tmp_path, tensorboard=False, progress=False)
    assert config.eval_episodes >= 20 and config.stop_return is None
    train(config)
    rows = read_jsonl(tmp_path / METRICS)
    evals = [(r["env_steps"], round(r["eval_return_mean"], 2)) for r in rows if "eval_return_mean" in r]
    assert "eval_return_mean" in rows[-1] and rows[-1]["env_steps"] >= config.total_env_steps
    assert evals[-1][1] >= target, f"{name} seed {seed}: final evaluation below {target}; by env step: {evals}"
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, target", [("dqn-catch", 0.9), ("dqn-cartpole", 475.0)])
def test_dqn_preset_ends_solved(tmp_path, name, target, seed):
    assert_ends_solved(tmp_path, name, seed, target)


def test_stop_return_ends_a_run_at_the_first_evaluation_that_reaches_it(tmp_path):
    """``stop_return`` is a user's early stop (no learning test relies on it): a mark every policy reaches
    (Catch's returns are >= -1) ends the run at its first evaluation, with a checkpoint there."""
    config = dataclasses.replace(preset("dqn-catch"), total_env_steps=20_000, eval_interval=800, eval_episodes=4,
                                 log_interval=400, stop_return=-1.0, run_dir=tmp_path, tensorboard=False,
                                 progress=False)
    train(config)
    rows = read_jsonl(tmp_path / METRICS)
    assert [r["env_steps"] for r in rows] == [400, 800] and "eval_return_mean" in rows[-1]
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == [f"step_{800:012d}"]
