"""Live bars on a terminal: one per A3C worker beside the run's, and a count bar for evaluations and videos;
nothing extra where stderr is not a terminal."""

from __future__ import annotations

import torch

from fastrl import log
from fastrl.envs import make_env
from fastrl.log import CountBar, RunLogger
from fastrl.run.evaluation import evaluate


def test_one_bar_per_worker_beside_the_runs_own(tmp_path, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal
    monkeypatch.setattr(log, "FIRST_LINE_S", 0.0)
    monkeypatch.setattr(log, "LIVE_REFRESH_S", 0.0)
    logger = RunLogger(tmp_path, 1_000, tensorboard=False)
    try:
        logger.heartbeat(30, [10, 20])
        logger.heartbeat(90, [40, 50])
        tasks = logger._progress.progress.tasks
        assert [t.description for t in tasks] == ["env steps", "worker 0", "worker 1"]
        assert [t.completed for t in tasks] == [90, 40, 50] and tasks[1].total == 500
        assert tasks[1].fields["text"].endswith("SPS")
    finally:
        logger.close(plot=False)


def test_without_a_terminal_the_count_bar_prints_nothing(monkeypatch, capsys):
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    with CountBar("episodes", 3) as bar:
        for _ in range(3):
            bar.advance(text="last return 1")
    assert capsys.readouterr().err == ""


def test_the_count_bar_shows_the_count_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with CountBar("episodes", 3) as bar:
        for _ in range(3):
            bar.advance(text="last return 1")
    err = capsys.readouterr().err
    assert "episodes" in err and "3/3" in err and "last return 1" in err


def test_evaluate_reports_each_counted_episode():
    envs = make_env("Catch-v0", 4, seed=0)
    seen: list[float] = []
    returns = evaluate(envs, lambda obs, g: torch.randint(0, 3, (4,), generator=g), 10, seed=1,
                       device=torch.device("cpu"), on_episode=seen.append)
    assert seen == returns and len(seen) == 10
