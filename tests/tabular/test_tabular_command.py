"""``fastrl tabular cliff`` and ``gridworld``: a user's error is one line and exit status 2; a run writes its
record (and the cliff its figure)."""

from __future__ import annotations

import json

import pytest

from fastrl.cli import main


@pytest.mark.parametrize(("command", "flags", "message"), [
    ("cliff", ["--algo", "sarsa,monte-carlo"], "--algo monte-carlo: unknown method; expected one of sarsa, "
                                               "q-learning, expected-sarsa"),
    ("cliff", ["--epsilon", "-0.1"], "epsilon -0.1: expected a probability in [0, 1]"),
    ("cliff", ["--runs", "-5"], "runs -5: expected a positive count"),
    ("cliff", ["--alpha", "0"], "alpha 0.0: expected a step size in (0, 1]"),
    ("gridworld", ["--gamma", "1.2"], "gamma 1.2: expected a discount in [0, 1]"),
    ("gridworld", ["--runs", "1"], "runs 1, episodes 1000: expected at least 2 runs (their spread is the "
                                   "tolerance) and 1 episode"),
])
def test_bad_input_is_one_line(command, flags, message, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("FASTRL_TRACEBACK", raising=False)
    assert main(["tabular", command, *flags, "--out", str(tmp_path / "record")]) == 2
    assert capsys.readouterr().err.strip() == f"fastrl tabular {command}: error: {message}"
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


def test_gridworld_run_records_every_method(tmp_path, capsys):
    out = tmp_path / "prediction"
    assert main(["tabular", "gridworld", "--runs", "2", "--episodes", "3", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    cases = [row["case"] for row in record["records"]]
    assert cases == ["gridworld-4x4/policy-evaluation", "gridworld-4x4/first-visit MC", "gridworld-4x4/every-visit MC",
                     "gridworld-4x4/TD(0) online", "gridworld-4x4/TD(0) end of episode"]
    assert record["records"][0]["value"] < 1e-6  # policy evaluation: the linear solve's values
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the value heat maps
