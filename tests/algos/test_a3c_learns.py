"""A3C and async n-step Q-learning learn with 2 Hogwild workers: the presets reach their targets.

Each run has an evaluator process play the greedy policy every ``eval_interval`` global steps and stops as
soon as it reaches (and confirms on other seeds) a stop return a little above the target. The run ends
with the parameters that evaluation played, and the supervisor evaluates them once more on other seeds
after the workers stopped: that last evaluation must reach the target. (The margin: a policy just at the
target passes each noisy evaluation only half the time.) The step budget bounds a failing run.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train


def run_until(tmp_path, name: str, *, stop: float, budget: int, eval_interval: int, seed: int = 0) -> list[dict]:
    config = dataclasses.replace(preset(name), seed=seed, total_env_steps=budget, eval_interval=eval_interval,
                                 stop_return=stop, run_dir=tmp_path / name, tensorboard=False, progress=False)
    train(config)
    return read_jsonl(tmp_path / name / METRICS)


def evaluations(rows: list[dict]) -> list[tuple[int, float]]:
    return [(r["eval_env_steps"], r["eval_return_mean"]) for r in rows if "eval_return_mean" in r]


@pytest.mark.slow
def test_a3c_catch_reaches_0_9(tmp_path):
    rows = run_until(tmp_path, "a3c-catch", stop=0.95, budget=100_000, eval_interval=2_000)
    evals = evaluations(rows)
    assert evals[-1][1] >= 0.9, f"greedy return by env step: {evals}"


@pytest.mark.slow
def test_nstepq_catch_reaches_0_9(tmp_path):
    rows = run_until(tmp_path, "nstepq-catch", stop=0.95, budget=100_000, eval_interval=2_000)
    evals = evaluations(rows)
    assert evals[-1][1] >= 0.9, f"greedy return by env step: {evals}"


@pytest.mark.slow
def test_a3c_cartpole_reaches_475(tmp_path):
    rows = run_until(tmp_path, "a3c-cartpole", stop=490.0, budget=300_000, eval_interval=10_000)
    evals = evaluations(rows)
    assert evals[-1][1] >= 475.0, f"greedy return by env step: {evals}"
