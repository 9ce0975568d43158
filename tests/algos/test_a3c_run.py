"""A3C runs: every variant trains end to end, a stopped run resumes from its checkpoint, and the saved policy
is evaluated by ``fastrl eval``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fastrl import checkpoint
from fastrl.algos.a3c import workers as a3c
from fastrl.algos.asynchronous import workers as parts
from fastrl.config import preset
from fastrl.log import METRICS, read_jsonl
from fastrl.runner import load_run_config, train


def catch_config(tmp_path, name: str = "a3c-catch", **fields):
    return dataclasses.replace(preset(name), run_dir=tmp_path / "run", progress=False, tensorboard=False,
                               eval_interval=0, **fields)


@pytest.mark.parametrize("method, lstm, optimizer, start_method", [
    ("a3c", True, "rmsprop", "forkserver"), ("a3c", False, "adam", "spawn"), ("onestep_q", False, "rmsprop", "forkserver"),
])
def test_each_variant_trains(tmp_path, method, lstm, optimizer, start_method):
    config = catch_config(tmp_path, total_env_steps=3_000, log_interval=1_000)
    config = dataclasses.replace(config, a3c=dataclasses.replace(config.a3c, method=method, lstm=lstm, lstm_size=32,
                                                                 optimizer=optimizer, optim_eps=1e-5,
                                                                 start_method=start_method))
    torch.manual_seed(config.seed)
    initial = parts.make_shared(a3c.spec_for(config, (10, 5), 3), config.seed).params.clone()
    train(config)
    saved = checkpoint.load(config.run_dir)
    assert saved.step >= 3_000
    assert not torch.equal(saved.state["loop"]["learner"]["params"], initial)
    rows = read_jsonl(config.run_dir / METRICS)
    assert rows[-1]["updates"] > 0 and "eval_return_mean" in rows[-1]
    names = a3c.STATS[config.a3c.family]
    assert all(name in rows[-1] for name in names if rows[-1]["updates_per_s"] > 0)
    assert (config.run_dir / "learning_curve.png").exists()


def test_resume_continues_from_the_checkpoint(tmp_path):
    config = catch_config(tmp_path, total_env_steps=6_000, log_interval=1_000)
    train(config, stop_at=2_000)
    first = checkpoint.load(config.run_dir)
    assert 2_000 <= first.step < 6_000
    assert int(first.state["loop"]["worker_steps"].sum()) == first.step

    # resuming with nothing left to do keeps the saved parameters exactly: they were loaded, not re-initialized
    train(dataclasses.replace(config, total_env_steps=first.step), resume=config.run_dir)
    same = checkpoint.load(config.run_dir)
    assert same.step == first.step
    assert torch.equal(same.state["loop"]["learner"]["params"], first.state["loop"]["learner"]["params"])
    assert torch.equal(same.state["loop"]["learner"]["optimizer"]["square_avg"],
                       first.state["loop"]["learner"]["optimizer"]["square_avg"])

    assert load_run_config(config.run_dir).total_env_steps == first.step  # the stored config follows the resume
    train(config, resume=config.run_dir)  # on to 6000 steps
    last = checkpoint.load(config.run_dir)
    assert last.step >= 6_000
    assert int(last.state["loop"]["worker_steps"].sum()) == last.step
    steps = [r["env_steps"] for r in read_jsonl(config.run_dir / METRICS)]
    assert steps == sorted(steps) and steps[-1] == last.step


def test_resume_with_more_workers_carries_the_counters(tmp_path):
    config = catch_config(tmp_path, total_env_steps=2_000, log_interval=1_000)
    config = dataclasses.replace(config, a3c=dataclasses.replace(config.a3c, workers=1))
    train(config)
    before = checkpoint.load(config.run_dir).step
    more = dataclasses.replace(config, total_env_steps=4_000, a3c=dataclasses.replace(config.a3c, workers=2))
    train(more, resume=config.run_dir)
    after = checkpoint.load(config.run_dir)
    assert after.state["loop"]["worker_steps"].shape == (2,)
    assert int(after.state["loop"]["worker_steps"].sum()) == after.step >= 4_000 > before


def test_eval_plays_the_saved_policy(tmp_path):
    config = catch_config(tmp_path, total_env_steps=2_000)
    train(config)
    result = a3c.evaluate_run(config.run_dir, episodes=20)
    assert result["episodes"] == 20 and len(result["returns"]) == 20
    assert all(r in (-1.0, 1.0) for r in result["returns"])
    assert result["env_steps"] == checkpoint.load(config.run_dir).step


def test_the_command_line_trains_resumes_and_evaluates(tmp_path, capsys):
    from fastrl.cli import main

    run_dir = str(tmp_path / "run")
    assert main(["train", "a3c", "--preset", "a3c-catch", "--total-env-steps", "1500", "--workers", "1",
                 "--run-dir", run_dir, "--no-tensorboard", "--no-progress"]) == 0
    assert main(["train", "--resume", run_dir, "--total-env-steps", "3000", "--no-progress"]) == 0
    assert checkpoint.load(run_dir).step >= 3_000
    capsys.readouterr()
    assert main(["eval", run_dir, "--episodes", "10"]) == 0
    out = capsys.readouterr().out
    assert "Catch-v0: return" in out and "over 10 episodes (greedy policy" in out


def test_train_a3c_on_an_atari_id_takes_the_papers_settings(capsys):
    from fastrl.train_cli import train_main

    with pytest.raises(SystemExit):
        train_main(["a3c", "--env", "Pong-v5", "--workers", "16", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--workers INT actor-learner processes" in text and "(default: 16)" in text
    assert "num_threads=1" in text and "(default: 40.0)" in text  # one engine thread per worker; clip 40
