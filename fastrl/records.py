"""Bench and profile records: the one format every `fastrl bench` / `fastrl profile` suite writes.

A records file is JSON: ``{"meta": {...}, "records": [row, ...]}``. Each row is one measurement::

    {"suite": "envs", "case": "Pong-v5/n16/sync", "backend": "envpool", "metric": "env_steps_per_s",
     "value": 4712.3, "unit": "1/s", ...extra fields}

and ``meta`` holds what makes a number readable later: git sha, date, CPU model and cores, GPUs (name,
memory, clocks through pynvml), library versions and the resolved config of the run.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from fastrl import telemetry
from fastrl.io import atomic_write_json

REQUIRED = ("suite", "case", "backend", "metric", "value", "unit")


def record(suite: str, case: str, backend: str, metric: str, value: float, unit: str, **extra: Any) -> dict:
    row = {"suite": suite, "case": case, "backend": backend, "metric": metric, "value": float(value),
           "unit": unit}
    row.update(extra)
    return row


def run_meta(config: Any = None) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    return {
        "git_sha": telemetry.git_sha(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": telemetry.cpu_info(),
        "gpus": telemetry.gpu_info(),
        "libraries": telemetry.library_versions(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("FASTRL_", "TRITON_INTERPRET", "OMP_"))},
        "config": config,
    }


def write_records(path: str | os.PathLike, records: list[dict], meta: dict[str, Any]) -> Path:
    for i, row in enumerate(records):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise ValueError(f"record {i} lacks the fields {missing}: {row}")
    return atomic_write_json(path, {"meta": meta, "records": records})


def default_path(suite: str) -> Path:
    """profiles/<hardware>/<suite>.json under the current directory."""
    return Path("profiles") / telemetry.hardware_slug() / f"{suite}.json"


def print_table(records: list[dict], title: str | None = None, extra_columns: tuple[str, ...] = ()) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for col in ("case", "backend", "metric", "value", "unit", *extra_columns):
        table.add_column(col, justify="right" if col in ("value", *extra_columns) else "left",
                         no_wrap=col in ("case", "backend", "metric"))  # names whole; numbers' headers may wrap
    for row in records:
        cells = [str(row["case"]), str(row["backend"]), str(row["metric"]), _fmt(row["value"]), str(row["unit"])]
        cells += [_fmt(row.get(c, "")) for c in extra_columns]
        table.add_row(*(Text(c) for c in cells))  # Text: brackets in names (learner-only[bf16=false]) are not markup
    Console(width=max(Console().width, 220)).print(table)  # a pipe gets 80 columns: too few


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e7:
            return f"{v:,.4g}" if abs(v) < 100 else f"{v:,.0f}"
        return f"{v:.3e}"
    return str(v)
