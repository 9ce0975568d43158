"""``fastrl profile ops``: every op, size and backend timed against its torch reference.

For each case (an op at one size, from ``fastrl/ops/<op>/cases.py``) the providers are: every registry
backend available on the device, ``torch.compile`` of the reference, and the case's peers (the per-sample
loops public code uses, peer libraries). Each provider's output is first compared with the reference's on
the same inputs (``torch.testing.assert_close``, tolerances by dtype); then it is timed over many calls
(``fastrl.benchmarks.timing``). A row says the median and p20/p80 in microseconds, the speedups over the
reference and over ``torch.compile``, the achieved GB/s (the case's minimum bytes moved / median) and that as
a share of the device's copy bandwidth, measured once per run.

The backend recorded is the one the registry says ran, not the one asked for. Triton on CPU tensors runs in
its interpreter and is not timed. ``torch.compile`` is measured apart: its compile time (the first call) is a
field of its row, and a reference that does not compile (no C compiler, an unsupported op) is skipped with
the reason in the file's ``meta.skipped``.

Allocator settings (``MALLOC_*``, ``PYTORCH_*``) go into ``meta.allocator``: on a VM where a page fault costs
microseconds, code that allocates per call swings with them.
"""

from __future__ import annotations

import importlib
import inspect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import torch
import tyro

from fastrl import records
from fastrl.benchmarks import timing
from fastrl.ops import OP_PACKAGES as OP_NAMES
from fastrl.ops import _registry
from fastrl.ops._cases import Case

COMPILE = "torch.compile"
SUITE = "ops"
TABLE_COLUMNS = ("p20_us", "p80_us", "speedup_vs_reference", "speedup_vs_compile", "gb_per_s", "pct_of_copy_bw",
                 "checked")


@dataclass
class ProfileOpsConfig:
    """Time each op and backend against its torch reference; print a table and write JSON records."""

    op: tuple[str, ...] = ()
    """Ops to profile (default: every op of OP_NAMES whose cases module exists yet)."""
    sizes: tuple[str, ...] = ()
    """Sizes instead of each op's defaults, read by the op's cases(): e.g. B=512 or B=512:cap=1000 (give --op
    with op-specific keys)."""
    json: Path | None = None
    """Where to write the records (default: profiles/<hardware>/ops.json)."""
    device: Literal["cpu", "cuda"] | None = None
    """Device of the tensors (default: cuda where torch sees one, else cpu)."""
    repeats: int = 100
    """Timed calls per provider."""
    warmup: int = 10
    """Untimed calls per provider before timing."""
    compile: bool = True
    """Include torch.compile of the reference as a provider."""
    flush_l2: bool = True
    """On CUDA, flush L2 before each timed call (the replay's data is cold in training)."""
    copy_mib: int = 256
    """Size of the copy that measures the device's bandwidth, MiB."""


# ----------------------------------------------------------------------------- cases and providers

def case_modules(names: tuple[str, ...] = OP_NAMES, required: bool = False) -> dict[str, ModuleType]:
    """``fastrl.ops.<name>.cases`` for each name. A missing one is skipped with a note (or, when
    ``required``, raises); one that exists but fails to import raises."""
    modules = {}
    for name in names:
        path = f"fastrl.ops.{name}.cases"
        try:
            modules[name] = importlib.import_module(path)
        except ModuleNotFoundError as e:
            if e.name not in (f"fastrl.ops.{name}", path) or required:
                raise
            print(f"note: {path} does not exist yet; {name} is not profiled")
    return modules


def discover_cases(device: torch.device | str, names: tuple[str, ...] = OP_NAMES,
                   sizes: tuple[str, ...] | None = None, required: bool = False) -> list[Case]:
    cases: list[Case] = []
    for name, module in case_modules(names, required).items():
        cases.extend(_module_cases(name, module, torch.device(device), list(sizes) if sizes else None))
    return cases


def _module_cases(name: str, module: ModuleType, device: torch.device, sizes: list[str] | None) -> list[Case]:
    """``module.cases(device, sizes)``; a ``cases()`` that takes fewer arguments gets what it takes (its own
    defaults, with a note where sizes were asked for)."""
    takes = len(inspect.signature(module.cases).parameters)
    if takes < 2 and sizes:
        print(f"note: {name}'s cases() takes no sizes; its default sizes are profiled")
    return module.cases(*(device, sizes)[:takes])


@dataclass
class Provider:
    name: str                                  #: the row's backend before it runs (registry kind, COMPILE, peer)
    fn: Callable[[dict[str, Any]], Any]
    registry: bool = False                     #: a registry backend: the backend that ran is read back


def providers(case: Case, device: torch.device, with_compile: bool = True) -> tuple[list[Provider], list[dict]]:
    """The providers to time for ``case`` (reference first) and the ones skipped, with reasons."""
    chosen = [Provider("reference", lambda inputs: case.run(inputs, "reference"), registry=True)]
    skipped = []
    if with_compile:
        chosen.append(Provider(COMPILE, compiled(case.reference)))
    for backend in _registry.backends(case.op):
        if backend == "reference":
            continue
        reason = _registry.unavailable_reason(case.op, backend, device)
        if reason is None and backend == "triton" and device.type == "cpu":
            reason = "triton on CPU tensors runs in its interpreter (TRITON_INTERPRET=1): correct, not a speed"
        if reason:
            skipped.append(_note(case, backend, reason))
        else:
            chosen.append(Provider(backend, lambda inputs, b=backend: case.run(inputs, b), registry=True))
    chosen.extend(Provider(name, fn) for name, fn in case.peers.items())
    return chosen, skipped


def compiled(reference: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """``torch.compile`` of ``reference``, compiled at its first call from a clean state (static shapes, no
    recompile limits carried over from an earlier case), so the first call's time is the compile time."""
    fn = None

    def call(inputs: dict[str, Any]) -> Any:
        nonlocal fn
        if fn is None:
            torch.compiler.reset()
            fn = torch.compile(reference, dynamic=False)
        return fn(inputs)

    return call


def _note(case: Case, provider: str, reason: str) -> dict:
    return {"case": f"{case.op}/{case.label}", "backend": provider, "reason": reason}


def fresh_inputs(case: Case, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """The case's inputs made anew from a fixed seed: every provider gets its own identical set, so one that
    writes in place or carries state (``out=``, a sum tree, a generator) cannot change what the next one
    sees, nor alias the output it is compared with."""
    torch.manual_seed(seed)
    return case.make_inputs(device)


def snapshot(output: Any) -> Any:
    """A copy of an op's output (a tensor, or a tuple or list of them) that later calls cannot overwrite."""
    if isinstance(output, torch.Tensor):
        return output.detach().clone()
    if isinstance(output, (tuple, list)):
        return type(output)(snapshot(o) for o in output) if not hasattr(output, "_fields") else \
            type(output)(*(snapshot(o) for o in output))
    return output


def mismatch(expected: Any, got: Any) -> str | None:
    """Why ``got`` differs from the reference's ``expected`` (dtype-based tolerances), or None."""
    try:
        torch.testing.assert_close(got, expected)
    except (AssertionError, TypeError, ValueError) as e:
        return "; ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__
    return None


# ----------------------------------------------------------------------------- one case

@dataclass
class _Measured:
    provider: Provider
    ran: str
    timing: timing.Timing
    checked: bool
    mismatch: str | None
    compile_s: float | None = None


def profile_case(case: Case, device: torch.device, config: ProfileOpsConfig, copy_gb_s: float,
                 skipped: list[dict], failures: list[dict]) -> list[dict]:
    """Check and time every provider of ``case``; return its rows (appending skips and failures)."""
    name = f"{case.op}/{case.label}"
    chosen, skips = providers(case, device, config.compile)
    skipped.extend(skips)
    bytes_moved = int(case.bytes_moved(fresh_inputs(case, device)))
    expected = None
    measured: list[_Measured] = []
    for provider in chosen:
        try:
            start = time.perf_counter()
            inputs = fresh_inputs(case, device)
            got = provider.fn(inputs)
            timing.synchronize(device)
            first_call_s = time.perf_counter() - start
        except Exception as e:  # report every provider; one failure must not hide the others
            if provider.name == COMPILE:
                skipped.append(_note(case, COMPILE, f"does not compile: {type(e).__name__}: {_first_line(e)}"))
            else:
                failures.append(_note(case, provider.name, f"{type(e).__name__}: {_first_line(e)}"))
            if provider.name == "reference":
                return []
            continue
        ran = _registry.last_backend(case.op) if provider.registry else provider.name
        if provider.name == "reference":
            expected = snapshot(got)  # the timed calls below may write into the same out= tensors
        comparable = provider.registry or provider.name in ("reference", COMPILE) or case.peers_comparable
        diff = mismatch(expected, got) if comparable else None
        if diff:
            failures.append(_note(case, ran, f"output differs from the reference: {diff}"))
        try:
            t = timing.time_calls(lambda p=provider, x=inputs: p.fn(x), device, config.repeats, config.warmup,
                                  flush_l2=config.flush_l2)
        except Exception as e:
            failures.append(_note(case, ran, f"failed while timed: {type(e).__name__}: {_first_line(e)}"))
            continue
        if provider.registry and _registry.last_backend(case.op) != ran:
            failures.append(_note(case, provider.name, f"ran {ran} when checked but "
                                                      f"{_registry.last_backend(case.op)} when timed"))
        measured.append(_Measured(provider, ran, t, comparable and diff is None, diff,
                                  first_call_s if provider.name == COMPILE else None))
    return _rows(name, device, config, measured, bytes_moved, copy_gb_s)


def _rows(name: str, device: torch.device, config: ProfileOpsConfig, measured: list[_Measured],
          bytes_moved: int, copy_gb_s: float) -> list[dict]:
    medians = {m.provider.name: m.timing.median_us for m in measured}
    rows = []
    for m in measured:
        median = m.timing.median_us
        gb_per_s = bytes_moved / (median * 1e-6) / 1e9
        extra: dict[str, Any] = {
            "p20_us": m.timing.p20_us,
            "p80_us": m.timing.p80_us,
            "speedup_vs_reference": medians["reference"] / median if "reference" in medians else None,
            "speedup_vs_compile": medians[COMPILE] / median if COMPILE in medians else None,
            "gb_per_s": gb_per_s,
            "pct_of_copy_bw": 100.0 * gb_per_s / copy_gb_s,
            "checked": m.checked,
            "bytes_moved": bytes_moved,
            "device": str(device),
            "repeats": config.repeats,
        }
        if m.provider.name != m.ran:
            extra["requested"] = m.provider.name
        if m.mismatch:
            extra["mismatch"] = m.mismatch
        if m.compile_s is not None:
            extra["compile_s"] = m.compile_s
        rows.append(records.record(SUITE, name, m.ran, "median_us", median, "us", **extra))
    return rows


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


# ----------------------------------------------------------------------------- the command

def main(argv: list[str] | None = None, prog: str = "fastrl profile ops") -> int:
    config = tyro.cli(ProfileOpsConfig, args=argv, prog=prog)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{prog}: --device cuda, but torch sees no CUDA device")
        return 2
    if config.repeats < 1 or config.warmup < 0 or config.copy_mib < 1:
        print(f"{prog}: need --repeats >= 1, --warmup >= 0 and --copy-mib >= 1")
        return 2
    try:
        cases = discover_cases(device, config.op or OP_NAMES, config.sizes, required=bool(config.op))
    except ModuleNotFoundError as e:
        if config.op and e.name in {f"fastrl.ops.{n}{s}" for n in config.op for s in ("", ".cases")}:
            print(f"{prog}: no op {e.name.split('.')[2]!r} with a cases module; known: {', '.join(OP_NAMES)}")
            return 2
        raise
    except ValueError as e:  # a size an op cannot read
        print(f"{prog}: {e}")
        return 2
    load_before = os.getloadavg()
    copy_gb_s = timing.copy_bandwidth_gb_s(device, config.copy_mib << 20)
    rows: list[dict] = []
    skipped: list[dict] = []
    failures: list[dict] = []
    for case in cases:
        rows.extend(profile_case(case, device, config, copy_gb_s, skipped, failures))

    records.print_table(rows, title=f"ops on {device} (copy bandwidth {copy_gb_s:,.1f} GB/s)",
                        extra_columns=TABLE_COLUMNS)
    for item in skipped:
        print(f"skipped {item['case']} {item['backend']}: {item['reason']}")
    for item in failures:
        print(f"FAILED {item['case']} {item['backend']}: {item['reason']}")
    meta = records.run_meta(config)
    meta.update({
        "device": str(device),
        "copy_bandwidth_gb_s": copy_gb_s,
        "copy_bytes": config.copy_mib << 20,
        "timing": ("CUDA events around each call after a synchronize" + (", L2 flushed before each" if
                   config.flush_l2 else "") if device.type == "cuda" else "perf_counter_ns around each call"),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "allocator": timing.allocator_env(),
        "skipped": skipped,
        "failures": failures,
    })
    path = records.write_records(config.json or records.default_path(SUITE), rows, meta)
    print(f"wrote {len(rows)} records to {path}")
    return 1 if failures else 0
