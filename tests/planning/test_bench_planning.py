"""``fastrl bench planning`` measures the batched search beside the reference in one run and writes records."""

from __future__ import annotations

import json

from fastrl.cli import main


def test_bench_planning_writes_both_searches_rates(tmp_path, capsys):
    path = tmp_path / "planning.json"
    assert main(["bench", "planning", "--batch", "1,8", "--simulations", "4", "--reference-games", "2", "--repeats",
                 "1", "--json", str(path)]) == 0
    assert "fastrl bench planning" in capsys.readouterr().out
    data = json.loads(path.read_text())
    rows = {(r["backend"], r["games"]): r for r in data["records"]}
    assert set(rows) == {("reference", 2), ("batched", 1), ("batched", 8)}
    assert all(r["metric"] == "simulations_per_s" and r["value"] > 0 for r in rows.values())
    assert rows[("reference", 2)]["speedup_vs_reference"] == 1.0
    assert data["meta"]["config"]["simulations"] == 4 and data["meta"]["git_sha"]
