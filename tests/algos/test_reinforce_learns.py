"""REINFORCE learns (CartPole with a baseline, Catch without): the presets, run to their ends, are judged on their
final evaluations (see test_dqn_learns.py); a run resumes bit for bit; the CLI trains and evaluates one.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_dqn_learns import SEEDS, assert_ends_solved
from test_ppo_learns import learning_rows

from fastrl import checkpoint
from fastrl.config import preset
from fastrl.log import EPISODES, METRICS, read_jsonl
from fastrl.runner import train


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, target", [("reinforce-catch", 0.9), ("reinforce-cartpole", 475.0)])
def test_reinforce_preset_ends_solved(tmp_path, name, target, seed):
    assert_ends_solved(tmp_path, name, seed, target)


def resumed_beside_whole(tmp_path, name: str, steps: int, learner_part: str) -> list[dict]:
    """Train preset ``name`` for ``steps`` env steps whole, and again stopped halfway and resumed; assert that both
    runs log the same rows and end with the same ``learner_part`` of the learner; returns the rows."""
    def run(run_dir):
        return dataclasses.replace(preset(name), run_dir=run_dir, total_env_steps=steps, log_interval=steps // 4,
                                   checkpoint_interval=steps // 2, eval_episodes=4, tensorboard=False, progress=False)

    whole, split = tmp_path / "whole", tmp_path / "split"
    train(run(whole))
    train(run(split), stop_at=steps // 2)
    train(resume=split)
    rows = learning_rows(whole)
    assert learning_rows(split) == rows
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)
    a, b = (checkpoint.load(d).state["loop"]["learner"][learner_part] for d in (whole, split))
    assert all(torch.equal(a[k], b[k]) for k in a)
    return rows


def test_resumed_run_equals_the_uninterrupted_run(tmp_path):
    """Interrupted between two updates, with unfinished episodes in the envs: the kept steps are checkpointed."""
    rows = resumed_beside_whole(tmp_path, "reinforce-cartpole", 2_000, "policy")
    assert rows[-1]["updates"] > 0 and "value_loss" in rows[-1] and "eval_return_mean" in rows[-1]


def test_cli_trains_and_evaluates_reinforce(tmp_path, capsys):
    from fastrl.train_cli import eval_main, train_main

    run_dir = tmp_path / "run"
    assert train_main(["reinforce", "--preset", "reinforce-catch", "--total-env-steps", "400", "--log-interval",
                       "200", "--run-dir", str(run_dir), "--eval-episodes", "4", "--no-progress",
                       "--no-tensorboard"]) == 0
    row = read_jsonl(run_dir / METRICS)[-1]
    for key in ("policy_loss", "entropy", "return_mean", "updates", "ms_env", "ms_act", "ms_store", "ms_update"):
        assert key in row, key
    assert eval_main([str(run_dir), "--episodes", "4"]) == 0
    assert "most likely action" in capsys.readouterr().out
    assert train_main(["reinforce", "--env", "Pendulum-v1", "--run-dir", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "REINFORCE here has a categorical policy" in capsys.readouterr().err
