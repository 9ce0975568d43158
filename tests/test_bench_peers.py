"""fastrl bench peers: both sides measured in the same rounds; bad flags refused in one line."""

from __future__ import annotations

import json
import statistics

import pytest

from fastrl.benchmarks.peers import main


def run_peers(tmp_path, *argv: str) -> dict[str, dict]:
    """``fastrl bench peers ARGV``'s records by backend (skips where SB3 is not installed)."""
    pytest.importorskip("stable_baselines3", reason="the SB3 peer installs with ./install.sh peers")
    path = tmp_path / "peers.json"
    assert main([*argv, "--json", str(path)]) == 0
    return {r["backend"]: r for r in json.loads(path.read_text())["records"]}


@pytest.mark.slow
def test_peers_records_both_sides_per_round_and_their_ratio(tmp_path):
    rows = run_peers(tmp_path, "--cases", "dqn-cartpole", "--rounds", "2", "--scale", "0.05")
    fastrl, sb3 = rows["fastrl"], rows["sb3"]
    assert len(fastrl["per_round"]) == len(sb3["per_round"]) == 2 and fastrl["steps_per_round"] == 500
    ratios = [f / s for f, s in zip(fastrl["per_round"], sb3["per_round"], strict=True)]
    assert fastrl["ratio_vs_peer"] == pytest.approx(statistics.median(ratios))
    assert fastrl["value"] == statistics.median(fastrl["per_round"]) and sb3["value"] == statistics.median(
        sb3["per_round"])
    assert fastrl["case"] == sb3["case"] == "dqn-cartpole/sb3-settings/cpu"


@pytest.mark.slow
def test_peers_runs_sb3_ppo_on_atari_beside_fastrl_ppo_atari(tmp_path):
    rows = run_peers(tmp_path, "--cases", "ppo-pong", "--rounds", "1", "--scale", "0.25")
    assert set(rows) == {"fastrl", "sb3"}  # no roofline rows for the on-policy case
    assert rows["fastrl"]["num_envs"] == rows["sb3"]["num_envs"] == 8 and rows["fastrl"]["batch_size"] == 256
    assert rows["fastrl"]["value"] > 0 and rows["sb3"]["value"] > 0


@pytest.mark.slow
def test_peers_runs_cleanrls_own_ppo_atari_script_beside_fastrl_ppo_atari(tmp_path):
    path = tmp_path / "peers.json"
    assert main(["--cases", "ppo-pong-cleanrl", "--rounds", "1", "--scale", "0.25", "--json", str(path)]) == 0
    rows = {r["backend"]: r for r in json.loads(path.read_text())["records"]}
    assert set(rows) == {"fastrl", "cleanrl"} and rows["fastrl"]["case"] == "ppo-pong-cleanrl/cleanrl-settings/cpu"
    assert rows["cleanrl"]["value"] > 0 and rows["fastrl"]["ratio_vs_peer"] == pytest.approx(
        rows["fastrl"]["value"] / rows["cleanrl"]["value"])


@pytest.mark.parametrize("argv, message", [(["--cases", "sac-humanoid"], "--cases sac-humanoid: expected some of"),
                                           (["--rounds", "0"], "expected rounds >= 1")])
def test_peers_refuses_what_cannot_run_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
