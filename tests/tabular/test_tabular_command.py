"""``fastrl tabular cliff``: a user's error is one line and exit status 2; a run writes its figure and record."""

from __future__ import annotations

import json

import pytest

from fastrl.cli import main


@pytest.mark.parametrize(("flags", "message"), [
    (["--algo", "sarsa,monte-carlo"], "--algo monte-carlo: unknown method; expected one of sarsa, q-learning, "
                                      "expected-sarsa"),
    (["--epsilon", "-0.1"], "epsilon -0.1: expected a probability in [0, 1]"),
    (["--runs", "-5"], "runs -5: expected a positive count"),
    (["--alpha", "0"], "alpha 0.0: expected a step size in (0, 1]"),
])
def test_bad_input_is_one_line(flags, message, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("FASTRL_TRACEBACK", raising=False)
    assert main(["tabular", "cliff", *flags, "--out", str(tmp_path / "cliff")]) == 2
    assert capsys.readouterr().err.strip() == f"fastrl tabular cliff: error: {message}"
    assert not list(tmp_path.iterdir())


def test_a_run_writes_its_figure_and_record(tmp_path, capsys):
    out = tmp_path / "cliff"
    assert main(["tabular", "cliff", "--algo", "qlearning,sarsa", "--runs", "2", "--episodes", "2",
                 "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["meta"]["command"].startswith("fastrl tabular cliff --algo qlearning sarsa")
    metrics = {(row["case"], row["metric"]) for row in record["records"]}
    assert ("cliff-walking/sarsa-minus-q-learning", "online_return_second_half_difference") in metrics
    assert len(next(r for r in record["records"] if "curve_mean" in r)["curve_mean"]) == 2
    assert out.with_suffix(".png").stat().st_size > 0
