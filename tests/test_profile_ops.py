"""``fastrl profile ops`` on one tiny case: the records it writes, its checks, its discovery of case modules;
and the timing helpers it shares with the other benches."""

from __future__ import annotations

import json
import sys

import pytest
import torch

import fastrl.ops
from fastrl import cli, records
from fastrl.benchmarks import ops, timing
from fastrl.ops.frame_stack_gather import cases as fsg_cases

TINY = "B=3:cap=8:H=4:W=4"
FAST = ["--repeats", "5", "--warmup", "1", "--copy-mib", "1", "--device", "cpu"]


def _profile(tmp_path, *flags):
    path = tmp_path / "ops.json"
    code = cli.main(["profile", "ops", "--op", "frame_stack_gather", "--sizes", TINY, *FAST, "--json", str(path),
                     *flags])
    return code, json.loads(path.read_text()) if path.exists() else None


def test_records_structure(tmp_path, capsys):
    code, data = _profile(tmp_path, "--no-compile")
    assert code == 0
    rows = {row["backend"]: row for row in data["records"]}
    assert set(rows) == {"reference", "loop"}  # triton (interpreter) and cuda are skipped on the CPU
    for row in rows.values():
        assert all(k in row for k in records.REQUIRED)
        assert (row["suite"], row["case"]) == ("ops", "frame_stack_gather/B=3,cap=8,stack=4,4x4")
        assert (row["metric"], row["unit"], row["device"], row["repeats"]) == ("median_us", "us", "cpu", 5)
        assert 0 < row["p20_us"] <= row["value"] <= row["p80_us"]
        assert row["checked"] is True
        assert row["speedup_vs_compile"] is None
        assert row["gb_per_s"] == pytest.approx(row["bytes_moved"] / row["value"] / 1e3)
        assert row["pct_of_copy_bw"] == pytest.approx(100 * row["gb_per_s"] / data["meta"]["copy_bandwidth_gb_s"])
    assert rows["reference"]["speedup_vs_reference"] == 1.0
    assert rows["loop"]["speedup_vs_reference"] == pytest.approx(rows["reference"]["value"] / rows["loop"]["value"])
    meta = data["meta"]
    assert meta["device"] == "cpu" and meta["copy_bandwidth_gb_s"] > 0 and meta["failures"] == []
    assert isinstance(meta["allocator"], dict) and meta["config"]["sizes"] == [TINY]
    reasons = {item["backend"]: item["reason"] for item in meta["skipped"]}
    assert "interpreter" in reasons["triton"] or "TRITON_INTERPRET" in reasons["triton"]
    assert "cuda" in reasons
    out = capsys.readouterr().out
    assert "skipped frame_stack_gather" in out and f"wrote 2 records to {tmp_path}" in out


@pytest.mark.slow
def test_torch_compile_provider(tmp_path):
    """Compiles the reference (a C compiler is needed on the CPU): its row carries the compile time, or the
    reason it did not compile is recorded."""
    code, data = _profile(tmp_path)
    assert code == 0
    rows = {row["backend"]: row for row in data["records"]}
    if "torch.compile" not in rows:
        reason = {item["backend"]: item["reason"] for item in data["meta"]["skipped"]}["torch.compile"]
        pytest.skip(f"torch.compile does not work here: {reason}")
    compiled = rows["torch.compile"]
    assert compiled["checked"] is True and compiled["compile_s"] > 0
    assert compiled["speedup_vs_compile"] == 1.0
    assert rows["reference"]["speedup_vs_compile"] == pytest.approx(compiled["value"] / rows["reference"]["value"])


def test_a_provider_that_disagrees_is_a_failure():
    (case,) = fsg_cases.cases("cpu", [TINY])
    case.peers = {"off_by_one": lambda inputs: case.reference(inputs) + 1}
    config = ops.ProfileOpsConfig(repeats=2, warmup=0, compile=False)
    skipped, failures = [], []
    rows = ops.profile_case(case, torch.device("cpu"), config, 1.0, skipped, failures)
    bad = {row["backend"]: row for row in rows}["off_by_one"]
    assert bad["checked"] is False and "Mismatched elements" in bad["mismatch"]
    assert [f["backend"] for f in failures] == ["off_by_one"]


def test_stateful_cases_writing_into_out_are_checked_on_fresh_inputs():
    """A sum-tree round returns its ``out=`` buffer and changes the tree: the reference's answer must be kept
    before the timed calls overwrite it, and each provider must start from the same tree."""
    from fastrl.ops.sumtree import cases as sumtree_cases

    (case,) = sumtree_cases.cases("cpu", [(1000, 16)])
    config = ops.ProfileOpsConfig(repeats=5, warmup=1, compile=False)
    skipped, failures = [], []
    rows = ops.profile_case(case, torch.device("cpu"), config, 1.0, skipped, failures)
    assert failures == []
    assert {row["backend"] for row in rows} >= {"reference", "numba"}
    assert all(row["checked"] for row in rows if row["backend"] != "torchrl")  # torchrl draws its own numbers
    assert not any(row["checked"] for row in rows if row["backend"] == "torchrl")


def test_mismatch_uses_dtype_tolerances():
    x = 1 + torch.rand(100)
    assert ops.mismatch(x, x + 1e-7) is None
    assert ops.mismatch(x, x + 1e-3) is not None  # float32: rtol 1.3e-6
    assert ops.mismatch(x.to(torch.bfloat16), (x + 1e-3).to(torch.bfloat16)) is None  # at most one bf16 step
    assert ops.mismatch((x, torch.arange(3)), (x, torch.arange(3))) is None
    assert ops.mismatch(torch.arange(3), torch.arange(3).to(torch.int32)) is not None


def test_missing_case_modules_are_skipped_with_a_note(capsys):
    modules = ops.case_modules(("frame_stack_gather", "no_such_op"))
    assert list(modules) == ["frame_stack_gather"]
    assert "fastrl.ops.no_such_op.cases does not exist yet" in capsys.readouterr().out
    with pytest.raises(ModuleNotFoundError):
        ops.case_modules(("no_such_op",), required=True)


def test_unknown_op_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["profile", "ops", "--op", "no_such_op", *FAST, "--json", str(tmp_path / "x.json")])
    assert code == 2 and "no op 'no_such_op'" in capsys.readouterr().out


def test_bad_size_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["profile", "ops", "--op", "frame_stack_gather", "--sizes", "B=3:zz=1", *FAST])
    assert code == 2 and "cannot read 'zz=1'" in capsys.readouterr().out


@pytest.fixture
def broken_op(tmp_path, monkeypatch):
    """A real op folder whose cases module imports something that is not installed."""
    folder = tmp_path / "broken_op"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "cases.py").write_text("import fastrl_not_installed_anywhere\n")
    monkeypatch.setattr(fastrl.ops, "__path__", [*fastrl.ops.__path__, str(tmp_path)])
    yield "broken_op"
    for name in ("fastrl.ops.broken_op.cases", "fastrl.ops.broken_op"):
        sys.modules.pop(name, None)


def test_a_cases_module_that_fails_to_import_is_an_error(broken_op):
    with pytest.raises(ModuleNotFoundError, match="fastrl_not_installed_anywhere"):
        ops.case_modules((broken_op,))


# ----------------------------------------------------------------------------- timing helpers

def test_timing_percentiles():
    t = timing.Timing(tuple(float(i) for i in range(1, 102)))
    assert (t.p20_us, t.median_us, t.p80_us) == (21.0, 51.0, 81.0)


def test_time_calls_times_each_call():
    calls = []
    t = timing.time_calls(lambda: calls.append(1), "cpu", repeats=7, warmup=3)
    assert len(t.samples_us) == 7 and len(calls) == 10 and min(t.samples_us) >= 0
    with pytest.raises(ValueError):
        timing.time_calls(lambda: None, "cpu", repeats=0, warmup=0)


def test_copy_bandwidth_and_allocator_env(monkeypatch):
    assert timing.copy_bandwidth_gb_s("cpu", nbytes=1 << 20, repeats=2) > 0
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setenv("PYTORCH_NO_CUDA_MEMORY_CACHING", "0")
    env = timing.allocator_env()
    assert env["MALLOC_ARENA_MAX"] == "2" and env["PYTORCH_NO_CUDA_MEMORY_CACHING"] == "0"
