"""``fastrl bench lag``: its records and figure, the same run for both corrections at lag 0, and its refusals."""

from __future__ import annotations

import json

from fastrl.benchmarks.lag import main


def test_bench_lag_records_both_corrections_and_at_lag_0_they_are_one_run(tmp_path):
    """At lag 0 the actor acts with the learner's own parameters, every ρ is 1, and V-trace's targets are the
    uncorrected ones: the two runs end the same."""
    out = tmp_path / "lag.json"
    assert main(["--lags", "0", "3", "--seeds", "0", "--total-env-steps", "800", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["records"]
    finals = {(r["lag"], r["backend"]): r["value"] for r in rows if r["metric"] == "final_return_mean"}
    assert set(finals) == {(lag, c) for lag in (0, 3) for c in ("vtrace", "none")}
    assert finals[0, "vtrace"] == finals[0, "none"]
    assert all(r["episodes"] == 50 for r in rows if r["metric"] == "final_return_mean")
    assert out.with_suffix(".png").stat().st_size > 0


def test_bench_lag_refuses_what_it_cannot_run(tmp_path, capsys):
    assert main(["--preset", "dqn-catch", "--json", str(tmp_path / "x.json")]) == 2
    assert "--preset dqn-catch: expected an IMPALA preset, not a dqn one" in capsys.readouterr().err
    assert main(["--lags", "-1", "--json", str(tmp_path / "x.json")]) == 2
    assert "--lags -1: expected lags of 0 updates or more" in capsys.readouterr().err
