"""An UNREAL run end to end: its workers train the auxiliary tasks once their replays are full, the run
checkpoints and resumes, and ``fastrl eval`` plays the saved policy."""

from __future__ import annotations

import dataclasses

import torch

from fastrl import checkpoint
from fastrl.algos.unreal import workers as unreal
from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import train


def test_a_run_trains_the_auxiliary_tasks_resumes_and_is_evaluated(tmp_path):
    config = dataclasses.replace(preset("unreal-catch"), run_dir=tmp_path / "run", progress=False,
                                 tensorboard=False, eval_interval=0, total_env_steps=4_000, log_interval=1_000)
    config = dataclasses.replace(config, unreal=dataclasses.replace(config.unreal, replay_frames=300))
    train(config, stop_at=2_000)
    first = checkpoint.load(config.run_dir)
    assert 2_000 <= first.step < 4_000
    train(config, resume=config.run_dir)
    rows = read_jsonl(config.run_dir / METRICS)
    assert rows[-1]["env_steps"] >= 4_000 and "eval_return_mean" in rows[-1]
    learning = [r for r in rows if r.get("updates_per_s", 0) > 0]
    for task in config.unreal.tasks:  # each worker's replay (300 frames) was full long before the end
        assert learning[-1][f"loss_{task}"] > 0, (task, learning[-1])
    assert not torch.equal(checkpoint.load(config.run_dir).state["loop"]["learner"]["params"],
                           first.state["loop"]["learner"]["params"])
    result = unreal.evaluate_run(config.run_dir, episodes=20)
    assert result["episodes"] == 20 and -1.0 <= result["return_mean"] <= 1.0
