"""Resume: K steps, checkpoint, K more from the checkpoint == 2K uninterrupted, bit for bit (CPU, native env)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from fastrl import checkpoint
from fastrl.config import preset
from fastrl.log import EPISODES, METRICS, read_jsonl
from fastrl.runner import train

K = 800  # env steps before the interruption (100 steps of 8 envs; updates start at 400)


def catch_config(run_dir, **dqn_overrides):
    base = preset("dqn-catch")
    return dataclasses.replace(
        base, run_dir=run_dir, total_env_steps=2 * K, log_interval=200, checkpoint_interval=K, eval_interval=K,
        eval_episodes=8, tensorboard=False, progress=False,
        replay=dataclasses.replace(base.replay, save_with_checkpoint=True, **dqn_overrides.pop("replay", {})),
        dqn=dataclasses.replace(base.dqn, learning_starts=400, **dqn_overrides))


def learning_rows(run_dir):
    """metrics.jsonl without the wall-clock fields (SPS, per-stage ms), which no two runs share."""
    return [{k: v for k, v in row.items() if k != "sps" and not k.startswith("ms_")}
            for row in read_jsonl(run_dir / METRICS)]


def final_weights(run_dir):
    return checkpoint.load(run_dir).state["loop"]["learner"]["online"]


VARIANTS = {
    "dqn-catch": {},
    "rainbow-lite": dict(double=True, dueling=True, distributional=True, atoms=11, v_min=-1.0, v_max=1.0,
                         replay=dict(prioritized=True, n_step=3)),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resumed_run_equals_the_uninterrupted_run(tmp_path, variant):
    overrides = dict(VARIANTS[variant])
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(catch_config(whole, **dict(overrides)))
    train(catch_config(split, **dict(overrides)), stop_at=K)
    assert [p.name for p in checkpoint.list_checkpoints(split)] == [f"step_{K:012d}"]
    assert read_jsonl(split / METRICS)[-1]["env_steps"] == K
    train(resume=split)

    rows = learning_rows(whole)
    assert [r["env_steps"] for r in rows] == list(range(200, 2 * K + 1, 200))
    assert rows[-1]["updates"] > 0 and "eval_return_mean" in rows[-1]
    assert learning_rows(split) == rows
    assert read_jsonl(split / EPISODES) == read_jsonl(whole / EPISODES)
    a, b = final_weights(whole), final_weights(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_drops_rows_written_after_the_checkpoint_and_can_extend_the_run(tmp_path):
    run_dir = tmp_path / "run"
    config = catch_config(run_dir)
    train(dataclasses.replace(config, checkpoint_interval=400, keep_checkpoints=1), stop_at=K)
    # Pretend the run went on past its last checkpoint (at K) before it died: those rows must go.
    with open(run_dir / METRICS, "a") as f:
        f.write('{"env_steps": 1000, "loss": 123.0}\n')
    train(dataclasses.replace(config, total_env_steps=3 * K), resume=run_dir)
    steps = [r["env_steps"] for r in read_jsonl(run_dir / METRICS)]
    assert steps == list(range(200, 3 * K + 1, 200))
    assert all(r.get("loss") != 123.0 for r in read_jsonl(run_dir / METRICS))
    assert checkpoint.load(run_dir).step == 3 * K


def test_resume_without_a_saved_replay_starts_a_new_one(tmp_path):
    run_dir = tmp_path / "run"
    config = catch_config(run_dir)
    config = dataclasses.replace(config, replay=dataclasses.replace(config.replay, save_with_checkpoint=False))
    train(config, stop_at=K)
    assert not (checkpoint.latest(run_dir) / "replay").exists()
    train(resume=run_dir)
    assert read_jsonl(run_dir / METRICS)[-1]["env_steps"] == 2 * K


def test_resume_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        train(resume=tmp_path)
    run_dir = tmp_path / "run"
    train(catch_config(run_dir), stop_at=400)
    with pytest.raises(FileExistsError, match="already holds a run with checkpoints; continue it with --resume"):
        train(catch_config(run_dir))
    # A replay saved with another layout does not fit this run's config.
    config = catch_config(run_dir)
    other = dataclasses.replace(config, replay=dataclasses.replace(config.replay, capacity=5_000))
    stored = (run_dir / "config.json").read_text()
    with pytest.raises(checkpoint.CheckpointError, match=r"does not fit this run's config: capacity \(saved 10000"):
        train(other, resume=run_dir)
    assert (run_dir / "config.json").read_text() == stored


def test_run_directory_holds_config_metrics_tensorboard_plot_and_evaluates(tmp_path, capsys):
    from fastrl.config import from_dict
    from fastrl.train_cli import eval_main

    run_dir = tmp_path / "run"
    config = dataclasses.replace(catch_config(run_dir), total_env_steps=K, tensorboard=True)
    train(config)
    assert from_dict(json.loads((run_dir / "config.json").read_text())) == config
    assert {"git_sha", "cpu", "libraries", "config"} <= set(json.loads((run_dir / "meta.json").read_text()))
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))
    assert (run_dir / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    row = read_jsonl(run_dir / METRICS)[-1]
    for key in ("sps", "loss", "q_mean", "abs_td_mean", "episode_return_mean", "episode_length_mean", "ms_env",
                "ms_act", "ms_replay_add", "ms_sample", "ms_update", "eval_return_mean", "eval_return_std"):
        assert key in row, key

    assert eval_main([str(run_dir), "--episodes", "12", "--json", str(tmp_path / "eval.json")]) == 0
    assert "Catch-v0: return" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["episodes"] == 12 and len(result["returns"]) == 12
    assert all(r in (-1.0, 1.0) for r in result["returns"])
    assert eval_main([str(tmp_path / "nowhere")]) == 2
