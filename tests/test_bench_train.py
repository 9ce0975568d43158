"""``fastrl bench train`` writes well-formed records: end-to-end beside its env-only and learner-only bounds."""

from __future__ import annotations

import gzip
import json

import pytest

from fastrl.benchmarks.train import main


def test_bench_train_records_the_three_rates_and_the_stages(tmp_path):
    path = tmp_path / "train.json"
    assert main(["--preset", "dqn-catch", "--seconds", "0.5", "--fill", "200", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    rows = {(r["backend"], r["metric"]): r for r in data["records"]}
    end_to_end = rows[("fastrl", "env_steps_per_s")]
    env_only = rows[("env-only", "env_steps_per_s")]["value"]
    bound = rows[("learner-only", "env_steps_per_s")]["value"]
    assert bound == rows[("learner-only", "updates_per_s")]["value"] / end_to_end["replay_ratio"]
    assert end_to_end["ratio_vs_bound"] == end_to_end["value"] / min(env_only, bound)
    assert all(v > 0 for v in (end_to_end["value"], env_only, bound))
    for stage in ("env", "act", "replay_add", "sample", "update"):
        assert rows[("fastrl", f"ms_{stage}")]["value"] > 0
    assert data["meta"]["config"]["preset"] == ["dqn-catch"]


def test_bench_train_ppo_records_the_bounds_and_the_stages(tmp_path):
    path = tmp_path / "train.json"
    assert main(["--preset", "ppo-catch", "--seconds", "0.5", "--learner-options", "epochs=2", "--json",
                 str(path), "--compare", "epochs=1", "lr=0.001 minibatches=2", "--compare-rounds", "2"]) == 0
    data = json.loads(path.read_text())
    rows = {(r["backend"], r["metric"]): r for r in data["records"]}
    end_to_end = rows[("fastrl", "env_steps_per_s")]
    env_only = rows[("env-only", "env_steps_per_s")]["value"]
    bound = rows[("learner-only", "env_steps_per_s")]["value"]
    assert end_to_end["epochs"] == 2 and rows[("learner-only", "samples_per_s")]["value"] == 2 * bound
    assert end_to_end["ratio_vs_bound"] == end_to_end["value"] / min(env_only, bound)
    serial = rows[("env+learner", "env_steps_per_s")]["value"]
    assert serial == 1.0 / (1.0 / env_only + 1.0 / bound)
    assert end_to_end["ratio_vs_serial"] == end_to_end["value"] / serial
    # the machine's ceiling: its cores over the CPU time of a step's stepping, forward pass and update share
    ceiling = rows[("cpu-ceiling", "env_steps_per_s")]
    cpu_us = [rows[(b, "env_steps_per_s")]["cpu_us_per_step"] for b in ("env-only", "act-only", "learner-only")]
    assert all(us > 0 for us in cpu_us) and rows[("act-only", "env_steps_per_s")]["value"] > 0
    assert ceiling["value"] == pytest.approx(ceiling["cores"] * 1e6 / sum(cpu_us))
    assert end_to_end["ratio_vs_ceiling"] == end_to_end["value"] / ceiling["value"]
    assert ceiling["ratio_vs_bound"] == ceiling["value"] / min(env_only, bound)
    # --compare: each option set beside the preset's learner, measured in the same alternating rounds
    for part in ("learner-only", "act-only"):
        preset_rate = rows[(f"{part}[preset]", "env_steps_per_s")]["value"]
        for options in ("epochs=1", "lr=0.001 minibatches=2"):
            row = rows[(f"{part}[{options}]", "env_steps_per_s")]
            assert row["rounds"] == 2 and row["ratio_vs_preset"] == row["value"] / preset_rate
    assert all(v > 0 for v in (end_to_end["value"], env_only, bound))
    assert 0 < end_to_end["learning_share"] < 1
    for stage in ("env", "act", "store", "advantages", "update"):
        assert rows[("fastrl", f"ms_{stage}")]["value"] > 0


def test_compare_is_refused_before_any_measurement_where_it_cannot_run(capsys):
    for argv, message in (
            (["--preset", "dqn-catch", "--compare", "lr=0.001"],
             "--compare holds PPO learner options against each other; preset 'dqn-catch' is dqn"),
            (["--preset", "ppo-catch", "--compare", "epochs=1", "clip_coeff=0.2"],
             "--compare: clip_coeff not fields of PPOConfig"),
            (["--preset", "ppo-catch", "--compare", "epochs"], "--compare 'epochs': expected KEY=VALUE"),
            (["--preset", "ppo-catch", "--compare", "epochs=1", "--compare-rounds", "0"],
             "--compare-rounds must be >= 1")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


@pytest.mark.parametrize("name, iteration", [("dqn-catch", "env step"), ("ppo-catch", "rollout")])
def test_profile_writes_a_chrome_trace_of_steady_state_iterations(tmp_path, monkeypatch, name, iteration):
    """--profile: a Chrome trace of the preset's loop past its start-up, one ProfilerStep range per iteration
    (an off-policy env step, an on-policy rollout), with torch's operators inside and the preset's resolved
    hardware choices in the PPO records."""
    monkeypatch.chdir(tmp_path)
    assert main(["--preset", name, "--seconds", "0.2", "--fill", "200", "--json", str(tmp_path / "t.json"),
                 "--profile"]) == 0
    traces = list((tmp_path / "profiles").glob(f"*/traces/train-{name}-Catch-v0.json.gz"))
    assert len(traces) == 1, traces
    events = json.loads(gzip.decompress(traces[0].read_bytes()))["traceEvents"]
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == (10 if iteration == "env step" else 2), steps
    assert any(e.get("name", "").startswith("aten::") for e in events)
    if name == "ppo-catch":
        row = json.loads((tmp_path / "t.json").read_text())["records"][0]
        assert row["bf16"] is False and set(row["hardware_choices"]) == {"omp_wait_policy", "bf16", "channels_last", "compile"}


def test_busy_cores_measures_the_loop_beside_spinning_processes(tmp_path):
    path = tmp_path / "train.json"
    assert main(["--preset", "dqn-catch", "--seconds", "0.3", "--fill", "200", "--busy-cores", "1", "--json",
                 str(path)]) == 0
    rows = {r["backend"]: r for r in json.loads(path.read_text())["records"] if r["metric"] == "env_steps_per_s"}
    busy, idle = rows["fastrl[busy 1]"], rows["fastrl"]
    assert busy["busy_cores"] == 1 and busy["ratio_vs_idle"] == busy["value"] / idle["value"] > 0
    assert busy["case"] == idle["case"] and busy["preset"] == "dqn-catch"
