"""``fastrl check`` probes the real parts; on this project's machines every required part works."""

from __future__ import annotations

from fastrl import check


def test_required_parts_work_here():
    found = {p.part: p for p in check.probes(check.CheckConfig(envs=True))}
    broken = {name: p.detail for name, p in found.items() if p.required and p.status != "ok"}
    assert broken == {}
    assert "env Pong-v5 [envpool]" in found and "env Catch-v0 [native]" in found


def test_a_broken_probe_is_reported_with_its_reason():
    def fails() -> str:
        raise RuntimeError("the engine would not start")

    probe = check._run("engine", True, fails)
    assert probe.status == "BROKEN" and "the engine would not start" in probe.detail and probe.trace


def test_exit_code_is_zero_when_required_parts_work(capsys):
    assert check.main(["--no-envs"]) == 0
    out = capsys.readouterr().out
    assert "all required parts work" in out and "sumtree" in out
