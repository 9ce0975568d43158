"""PPO learns (CartPole, Catch, Pendulum): the presets, run to their ends, are judged on their final
evaluations (see test_dqn_learns.py); a run resumes bit for bit; eval reads a run.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from test_dqn_learns import SEEDS, assert_ends_solved

from fastrl import checkpoint
from fastrl.config import preset
from fastrl.log import EPISODES, METRICS, read_jsonl
from fastrl.runner import train

#: uniformly random torques on Pendulum-v1 score -1251 ± 300 (measured over 100 episodes, envpool, seed 0); above
#: -250 the policy swings the pendulum up and holds it from most start states
PENDULUM_TARGET = -250.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, target", [("ppo-catch", 0.9), ("ppo-cartpole", 475.0),
                                          ("ppo-pendulum", PENDULUM_TARGET)])
def test_ppo_preset_ends_solved(tmp_path, name, target, seed):
    assert_ends_solved(tmp_path, name, seed, target)


# ---------------------------------------------------------------------------------------------------------
# Runs: resume, the run directory, eval
# ---------------------------------------------------------------------------------------------------------

K = 1_024  # env steps before the interruption: 4 rollouts of 8 envs x 32 steps


def cartpole_run(run_dir, **run):
    base = preset("ppo-cartpole")
    return dataclasses.replace(base, run_dir=run_dir, total_env_steps=2 * K, log_interval=256, checkpoint_interval=K,
                               eval_interval=K, eval_episodes=4, tensorboard=False, progress=False,
                               ppo=dataclasses.replace(base.ppo, epochs=2, normalize_observations=True,
                                                       normalize_rewards=True), **run)


def learning_rows(run_dir):
    """metrics.jsonl without the wall-clock fields (SPS, per-stage ms), which no two runs share."""
    return [{k: v for k, v in row.items() if k != "sps" and not k.startswith("ms_")}
            for row in read_jsonl(run_dir / METRICS)]


def test_resumed_run_equals_the_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(cartpole_run(whole))
    train(cartpole_run(split), stop_at=K)
    assert [p.name for p in checkpoint.list_checkpoints(split)] == [f"step_{K:012d}"]
    train(resume=split)

    rows = learning_rows(whole)
    assert [r["env_steps"] for r in rows] == list(range(256, 2 * K + 1, 256))
    assert rows[-1]["updates"] > 0 and "eval_return_mean" in rows[-1] and "policy_loss" in rows[-1]
    assert learning_rows(split) == rows
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)
    a, b = (checkpoint.load(d).state["loop"]["learner"]["net"] for d in (whole, split))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "obs_norm.mean" in a  # the observation statistics are part of the network, saved and resumed


def test_ppo_run_directory_and_eval(tmp_path, capsys):
    from fastrl.train_cli import eval_main, train_main

    run_dir = tmp_path / "run"
    argv = ["ppo", "--preset", "ppo-catch", "--total-env-steps", "512", "--log-interval", "256", "--run-dir",
            str(run_dir), "--eval-episodes", "8", "--no-progress", "--no-tensorboard"]
    assert train_main(argv) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == "ppo" and config["ppo"]["num_steps"] == 16
    row = read_jsonl(run_dir / METRICS)[-1]
    for key in ("sps", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance",
                "lr", "ms_env", "ms_act", "ms_store", "ms_advantages", "ms_update", "eval_return_mean"):
        assert key in row, key
    assert (run_dir / "learning_curve.png").exists()

    assert eval_main([str(run_dir), "--episodes", "6", "--json", str(tmp_path / "eval.json")]) == 0
    assert "Catch-v0: return" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["episodes"] == 6 and result["policy"] == "most likely action"
    assert eval_main([str(run_dir), "--epsilon", "0.1"]) == 2
    assert "--epsilon is for DQN" in capsys.readouterr().err


def test_cli_help_lists_the_ppo_fields_and_hides_dqn_ones(capsys):
    from fastrl.config import PPOConfig
    from fastrl.train_cli import train_main

    with pytest.raises(SystemExit) as exit_info:
        train_main(["ppo", "--preset", "a2c-atari", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(PPOConfig):
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--n-step" not in text and "--epsilon-start" not in text
    assert "(default: rmsprop)" in text and "a2c-atari" in text


@pytest.mark.parametrize("argv, message", [
    (["ppo", "--preset", "dqn-catch"], "--preset dqn-catch is a preset of dqn, not of ppo"),
    (["ppo", "--preset", "ppo-catch", "--minibatches", "5"], "--minibatches 5 does not divide"),
    (["ppo", "--preset", "ppo-cartpole", "--async-envs"], "--async-envs needs an env engine with an async mode"),
])
def test_cli_refuses_ppo_configs_that_do_not_fit(argv, message, tmp_path, capsys):
    from fastrl.train_cli import train_main

    try:
        code = train_main([*argv, "--run-dir", str(tmp_path / "run")])
    except SystemExit as exit_info:  # refused while parsing (tyro prints the error in a box)
        code = exit_info.code
    assert code == 2
    assert message in " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert not (tmp_path / "run").exists()
