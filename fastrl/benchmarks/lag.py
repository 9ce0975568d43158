"""``fastrl bench lag``: IMPALA with a forced policy lag, V-trace's correction beside none.

Each (lag, correction, seed) trains the preset's budget with ``fastrl.algos.impala.lagged`` (one process, the
actor always ``lag`` updates behind the learner, deterministic per seed) and evaluates the final policy over
the preset's ``eval_episodes`` full episodes. ``correction="none"`` takes the lagged unrolls as the learner's
own (ρ = c = 1): the on-policy actor-critic targets V-trace is there to replace. The records give every final
return and, per lag and correction, their mean and range over the seeds; a PNG plots the final return
against the lag, one line per correction, every seed a dot.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from fastrl import records
from fastrl.config import ConfigError, RunConfig, preset

SUITE = "lag"
CORRECTIONS = ("vtrace", "none")


@dataclass
class LagBenchConfig:
    """IMPALA with a forced policy lag: the final return with V-trace's correction and without it."""

    preset: str = "impala-catch"
    """an IMPALA preset"""
    lags: tuple[int, ...] = (0, 8, 16, 32, 64)
    """policy lags to force, in learner updates"""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """seeds, one run each per lag and correction"""
    total_env_steps: int | None = None
    """env steps per run (default: the preset's budget)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/lag-<preset>.json)"""


def run_config(bench: LagBenchConfig, correction: str, seed: int) -> RunConfig:
    config = preset(bench.preset)
    if config.algo != "impala":
        raise ConfigError(f"--preset {bench.preset}: expected an IMPALA preset, not a {config.algo} one")
    if any(lag < 0 for lag in bench.lags):
        raise ConfigError(f"--lags {' '.join(map(str, bench.lags))}: expected lags of 0 updates or more")
    budget = {"total_env_steps": bench.total_env_steps} if bench.total_env_steps else {}
    return dataclasses.replace(config, impala=dataclasses.replace(config.impala, correction=correction), seed=seed,
                               **budget)


def measure(bench: LagBenchConfig) -> tuple[list[dict], list[dict]]:
    """(a record per run, a record per lag and correction: the mean over seeds)."""
    from fastrl.algos.impala.lagged import final_returns, train_lagged

    configs = {(c, s): run_config(bench, c, s) for c in CORRECTIONS for s in bench.seeds}  # refusals first
    runs, summary = [], []
    for lag in bench.lags:
        for correction in CORRECTIONS:
            finals = []
            for seed in bench.seeds:
                config = configs[correction, seed]
                start = time.perf_counter()
                returns = final_returns(config, train_lagged(config, lag))
                finals.append(float(np.mean(returns)))
                runs.append(records.record(SUITE, f"{bench.preset}/lag{lag}", correction, "final_return_mean",
                                           finals[-1], "return", lag=lag, seed=seed, episodes=len(returns),
                                           env_steps=config.total_env_steps,
                                           seconds=time.perf_counter() - start))
                print(f"lag {lag:>3} {correction:>6} seed {seed}: {finals[-1]:.3g}", flush=True)
            summary.append(records.record(SUITE, f"{bench.preset}/lag{lag}", correction, "final_return_mean_over_seeds",
                                          float(np.mean(finals)), "return", lag=lag, seeds=len(finals),
                                          low=min(finals), high=max(finals)))
    return runs, summary


def plot(runs: list[dict], summary: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for correction, color in zip(CORRECTIONS, ("tab:blue", "tab:red"), strict=True):
        label = "V-trace" if correction == "vtrace" else "no correction (rho = c = 1)"
        rows = [r for r in summary if r["backend"] == correction]
        ax.plot([r["lag"] for r in rows], [r["value"] for r in rows], color=color, lw=2, marker="o", label=label)
        dots = [r for r in runs if r["backend"] == correction]
        ax.scatter([r["lag"] for r in dots], [r["value"] for r in dots], color=color, s=12, alpha=0.4)
    ax.set_xlabel("policy lag (learner updates)")
    ax.set_ylabel("final evaluation return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None, prog: str = "fastrl bench lag") -> int:
    from fastrl.train_cli import report_error

    bench = tyro.cli(LagBenchConfig, args=argv, prog=prog)
    try:
        runs, summary = measure(bench)
    except ConfigError as err:
        return report_error(prog, err)
    records.print_table(summary, title=f"{prog}: {bench.preset}, seeds {list(bench.seeds)}",
                        extra_columns=("lag", "low", "high"))
    path = bench.json or records.default_path(f"lag-{bench.preset}")
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_records(path, runs + summary, records.run_meta(bench))
    plot(runs, summary, path.with_suffix(".png"), f"{bench.preset}: forced policy lag, seeds {list(bench.seeds)}")
    print(f"records written to {path}")
    return 0
