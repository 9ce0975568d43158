"""fastrl bench learn: per-seed curves of the preset as trained, IQM with a bootstrap interval, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastrl.benchmarks.learn import iqm_curve, iqm_interval, main, published_beside
from fastrl.benchmarks.published import Published
from fastrl.config import preset, to_dict


def test_iqm_is_the_mean_of_the_middle_half_and_its_interval_holds_it():
    values = [0.0, 1.0, 2.0, 3.0, 100.0, -50.0, 4.0, 5.0]
    iqm, low, high = iqm_interval(values)
    middle = sorted(values)[2:6]
    assert iqm == pytest.approx(np.mean(middle))
    assert low <= iqm <= high and low > -50 and high < 100  # the outliers do not carry the interval
    assert iqm_interval([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)


def _published(method: str, x: int, score: float, unit: str = "env_steps") -> Published:
    return Published("td3", method, "Hopper-v5", x, unit, score, None, "a source", "a protocol", False)


def test_published_points_up_to_the_last_evaluation_stand_beside_the_curve():
    iqm = [{"env_steps": s, "frames": s, "value": v} for s, v in ((25, 1.0), (50, 2.0), (75, 3.0))]
    rows = [_published("curve", 20, 10.0), _published("curve", 50, 20.0), _published("curve", 70, 30.0),
            _published("curve", 100, 40.0), _published("table", 1000, 99.0)]
    beside = published_beside(iqm, rows, "td3-mujoco/Hopper-v5")
    assert [(r["method"], r["x"], r["value"], r["fastrl_iqm_at_same_x"]) for r in beside] == [
        ("curve", 20, 10.0, None), ("curve", 50, 20.0, 2.0), ("curve", 70, 30.0, 2.0)]
    # a run shorter than every published point still shows the nearest one above it, its target
    short = published_beside(iqm[:1], [_published("table", 1000, 99.0)], "td3-mujoco/Hopper-v5")
    assert [(r["x"], r["fastrl_iqm_at_same_x"]) for r in short] == [(1000, 1.0)]
    assert published_beside([], rows, "td3-mujoco/Hopper-v5") == []


@pytest.mark.slow
def test_bench_learn_records_each_seed_and_the_iqm_and_reuses_finished_runs(tmp_path):
    argv = ["--preset", "dqn-catch", "--seeds", "0", "1", "--total-env-steps", "2000", "--eval-interval", "1000",
            "--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "learn.json"), "--no-progress"]
    assert main(argv) == 0
    data = json.loads((tmp_path / "learn.json").read_text())
    seeds = [r for r in data["records"] if r["backend"] == "fastrl"]
    assert sorted((r["seed"], r["env_steps"]) for r in seeds) == [(0, 1000), (0, 2000), (1, 1000), (1, 2000)]
    assert all(r["frames"] == r["env_steps"] and r["train_s"] > 0 for r in seeds)  # Catch: no frame skip
    iqm = [r for r in data["records"] if r["backend"] == "fastrl-iqm"]
    assert [r["env_steps"] for r in iqm] == [1000, 2000]
    final = [r["value"] for r in seeds if r["env_steps"] == 2000]
    assert iqm[-1]["value"] == pytest.approx(np.mean(final)) and iqm[-1]["seeds"] == 2
    assert iqm[-1]["ci_low"] <= iqm[-1]["value"] <= iqm[-1]["ci_high"]
    assert (tmp_path / "learn.png").stat().st_size > 0
    for seed in (0, 1):  # the preset as fastrl train runs it, evaluated over 20 full episodes
        config = json.loads((tmp_path / "runs" / f"dqn-catch-Catch-v0-seed{seed}" / "config.json").read_text())
        assert config["seed"] == seed and config["eval_episodes"] == 20
        assert config["dqn"] == to_dict(preset("dqn-catch"))["dqn"] and config["replay"] == to_dict(
            preset("dqn-catch"))["replay"]

    assert main(argv) == 0  # finished runs are read, not trained again
    again = json.loads((tmp_path / "learn.json").read_text())["records"]
    assert [r["value"] for r in again if r["backend"] == "fastrl"] == [r["value"] for r in seeds]
    assert all(r["seconds_this_call"] < 1.0 for r in again if r["backend"] == "fastrl")
    run_shas = {json.loads((tmp_path / "runs" / f"dqn-catch-Catch-v0-seed{s}" / "meta.json").read_text())["git_sha"]
                for s in (0, 1)}
    assert {r["run_git_sha"] for r in again if r["backend"] == "fastrl"} == run_shas  # the runs' own commits

    beside = [*argv[:-3], "--json", str(tmp_path / "beside.json"), "--beside", str(tmp_path / "learn.json")]
    assert main([*beside, "--no-progress"]) == 0  # another record's IQM curve drawn beside this one's
    assert (tmp_path / "beside.png").stat().st_size > (tmp_path / "learn.png").stat().st_size


def test_fewer_than_20_eval_episodes_is_refused_in_one_line(tmp_path, capsys):
    assert main(["--preset", "dqn-catch", "--eval-episodes", "5", "--runs", str(tmp_path)]) == 2
    assert "--eval-episodes 5: expected at least 20" in capsys.readouterr().err


def test_an_interrupted_bench_is_one_line_and_the_same_command_continues_it(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from fastrl import checkpoint, runner

    argv = ["--preset", "dqn-catch", "--seeds", "0", "--total-env-steps", "2000", "--eval-interval", "1000",
            "--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "learn.json"), "--no-progress"]
    after_step = runner.Run.after_step

    def interrupted_at_800(self, info):
        after_step(self, info)
        if self.env_steps == 800:
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as m:
        m.setattr(runner.Run, "after_step", interrupted_at_800)
        assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.splitlines()[-1].startswith("fastrl bench learn: received SIGINT"), err
    run_dir = tmp_path / "runs" / "dqn-catch-Catch-v0-seed0"
    assert checkpoint.load(run_dir).step == 800
    assert main(argv) == 0
    assert checkpoint.load(run_dir).step == 2000


def test_the_iqm_curve_takes_each_seeds_kth_evaluation_however_many_env_steps_apart():
    def point(seed, steps, value):
        return {"seed": seed, "env_steps": steps, "frames": steps, "train_s": 1.0, "value": value}

    per_seed = [point(0, 1503, 0.2), point(0, 3004, 1.0), point(1, 1501, 0.4), point(1, 3002, 0.8),
                point(1, 4501, 1.0)]  # async workers: the same schedule, a few steps apart; seed 1 ran longer
    rows = iqm_curve(per_seed, [0, 1], "case")
    assert [(r["env_steps"], r["env_steps_range"], r["seeds"]) for r in rows] == [(1502, [1501, 1503], 2),
                                                                                  (3003, [3002, 3004], 2)]
    assert [r["value"] for r in rows] == [pytest.approx(0.3), pytest.approx(0.9)]


def test_learner_options_set_the_section_and_name_the_runs_and_the_record(tmp_path):
    from fastrl.benchmarks.learn import LearnBenchConfig, seed_config, variant

    bench = LearnBenchConfig(preset="a3c-atari", learner_options=("workers=2",), runs=tmp_path)
    config = seed_config(bench, 3)
    assert config.a3c.workers == 2 and preset("a3c-atari").a3c.workers != 2
    assert config.a3c.lr == preset("a3c-atari").a3c.lr  # the rest of the preset as it is
    assert variant(bench) == "a3c-atari-workers2"
    assert config.run_dir == tmp_path / "a3c-atari-workers2-Pong-v5-seed3"
    assert variant(LearnBenchConfig(preset="a3c-atari")) == "a3c-atari"


def test_an_unknown_learner_option_is_refused_in_one_line(tmp_path, capsys):
    assert main(["--preset", "a3c-atari", "--learner-options", "wokers=2", "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "wokers" in err and "\n" not in err
