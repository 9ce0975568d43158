"""``fastrl plot RUN_DIR...``: several runs in one picture, grouped, with honest uncertainty.

    fastrl plot RUN_DIR... [--by preset|env|seed] [--curve auto|eval|train] [--out plot.png]

- **Curves.** Each run's return against env steps: its evaluations' means (``--curve eval``) or its training
  episodes' running mean (``train``; ``auto``: eval where every run has two evaluations or more). The runs of a
  group (same preset, same env, or one group per seed) are put on a common grid (linear interpolation, over the
  steps all of them reached) and drawn as their mean with a 95% bootstrap confidence band over runs.
- **Interquartile mean.** Each run's final score (its last point) aggregated per group as the IQM (the mean of
  the middle 50% of runs, Agarwal et al. 2021) with a 95% bootstrap interval over runs.
- **Table.** Every run's final score and every group's IQM, printed and written as JSON beside the picture.

Statistics: ``scipy.stats.trim_mean(scores, 0.25)`` is the IQM exactly as ``rliable.metrics.aggregate_iqm``
computes it, and ``scipy.stats.bootstrap`` (percentile intervals) draws the intervals. The ``rliable`` package
itself is not used: its ``library.get_interval_estimates`` (1.2.0) fails with the installed ``arch`` 8.0 (a
``TypeError`` on its ``random_state`` argument), and with one task per group its stratified bootstrap is the
plain bootstrap over runs that scipy draws.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import tyro
from scipy import stats

from fastrl.checkpoint import RunDirError
from fastrl.viz.curves import run_rows, series
from fastrl.viz.figures import new_figure, save_png
from fastrl.viz.video import writable_dir

#: points of the common grid a group's curves are interpolated on
GRID_POINTS = 100
#: bootstrap resamples and confidence level
RESAMPLES, CONFIDENCE = 2000, 0.95


@dataclass(frozen=True)
class PlotConfig:
    """Plot several runs together: curves with bootstrap confidence bands, the interquartile mean, final scores."""

    run_dirs: tyro.conf.Positional[tuple[Path, ...]]
    """run directories written by fastrl train"""
    by: Literal["preset", "env", "seed"] = "preset"
    """group the runs by their preset (or algorithm), their env, or their seed"""
    curve: Literal["auto", "eval", "train"] = "auto"
    """eval: a run's evaluation means; train: its training episodes' running mean; auto: eval if all have 2+"""
    out: Path = Path("plot.png")
    """the picture to write (the table goes beside it as .json)"""
    seed: int = 0
    """seed of the bootstrap draws"""


@dataclass
class Run:
    path: Path
    label: str
    env: str
    preset: str
    seed: int
    steps: np.ndarray
    returns: np.ndarray

    @property
    def final(self) -> float:
        return float(self.returns[-1])


def load_runs(run_dirs: tuple[Path, ...], curve: str) -> tuple[list[Run], str]:
    """The runs' curves, and the curve kind chosen (``auto`` resolved)."""
    if not run_dirs:
        raise RunDirError("fastrl plot: expected one run directory or more")
    rows = {}
    for run_dir in run_dirs:
        if not (run_dir / "config.json").is_file():
            raise RunDirError(f"{run_dir / 'config.json'} does not exist: is {run_dir} a run directory written by "
                              f"`fastrl train`?")
        rows[run_dir] = (json.loads((run_dir / "config.json").read_text()), run_rows(run_dir)[1])
    if curve == "auto":
        curve = "eval" if all(len(series(m, "eval_return_mean")[0]) >= 2 for _, m in rows.values()) else "train"
    column = "eval_return_mean" if curve == "eval" else "recent_return_mean"
    runs = []
    for run_dir, (config, metrics) in rows.items():
        steps, returns = series(metrics, column)
        keep = np.isfinite(returns)
        if keep.sum() < 1:
            raise RunDirError(f"{run_dir / 'metrics.jsonl'} has no {column} yet: expected a run that has logged "
                              f"{'evaluations' if curve == 'eval' else 'finished training episodes'} "
                              f"(--curve {'train' if curve == 'eval' else 'eval'} reads the other curve)")
        runs.append(Run(run_dir, run_dir.name, config["env"]["id"], config.get("preset") or config["algo"],
                        int(config["seed"]), steps[keep], returns[keep]))
    return runs, curve


def group(runs: list[Run], by: str) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        key = {"preset": run.preset, "env": run.env, "seed": f"seed {run.seed}"}[by]
        groups.setdefault(key, []).append(run)
    return groups


def mean_and_band(runs: list[Run], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(grid of env steps, mean over runs, [2, points] 95% bootstrap band or None for a single run)."""
    start = max(r.steps[0] for r in runs)
    end = min(r.steps[-1] for r in runs)
    grid = np.linspace(start, end, GRID_POINTS) if end > start else np.array([end])
    curves = np.stack([np.interp(grid, r.steps, r.returns) for r in runs])
    if len(runs) < 2:
        return grid, curves[0], None
    band = stats.bootstrap((curves,), np.mean, axis=0, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
                           method="percentile", random_state=rng).confidence_interval
    return grid, curves.mean(axis=0), np.stack([band.low, band.high])


def iqm(scores: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """(IQM, low, high) of the runs' final scores: the 25%-trimmed mean and its 95% bootstrap interval."""
    point = float(stats.trim_mean(scores, 0.25))
    if len(scores) < 2 or np.ptp(scores) == 0:
        return point, point, point
    interval = stats.bootstrap((scores,), lambda x, axis: stats.trim_mean(x, 0.25, axis=axis),
                               n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
                               random_state=rng).confidence_interval
    return point, float(interval.low), float(interval.high)


def plot_runs(args: PlotConfig) -> tuple[Path, dict]:
    """Draw the picture and write the table; (picture path, table)."""
    if args.out.suffix.lower() != ".png":
        raise RunDirError(f"--out {args.out}: expected a path ending in .png (the table is written beside it as .json)")
    writable_dir(args.out.parent, "the plot")
    runs, curve = load_runs(args.run_dirs, args.curve)
    groups = group(runs, args.by)
    rng = np.random.default_rng(args.seed)
    fig = new_figure(13, 4.8)
    curves_ax, iqm_ax = fig.add_subplot(1, 3, (1, 2)), fig.add_subplot(1, 3, 3)
    table = {"curve": curve, "by": args.by, "groups": {}, "runs": []}
    for k, (name, members) in enumerate(groups.items()):
        colour = f"C{k % 10}"
        grid, mean, band = mean_and_band(members, rng)
        curves_ax.plot(grid, mean, color=colour, label=f"{name} ({len(members)} run{'s' * (len(members) > 1)})")
        if band is not None:
            curves_ax.fill_between(grid, band[0], band[1], color=colour, alpha=0.25)
        for run in members:
            curves_ax.plot(run.steps, run.returns, color=colour, alpha=0.25, linewidth=0.8)
        finals = np.array([r.final for r in members])
        point, low, high = iqm(finals, rng)
        iqm_ax.errorbar([point], [k], xerr=[[point - low], [high - point]], fmt="o", color=colour, capsize=4)
        table["groups"][name] = {"runs": len(members), "iqm": point, "iqm_low": low, "iqm_high": high,
                                 "mean": float(finals.mean())}
        table["runs"] += [{"run": str(r.path), "group": name, "env": r.env, "preset": r.preset, "seed": r.seed,
                           "env_steps": int(r.steps[-1]), "final": r.final} for r in members]
    curves_ax.set_xlabel("env steps")
    curves_ax.set_ylabel("evaluation return" if curve == "eval" else "training return (running mean)")
    curves_ax.set_title(f"mean over runs, {CONFIDENCE:.0%} bootstrap band; thin: each run", fontsize=10)
    curves_ax.grid(alpha=0.3)
    curves_ax.legend(fontsize="small", loc="best")
    iqm_ax.set_yticks(range(len(groups)), list(groups))
    iqm_ax.set_ylim(-0.5, len(groups) - 0.5)
    iqm_ax.set_xlabel("final score")
    iqm_ax.set_title(f"interquartile mean of final scores, {CONFIDENCE:.0%} bootstrap CI", fontsize=10)
    iqm_ax.grid(alpha=0.3)
    path = save_png(fig, args.out)
    from fastrl.io import atomic_write_json

    atomic_write_json(args.out.with_suffix(".json"), table)
    return path, table


def print_table(table: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = Table(title=f"final scores ({table['curve']} curve)")
    for column in ("group", "run", "env steps", "final"):
        runs.add_column(column, justify="right" if column in ("env steps", "final") else "left")
    for row in table["runs"]:
        runs.add_row(row["group"], Path(row["run"]).name, f"{row['env_steps']:,}", f"{row['final']:.4g}")
    groups = Table(title=f"by {table['by']}")
    for column in ("group", "runs", "IQM", "95% CI", "mean"):
        groups.add_column(column, justify="left" if column == "group" else "right")
    for name, g in table["groups"].items():
        groups.add_row(name, str(g["runs"]), f"{g['iqm']:.4g}", f"[{g['iqm_low']:.4g}, {g['iqm_high']:.4g}]",
                       f"{g['mean']:.4g}")
    console = Console()
    console.print(runs)
    console.print(groups)


def main(argv: list[str], prog: str = "fastrl plot") -> int:
    args = tyro.cli(PlotConfig, args=argv, prog=prog)
    path, table = plot_runs(args)
    print_table(table)
    print(f"plot: {path} (table: {path.with_suffix('.json')})", file=sys.stdout)
    return 0
