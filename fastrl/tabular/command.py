"""``fastrl tabular cliff``: Sutton & Barto Example 6.6 over many runs, its figure and its record."""

from __future__ import annotations

import dataclasses
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from scipy import stats

from fastrl import records
from fastrl.tabular.cliff import (
    CliffSettings,
    clopper_pearson,
    difference_of_means,
    greedy_path,
    optimal_path,
    path_kind,
    run_method,
)
from fastrl.tabular.figure import plot_cliff
from fastrl.tabular.grids import cliff_walking
from fastrl.tabular.td import CONTROL_METHODS
from fastrl.tabular.threads import on_one_thread

SUITE = "tabular-cliff"
PATH_KINDS = ("optimal", "safe", "edge", "loop")


@dataclass(frozen=True)
class CliffCommand(CliffSettings):
    """Cliff walking (S&B Example 6.6): TD control methods side by side over independent runs; prints the greedy
    paths they learn and their online returns with confidence intervals, writes <out>.png and <out>.json."""

    algo: tuple[str, ...] = ("sarsa", "q-learning")
    """TD control methods: sarsa, q-learning (or qlearning), expected-sarsa"""
    out: Path = Path("profiles/tabular/cliff-walking")
    """where the figure (.png) and the record (.json) go"""

    def __post_init__(self):
        """Checked after parsing, by ``settings``: tyro turns an error raised while it builds the config into
        its usage box, and a user's error is one line."""

    def settings(self) -> CliffSettings:
        return CliffSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(CliffSettings)})


def method_name(name: str) -> str:
    """The canonical name of a control method, spelled with or without hyphens or underscores."""
    by_letters = {m.replace("-", ""): m for m in CONTROL_METHODS}
    key = name.lower().replace("-", "").replace("_", "")
    if key not in by_letters:
        raise ValueError(f"--algo {name}: unknown method; expected one of {', '.join(CONTROL_METHODS)}")
    return by_letters[key]


def episode_intervals(returns: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per episode: the mean of the runs' returns [R, E] and its Student-t interval."""
    mean = returns.mean(0)
    half = stats.t.ppf(0.5 + confidence / 2, df=len(returns) - 1) * returns.std(0, ddof=1) / np.sqrt(len(returns))
    return mean, mean - half, mean + half


@on_one_thread
def cliff(argv: list[str], prog: str = "fastrl tabular cliff") -> int:
    args = tyro.cli(CliffCommand, args=argv, prog=prog)
    methods = list(dict.fromkeys(method_name(a) for a in args.algo))
    settings = args.settings()
    mdp = cliff_walking()
    optimal = optimal_path(mdp, settings.gamma)
    late = settings.episodes // 2  # the comparison window: the second half, once the methods have learned
    rows, curves, paths, late_means = [], {}, {}, {}
    for method in methods:
        result = run_method(mdp, method, settings)
        returns = result.episode_returns.numpy()
        curves[method] = episode_intervals(returns)
        paths[method] = [greedy_path(mdp, q) for q in result.Q]
        late_means[method] = returns[:, late:].mean(1)
        mean, low, high = episode_intervals(late_means[method][:, None])
        rows.append(records.record(SUITE, f"cliff-walking/{method}", "fastrl", "online_return_second_half",
                                   float(mean[0]), "return per episode", ci_low=float(low[0]),
                                   ci_high=float(high[0]), interval="95% Student t over runs",
                                   episodes=[late + 1, settings.episodes], runs=settings.runs,
                                   curve_mean=curves[method][0].tolist(), curve_ci_low=curves[method][1].tolist(),
                                   curve_ci_high=curves[method][2].tolist()))
        kinds = Counter(path_kind(mdp, p, optimal) for p in paths[method])
        for kind in PATH_KINDS:
            low, high = clopper_pearson(kinds[kind], settings.runs)
            rows.append(records.record(SUITE, f"cliff-walking/{method}", "fastrl", f"greedy_path_{kind}",
                                       kinds[kind] / settings.runs, "fraction of runs", ci_low=low, ci_high=high,
                                       interval="95% Clopper-Pearson", runs=settings.runs))
    if {"sarsa", "q-learning"} <= set(methods):
        difference, low, high = difference_of_means(late_means["sarsa"], late_means["q-learning"], 0.95,
                                                    settings.seed)
        rows.append(records.record(SUITE, "cliff-walking/sarsa-minus-q-learning", "fastrl",
                                   "online_return_second_half_difference", difference, "return per episode",
                                   ci_low=low, ci_high=high, interval="95% BCa bootstrap over runs",
                                   episodes=[late + 1, settings.episodes], runs=settings.runs))
    summary = [{k: v for k, v in row.items() if not k.startswith("curve")} for row in rows]
    records.print_table(summary, title=f"{prog}: epsilon {settings.epsilon}, alpha {settings.alpha}, "
                        f"{settings.runs} runs of {settings.episodes} episodes", extra_columns=("ci_low", "ci_high"))
    meta = records.run_meta(args)
    meta["command"] = shlex.join([*prog.split(), *argv])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records.write_records(out.with_suffix(".json"), rows, meta)
    plot_cliff(mdp, curves, paths, out.with_suffix(".png"),
               f"cliff walking, epsilon = {settings.epsilon}, alpha = {settings.alpha}: {settings.runs} runs")
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return 0
