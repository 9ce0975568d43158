"""TD3 and D4PG learn Pendulum-v1 within bounded budgets, for fixed seeds.

Each run evaluates its deterministic policy every 1,000 env steps on 20 fresh episodes and stops once the mean
reaches a stricter mark than the test's (``stop_return``), so a passing run takes only the steps it needs and
the step budget bounds a failing one. The stopped policy is then judged on 20 further episodes from other
start states (``fastrl eval``'s path, another seed), so the figure asserted is not the evaluation that was
selected for being high.
"""

from __future__ import annotations

import dataclasses

import pytest

from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import evaluate_run, train


def train_until(tmp_path, name: str, seed: int, *, stop_return: float, budget: int) -> tuple[list[dict], dict]:
    """Train ``name`` until an evaluation reaches ``stop_return`` (or ``budget`` env steps); its metric rows,
    and a fresh 20-episode evaluation of the final policy."""
    run_dir = tmp_path / f"{name}-{seed}"
    config = dataclasses.replace(preset(name), seed=seed, total_env_steps=budget, eval_interval=1_000,
                                 log_interval=1_000, eval_episodes=20, stop_return=stop_return, run_dir=run_dir,
                                 tensorboard=False, progress=False)
    train(config)
    return read_jsonl(run_dir / METRICS), evaluate_run(run_dir, episodes=20, seed=777 + seed)


def evaluations(rows: list[dict]) -> list[tuple[int, float]]:
    return [(r["env_steps"], round(r["eval_return_mean"])) for r in rows if "eval_return_mean" in r]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_td3_pendulum_reaches_minus_250(tmp_path, seed):
    rows, fresh = train_until(tmp_path, "td3-pendulum", seed, stop_return=-200.0, budget=15_000)
    assert evaluations(rows)[-1][1] >= -200.0, f"mean return by env step: {evaluations(rows)}"
    assert fresh["return_mean"] >= -250.0, f"fresh episodes: {fresh['returns']}; by env step: {evaluations(rows)}"


@pytest.mark.slow
def test_d4pg_pendulum_improves_clearly_over_random(tmp_path):
    """Uniformly random torques score about -1250 (PPO's test measured -1251 ± 300 over 100 episodes); -400
    needs a policy that swings the pendulum up and holds it from most start states."""
    rows, fresh = train_until(tmp_path, "d4pg-pendulum", 0, stop_return=-300.0, budget=10_000)
    assert evaluations(rows)[-1][1] >= -300.0, f"mean return by env step: {evaluations(rows)}"
    assert fresh["return_mean"] >= -400.0, f"fresh episodes: {fresh['returns']}"
