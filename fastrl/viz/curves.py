"""A run's logged curves, drawn from its ``episodes.jsonl`` and ``metrics.jsonl`` (see ``fastrl.log``).

- ``returns``: every training episode's return (points), their running mean, and the evaluations' mean ± std
  (``fastrl.log``'s learning curve);
- ``losses``: each logged loss (DQN's TD loss; PPO's policy and value losses, A3C's ...), one panel each;
- ``throughput``: env steps per second, and the per-stage milliseconds of the loop (``ms_<stage>``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastrl.log import EPISODES, METRICS, draw_returns, read_jsonl
from fastrl.viz.figures import new_figure, save_png


def run_rows(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(episode rows, metric rows) of a run."""
    return read_jsonl(run_dir / EPISODES), read_jsonl(run_dir / METRICS)


def series(rows: list[dict], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, values) of the rows that logged ``name``."""
    kept = [(r["env_steps"], r[name]) for r in rows if isinstance(r.get(name), (int, float))]
    if not kept:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*kept, strict=True)
    return np.asarray(steps, float), np.asarray(values, float)


def plot_returns(run_dir: Path, path: Path, title: str) -> Path | None:
    episodes, metrics = run_rows(run_dir)
    evals = [r for r in metrics if "eval_return_mean" in r]
    if not episodes and not evals:
        return None
    fig = new_figure(8, 4)
    draw_returns(fig.add_subplot(), episodes, evals, title)
    return save_png(fig, path)


def plot_losses(run_dir: Path, path: Path, title: str) -> Path | None:
    _, metrics = run_rows(run_dir)
    names = sorted({k for r in metrics for k in r if "loss" in k and isinstance(r[k], (int, float))})
    if not names:
        return None
    fig = new_figure(4 * len(names), 3.4)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.plot(*series(metrics, name), color="tab:purple")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return save_png(fig, path)


def plot_throughput(run_dir: Path, path: Path, title: str) -> Path | None:
    _, metrics = run_rows(run_dir)
    steps, sps = series(metrics, "sps")
    if not len(steps):
        return None
    stages = sorted({k for r in metrics for k in r if k.startswith("ms_")})
    fig = new_figure(11, 3.6)
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(steps, sps, color="tab:green")
    ax.set_title("env steps per second", fontsize=10)
    ax.set_xlabel("env steps")
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    for name in stages:
        ax.plot(*series(metrics, name), label=name[3:])
    ax.set_title("milliseconds per stage (per step or per update, as the loop times it)", fontsize=9)
    ax.set_xlabel("env steps")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if stages:
        ax.legend(fontsize="small", loc="best")
    fig.suptitle(title, fontsize=10)
    return save_png(fig, path)


def plot_run_curves(run_dir: Path, out: Path, title: str) -> dict[str, Path]:
    """The three curve pictures that the run's logs allow, into ``out``; name -> path."""
    drawn = {name: draw(run_dir, out / f"{name}.png", title) for name, draw in
             (("returns", plot_returns), ("losses", plot_losses), ("throughput", plot_throughput))}
    return {name: path for name, path in drawn.items() if path is not None}
