"""The progress line: its first line shows within seconds of the start, before the first metrics row."""

from __future__ import annotations

import dataclasses

from fastrl import log
from fastrl.config import preset
from fastrl.runner import train


def test_the_first_progress_line_comes_before_the_first_metrics_row(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(log, "FIRST_LINE_S", 0.0)  # at the first step: the real threshold is seconds
    config = dataclasses.replace(preset("dqn-catch"), run_dir=tmp_path / "run", total_env_steps=1_600,
                                 log_interval=1_600, checkpoint_interval=0, eval_episodes=2, tensorboard=False,
                                 progress=True)
    train(config)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("env steps")]
    assert len(lines) == 2, lines  # one heartbeat (not one a step), then the row at the end
    assert lines[0].startswith("env steps 8/1,600") and lines[0].endswith("SPS (since the start)"), lines
    assert lines[1].startswith("env steps 1,600/1,600"), lines


def test_without_a_terminal_one_heartbeat_then_only_the_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(log, "FIRST_LINE_S", 0.0)
    config = dataclasses.replace(preset("dqn-catch"), run_dir=tmp_path / "run", total_env_steps=1_600,
                                 log_interval=400, checkpoint_interval=0, eval_episodes=2, tensorboard=False,
                                 progress=True)
    train(config)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("env steps")]
    assert [line.split()[2] for line in lines] == ["8/1,600", "400/1,600", "800/1,600", "1,200/1,600", "1,600/1,600"]
