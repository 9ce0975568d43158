"""``fastrl bench time-to-score``: steps to a score read from both curves, hours at the measured rates, and the
refusals. The rates themselves come from the peers bench's measurement (tested there); here they are given."""

from __future__ import annotations

import json

import pytest

from fastrl.benchmarks import time_to_score as tts
from fastrl.benchmarks.published import Published


def _iqm(points: list[tuple[int, float]], case: str = "ppo-atari/Pong-v5") -> list[dict]:
    return [{"suite": "learn", "case": case, "backend": "fastrl-iqm", "metric": "eval_return_iqm", "value": v,
             "unit": "return", "env_steps": x, "seeds": 1, "train_s_median": x / 500.0} for x, v in points]


def _published(points: list[tuple[int, float]]) -> list[Published]:
    return [Published("ppo", "PPO (CleanRL ppo_atari_envpool.py, curve)", "Pong-v5", x, "env_steps", v, None,
                      "src, approximate", "proto", True) for x, v in points]


def test_first_at_or_above_takes_the_first_crossing_not_the_best_point():
    points = [(100, -5.0), (200, 18.0), (300, 17.0), (400, 20.0)]
    assert tts.first_at_or_above(points, 18.0) == 200
    assert tts.first_at_or_above(points, 17.5) == 200
    assert tts.first_at_or_above(points, 19.0) == 400
    assert tts.first_at_or_above(points, 21.0) is None
    assert tts.first_at_or_above([], 0.0) is None


def test_grid_is_the_widest_spacing():
    assert tts.grid([500, 1000, 2000]) == 1000
    assert tts.grid([30]) is None


def test_estimate_divides_steps_by_each_side_s_rate():
    ours = _iqm([(500_000, -10.0), (1_000_000, 18.5), (1_500_000, 20.2)])
    theirs = _published([(1_000_000, 10.0), (2_000_000, 18.4), (3_000_000, 20.1)])
    rows = tts.estimate("ppo-atari/Pong-v5/cleanrl", "cleanrl", (18.0, 20.0), ours, theirs, 1000.0, 400.0)
    by = {(r["backend"], r["score"]): r for r in rows}
    assert by["fastrl", 18.0]["env_steps"] == 1_000_000
    assert by["fastrl", 18.0]["value"] == pytest.approx(1_000_000 / 1000.0 / 3600)
    assert by["fastrl", 18.0]["train_hours_here"] == pytest.approx(1_000_000 / 500.0 / 3600)
    assert by["cleanrl", 18.0]["env_steps"] == 2_000_000
    assert by["cleanrl", 18.0]["value"] == pytest.approx(2_000_000 / 400.0 / 3600)
    # (2M / 400) / (1M / 1000) = 5
    assert by["cleanrl", 18.0]["fastrl_sooner"] == pytest.approx(5.0)
    assert by["cleanrl", 20.0]["fastrl_sooner"] == pytest.approx((3_000_000 / 400) / (1_500_000 / 1000))
    assert by["cleanrl", 20.0]["read_off_figure"] is True
    assert by["fastrl", 20.0]["eval_grid"] == 500_000 and by["cleanrl", 20.0]["published_grid"] == 1_000_000


def test_a_score_fastrl_has_not_reached_keeps_the_peer_row_without_a_ratio():
    rows = tts.estimate("c", "cleanrl", (20.0,), _iqm([(500_000, 15.0)]), _published([(3_000_000, 20.1)]), 1.0, 1.0)
    assert [r["backend"] for r in rows] == ["cleanrl"]
    assert rows[0]["fastrl_sooner"] is None


def test_the_peer_curve_is_the_published_cleanrl_curve_in_env_steps():
    rows = tts.peer_curve("ppo-pong-cleanrl", "Pong-v5")
    assert rows and all(r.method.startswith("PPO (CleanRL ppo_atari_envpool.py") for r in rows)
    assert [r.x for r in rows] == sorted(r.x for r in rows)
    assert tts.peer_curve("td3-hopper", "Hopper-v5")[0].method == "TD3 (paper learning curves)"


def test_the_command_writes_rows_with_the_measured_rates(tmp_path, monkeypatch, capsys):
    learn = tmp_path / "learn.json"
    learn.write_text(json.dumps({"meta": {"git_sha": "abc"},
                                 "records": _iqm([(500_000, 0.0), (2_500_000, 18.2), (3_000_000, 17.5)])}))
    monkeypatch.setattr(tts, "rates", lambda config, case, rounds, scale: ([1000.0, 1100.0, 900.0],
                                                                           [440.0, 450.0, 430.0]))
    out = tmp_path / "tts.json"
    assert tts.main(["--learn", str(learn), "--peer", "ppo-pong-cleanrl", "--scores", "18", "20",
                     "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["meta"]["learn_record_sha"] == "abc"
    fastrl = [r for r in data["records"] if r["backend"] == "fastrl"]
    assert [r["score"] for r in fastrl] == [18.0] and fastrl[0]["env_steps_per_s"] == 1000.0
    assert "does not reach 20" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--peer", "ppo-pong", "--scores", "1"], "--peer ppo-pong: expected one of"),
    (["--peer", "td3-hopper", "--scores", "1"], "runs Hopper-v5, but the record's env is Pong-v5"),
    (["--peer", "ppo-pong-cleanrl"], "--scores: expected at least one score"),
    (["--peer", "ppo-pong-cleanrl", "--scores", "1", "--rounds", "0"], "expected rounds >= 1"),
])
def test_wrong_flags_get_one_line(tmp_path, capsys, args, message):
    learn = tmp_path / "learn.json"
    learn.write_text(json.dumps({"records": _iqm([(500_000, 0.0)])}))
    assert tts.main(["--learn", str(learn), *args]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_file_that_is_not_a_learn_record_gets_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert tts.main(["--learn", str(bad), "--peer", "ppo-pong-cleanrl", "--scores", "1"]) != 0
    assert "cannot read it as a bench-learn record" in capsys.readouterr().err
    bad.write_text(json.dumps({"records": []}))
    assert tts.main(["--learn", str(bad), "--peer", "ppo-pong-cleanrl", "--scores", "1"]) != 0
    assert "no fastrl-iqm rows" in capsys.readouterr().err
