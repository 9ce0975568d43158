"""``fastrl bench train --algo a3c`` (or ``unreal``): Hogwild env steps/s and updates/s against the number of
workers.

For each worker count (``--workers 1,2,4,...``) the preset's workers run on their own (no evaluator, no
logging, no checkpoints) and their shared counters are read over ``--seconds``, after every worker has
taken its first step and ``--warmup`` more seconds have passed (so process start-up is not counted).
Records: env steps/s and updates/s per worker count, with the speed-up and the parallel efficiency
(speed-up ÷ workers) against the smallest count; the env steps per CPU second and the share of a core each
worker got (from /proc: on a machine shared with other work, the speed-up is bounded by the cores left, and
these two tell that apart from workers slowing each other down); and a plot of env steps/s against
workers beside linear scaling. The issue's targets: >= 1.8x at 2 workers vs 1 on a 2-core machine, >= 12x at 16 vs 1 on 16 cores.

Each worker is one process with one torch thread (and, for envpool, one engine thread), so workers beyond
the machine's cores only share them: the scaling bends there.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from fastrl import records
from fastrl.algos.base import lazy
from fastrl.config import preset

#: each Hogwild family's ``spec_for(config, observation_shape, actions)``
SPEC_FOR = {"a3c": lazy("fastrl.algos.a3c.workers:spec_for"), "unreal": lazy("fastrl.algos.unreal.workers:spec_for")}


@dataclass
class A3CBenchConfig:
    """A3C / async Q-learning throughput against the number of Hogwild workers."""

    algo: str = "a3c"
    """learner family: a3c or unreal (fastrl bench train --algo a3c or unreal routes here)"""
    preset: str = "a3c-atari"
    """preset to measure: a3c-atari, a3c-catch, a3c-cartpole, nstepq-catch (a3c); unreal-catch, unreal-minatar,
    unreal-base-minatar (unreal)"""
    env: str | None = None
    """env id (default: the preset's own)"""
    workers: tuple[int, ...] = (1, 2, 4)
    """worker counts to measure"""
    seconds: float = 20.0
    """length of each measurement"""
    warmup: float = 3.0
    """seconds after every worker's first step before counting"""
    lstm: bool | None = None
    """measure the LSTM network (default: the preset's)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/train_a3c.json only with --save)"""
    plot: Path | None = None
    """where to draw the scaling plot (default: beside the records, train_a3c.png)"""
    save: bool = False
    """write the records and plot under profiles/<hardware>/ when --json is not given"""


def bench_config(bench: A3CBenchConfig, workers: int):
    config = preset(bench.preset, bench.env)
    a3c = dataclasses.replace(config.a3c, workers=workers,
                              lstm=config.a3c.lstm if bench.lstm is None else bench.lstm)
    return dataclasses.replace(config, a3c=a3c, tensorboard=False, progress=False)


def measure(bench: A3CBenchConfig) -> list[dict]:

    if bench.algo not in SPEC_FOR:
        raise ValueError(f"--algo {bench.algo!r}: this suite measures the Hogwild families, {', '.join(SPEC_FOR)}")
    if preset(bench.preset).algo != bench.algo:
        raise ValueError(f"--preset {bench.preset}: a preset of {preset(bench.preset).algo}, not of --algo "
                         f"{bench.algo}")
    results = {}
    for n in bench.workers:
        config = bench_config(bench, n)
        results[n] = (config, measure_throughput(config, seconds=bench.seconds, warmup=bench.warmup))
        r = results[n][1]
        print(f"{n} worker(s): {r['env_steps_per_s']:,.0f} env steps/s, {r['updates_per_s']:,.0f} updates/s, "
              f"{r['env_steps_per_cpu_s']:,.0f} env steps per CPU second, each worker on {r['cpu_share']:.0%} of "
              f"a core", flush=True)
    base_n = min(results)
    base = results[base_n][1]["env_steps_per_s"]
    rows = []
    for n, (config, r) in results.items():
        speedup = r["env_steps_per_s"] / base
        common = {"preset": bench.preset, "env_id": config.env.id, "method": config.a3c.method,
                  "lstm": config.a3c.lstm, "t_max": config.a3c.t_max, "workers": n, "cores": os.cpu_count(),
                  "seconds": r["seconds"], "cpu_share": r["cpu_share"]}
        case = f"{bench.preset}/{config.env.id}/w{n}"
        rows.append(records.record("train_a3c", case, "fastrl", "env_steps_per_s", r["env_steps_per_s"], "1/s",
                                   speedup=speedup, efficiency=speedup * base_n / n,
                                   per_worker=r["per_worker_env_steps_per_s"], **common))
        rows.append(records.record("train_a3c", case, "fastrl", "updates_per_s", r["updates_per_s"], "1/s",
                                   **common))
        rows.append(records.record("train_a3c", case, "fastrl", "env_steps_per_cpu_s", r["env_steps_per_cpu_s"],
                                   "1/s", **common))
    return rows


def plot_scaling(rows: list[dict], path: Path) -> Path:
    """Env steps/s against workers, beside linear scaling from the smallest count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fastrl.io import atomic_write_bytes

    points = sorted((r["workers"], r["value"]) for r in rows if r["metric"] == "env_steps_per_s")
    workers = [w for w, _ in points]
    sps = [v for _, v in points]
    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(workers, sps, marker="o", label="measured")
    ax.plot(workers, [sps[0] * w / workers[0] for w in workers], linestyle="--", color="gray", label="linear")
    ax.axvline(os.cpu_count(), color="tab:red", alpha=0.3, label=f"{os.cpu_count()} cores")
    ax.set_xticks(workers)
    ax.set_xlabel("workers")
    ax.set_ylabel("env steps/s")
    ax.set_title(f"Hogwild scaling: {rows[0]['preset']} on {rows[0]['env_id']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def main(argv: list[str] | None = None, prog: str = "fastrl bench train --algo a3c") -> int:
    bench = tyro.cli(A3CBenchConfig, args=argv, prog=prog)
    rows = measure(bench)
    records.print_table(rows, title=f"fastrl bench train --algo {bench.algo}",
                        extra_columns=("workers", "speedup", "efficiency", "cpu_share"))
    path = bench.json or (records.default_path(f"train_{bench.algo}") if bench.save else None)
    if path is not None:
        records.write_records(path, rows, records.run_meta(bench))
        print(f"records written to {path}")
    plot = bench.plot or (Path(path).with_suffix(".png") if path is not None else None)
    if plot is not None:
        print(f"scaling plot written to {plot_scaling(rows, plot)}")
    return 0


def measure_throughput(config, *, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
    """Env steps/s and updates/s of ``config``'s workers alone (no evaluator, logging or checkpoints), counted
    over ``seconds`` once every worker has taken its first step and ``warmup`` more seconds have passed
    (process start-up and first-call costs excluded). For ``fastrl bench train --algo a3c``.

    Also the workers' CPU time over the window (Linux /proc): ``cpu_share``, the mean fraction of a core each
    worker got, and ``env_steps_per_cpu_s``. On a machine that other work shares, these tell the workers'
    own cost (constant when the workers do not slow each other down) from the cores they were given."""
    from fastrl import hogwild
    from fastrl.algos.asynchronous.supervisor import Supervisor

    config = dataclasses.replace(config, eval_interval=0, stop_return=None, total_env_steps=1 << 62)
    supervisor = Supervisor(SPEC_FOR[config.algo], config, Path(), None, None)  # the shared state; writes nothing
    board = supervisor.shared.board
    pool = hogwild.WorkerPool(supervisor.roles(), board, start_method=config.a3c.start_method, max_restarts=0,
                              preload=supervisor.spec.preload)
    try:
        pool.start()
        started = time.monotonic()
        while bool((board.steps == 0).any()):
            pool.watch(0.05)
            if time.monotonic() - started > 300:
                raise TimeoutError(f"workers without a first step after 300 s: {(board.steps == 0).nonzero()}")
        until = time.monotonic() + warmup
        while time.monotonic() < until:
            pool.watch(until - time.monotonic())
        pids = list(pool.pids().values())
        t0, steps0, updates0, cpu0 = time.monotonic(), board.steps.clone(), board.total_updates(), _cpu_seconds(pids)
        until = t0 + seconds
        while time.monotonic() < until:
            pool.watch(until - time.monotonic())
        elapsed = time.monotonic() - t0
        steps = board.steps - steps0
        updates = board.total_updates() - updates0
        cpu = _cpu_seconds(pids) - cpu0
    finally:
        pool.stop()
    return {"env_steps_per_s": float(steps.sum()) / elapsed, "updates_per_s": updates / elapsed,
            "per_worker_env_steps_per_s": (steps.double() / elapsed).tolist(), "seconds": elapsed,
            "cpu_share": cpu / (elapsed * len(pids)), "env_steps_per_cpu_s": float(steps.sum()) / max(cpu, 1e-9)}


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far, from /proc (0 where it cannot be read)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total
