"""DQN learns: the presets reach their targets with the greedy policy, for two fixed seeds, in bounded steps.

Each run evaluates the greedy policy periodically and stops as soon as an evaluation reaches the target
(``stop_return``), so a passing run takes only the steps it needs; the step budget bounds a failing one.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train


def run_until(tmp_path, name: str, seed: int, *, target: float, budget: int, eval_interval: int,
              eval_episodes: int) -> list[dict]:
    config = dataclasses.replace(preset(name), seed=seed, total_env_steps=budget, eval_interval=eval_interval,
                                 eval_episodes=eval_episodes, stop_return=target, run_dir=tmp_path / name,
                                 tensorboard=False, progress=False)
    train(config)
    return read_jsonl(tmp_path / name / METRICS)


def evaluations(rows: list[dict]) -> list[tuple[int, float]]:
    return [(r["env_steps"], r["eval_return_mean"]) for r in rows if "eval_return_mean" in r]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_dqn_catch_reaches_0_9(tmp_path, seed):
    rows = run_until(tmp_path, "dqn-catch", seed, target=0.9, budget=10_000, eval_interval=1_000, eval_episodes=50)
    evals = evaluations(rows)
    assert evals[-1][1] >= 0.9, f"greedy return by env step: {evals}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_dqn_cartpole_reaches_475(tmp_path, seed):
    rows = run_until(tmp_path, "dqn-cartpole", seed, target=475.0, budget=60_000, eval_interval=2_500,
                     eval_episodes=10)
    evals = evaluations(rows)
    assert evals[-1][1] >= 475.0, f"greedy return by env step: {evals}"
