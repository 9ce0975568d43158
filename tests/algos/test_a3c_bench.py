"""``fastrl bench train --algo a3c``: records of env steps/s and updates/s per worker count, and the plot."""

from __future__ import annotations

import json

from fastrl.benchmarks import train_a3c


def test_bench_writes_records_and_the_scaling_plot(tmp_path):
    path = tmp_path / "train_a3c.json"
    assert train_a3c.main(["--algo", "a3c", "--preset", "a3c-catch", "--workers", "1", "2", "--seconds", "1",
                           "--warmup", "0.5", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    rows = {(r["workers"], r["metric"]): r for r in data["records"]}
    assert set(rows) == {(w, m) for w in (1, 2) for m in ("env_steps_per_s", "updates_per_s", "env_steps_per_cpu_s")}
    assert all(r["value"] > 0 and 0 < r["cpu_share"] <= 1.05 for r in rows.values())
    assert rows[(1, "env_steps_per_s")]["speedup"] == 1.0
    two = rows[(2, "env_steps_per_s")]
    assert two["speedup"] == two["value"] / rows[(1, "env_steps_per_s")]["value"] and len(two["per_worker"]) == 2
    assert data["meta"]["config"]["workers"] == [1, 2]
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
