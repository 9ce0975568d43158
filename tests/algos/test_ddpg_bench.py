"""``fastrl bench train --algo td3`` writes well-formed records: end-to-end beside its env-only and learner-only
bounds, with the loop's per-stage times."""

from __future__ import annotations

import json

from fastrl.benchmarks.train import main


def test_bench_train_td3_records_the_three_rates_and_the_stages(tmp_path):
    path = tmp_path / "train.json"
    assert main(["--preset", "td3-pendulum", "--seconds", "0.4", "--fill", "200", "--learner-options",
                 "hidden=[32,32]", "replay_ratio=0.5", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["meta"]["config"]["preset"] == ["td3-pendulum"]
    rows = {(r["backend"], r["metric"]): r for r in data["records"]}
    end_to_end = rows[("fastrl", "env_steps_per_s")]
    env_only = rows[("env-only", "env_steps_per_s")]["value"]
    bound = rows[("learner-only", "env_steps_per_s")]["value"]
    assert end_to_end["algo"] == "td3" and end_to_end["env_id"] == "Pendulum-v1"
    assert end_to_end["hidden"] == [32, 32] and end_to_end["replay_ratio"] == 0.5
    assert bound == rows[("learner-only", "updates_per_s")]["value"] / 0.5
    assert end_to_end["ratio_vs_bound"] == end_to_end["value"] / min(env_only, bound)
    serial = rows[("env+learner", "env_steps_per_s")]["value"]
    assert serial == 1 / (1 / env_only + 1 / bound) and end_to_end["ratio_vs_serial"] == end_to_end["value"] / serial
    assert all(v > 0 for v in (end_to_end["value"], env_only, bound))
    for stage in ("env", "act", "replay_add", "sample", "update"):
        assert rows[("fastrl", f"ms_{stage}")]["value"] > 0
