"""``fastrl plot``: groups, the mean curve and its bootstrap band, the interquartile mean, the final scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fastrl.cli import main
from fastrl.viz.plot import PlotConfig, iqm, plot_runs


def _run(root, name: str, preset: str, seed: int, evals: list[float], source) -> Path:
    """A run directory whose metrics.jsonl holds these evaluation means at env steps 1000, 2000, ...; its config
    is a real run's with the preset and the seed changed."""
    run = root / name
    run.mkdir()
    config = json.loads((source / "config.json").read_text())
    config.update(preset=preset, seed=seed)
    (run / "config.json").write_text(json.dumps(config))
    rows = [{"env_steps": 1000 * (i + 1), "eval_return_mean": v, "eval_return_std": 0.0} for i, v in enumerate(evals)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_the_interquartile_mean_drops_the_outer_quarters():
    rng = np.random.default_rng(0)
    point, low, high = iqm(np.array([0.0, 1.0, 2.0, 3.0, 100.0, -50.0, 2.0, 1.0]), rng)
    assert point == np.mean([1.0, 1.0, 2.0, 2.0]) and low <= point <= high
    assert iqm(np.array([4.0]), rng) == (4.0, 4.0, 4.0)


def test_runs_group_by_preset_with_a_band_around_their_mean(catch_run, tmp_path):
    runs = [_run(tmp_path, f"a{s}", "alpha", s, [0.0, s * 1.0, s * 2.0], catch_run) for s in range(4)]
    runs.append(_run(tmp_path, "b0", "beta", 0, [1.0, 1.0, 1.0], catch_run))
    path, table = plot_runs(PlotConfig(run_dirs=tuple(runs), out=tmp_path / "p.png"))
    assert path.read_bytes()[:4] == b"\x89PNG" and table["curve"] == "eval"
    alpha, beta = table["groups"]["alpha"], table["groups"]["beta"]
    assert alpha["runs"] == 4 and alpha["mean"] == np.mean([0.0, 2.0, 4.0, 6.0])
    assert alpha["iqm"] == np.mean([2.0, 4.0]) and alpha["iqm_low"] < alpha["iqm"] < alpha["iqm_high"]
    assert beta == {"runs": 1, "iqm": 1.0, "iqm_low": 1.0, "iqm_high": 1.0, "mean": 1.0}
    assert json.loads((tmp_path / "p.json").read_text())["groups"]["alpha"]["runs"] == 4


def test_fastrl_plot_of_real_runs_by_env_and_its_one_line_errors(catch_run, cartpole_run, tmp_path, capsys):
    out = tmp_path / "runs.png"
    assert main(["plot", str(catch_run), str(cartpole_run), "--by", "env", "--out", str(out)]) == 0
    table = json.loads(out.with_suffix(".json").read_text())
    assert set(table["groups"]) == {"Catch-v0", "CartPole-v1"} and len(table["runs"]) == 2
    printed = capsys.readouterr().out
    assert "IQM" in printed and f"plot: {out}" in printed
    assert main(["plot", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastrl plot: error:") and "does not exist" in err and "\n" not in err
    assert main(["plot", str(catch_run), "--out", str(tmp_path / "p.svg")]) == 2
    assert "expected a path ending in .png" in capsys.readouterr().err
