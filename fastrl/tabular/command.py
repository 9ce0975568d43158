"""``fastrl tabular cliff``: Sutton & Barto Example 6.6 over many runs, its figure and its record;
``fastrl tabular gridworld``: the prediction methods against v_pi on Example 4.1."""

from __future__ import annotations

import dataclasses
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from fastrl import records
from fastrl.tabular.cliff import (
    CliffSettings,
    greedy_path,
    optimal_path,
    path_kind,
    run_method,
)
from fastrl.tabular.dp import action_values, policy_evaluation, value_iteration
from fastrl.tabular.figure import plot_cliff, plot_values
from fastrl.tabular.grids import cliff_walking, gridworld_4x4
from fastrl.tabular.intervals import clopper_pearson, difference_of_means, mean_intervals, sampling_tolerance
from fastrl.tabular.mc import mc_prediction
from fastrl.tabular.mdp import exact_value, uniform_policy
from fastrl.tabular.td import CONTROL_METHODS, td0_prediction
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
        curves[method] = mean_intervals(returns)
        paths[method] = [greedy_path(mdp, q) for q in result.Q]
        late_means[method] = returns[:, late:].mean(1)
        mean, low, high = mean_intervals(late_means[method][:, None])
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


@dataclass(frozen=True)
class GridworldCommand:
    """The 4x4 gridworld (S&B Example 4.1) under the equiprobable random policy: v_pi by the linear solve, by
    iterative policy evaluation, and by each sampled prediction method over independent runs. Per method:
    the largest error of the runs' mean against v_pi, beside the sampling tolerance of the run count (Student
    t, 1e-3 over the states). Writes <out>.json."""

    gamma: float = 1.0
    runs: int = 40
    """independent runs per method"""
    episodes: int = 1000
    """episodes per run"""
    alpha: float = 0.1
    """TD(0)'s step size"""
    seed: int = 0
    out: Path = Path("profiles/tabular/gridworld-prediction")
    """where the record (.json) goes"""

    def check(self) -> None:
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma {self.gamma}: expected a discount in [0, 1]")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha {self.alpha}: expected a step size in (0, 1]")
        if self.runs < 2 or self.episodes < 1:
            raise ValueError(f"runs {self.runs}, episodes {self.episodes}: expected at least 2 runs (their spread "
                             f"is the tolerance) and 1 episode")


#: Monte-Carlo keeps every episode of a batch of runs in memory: this many runs at a time
MC_RUNS_PER_BATCH = 10


@on_one_thread
def gridworld(argv: list[str], prog: str = "fastrl tabular gridworld") -> int:
    args = tyro.cli(GridworldCommand, args=argv, prog=prog)
    args.check()
    mdp = gridworld_4x4()
    policy = uniform_policy(mdp)
    exact = exact_value(mdp, policy, args.gamma)
    generator = torch.Generator().manual_seed(args.seed)

    def monte_carlo(first_visit: bool) -> torch.Tensor:
        batches = [mc_prediction(mdp, policy, args.gamma, min(MC_RUNS_PER_BATCH, args.runs - start), args.episodes,
                                 generator, first_visit)[0] for start in range(0, args.runs, MC_RUNS_PER_BATCH)]
        return torch.cat(batches)

    estimators = {
        "first-visit MC": lambda: monte_carlo(True),
        "every-visit MC": lambda: monte_carlo(False),
        "TD(0) online": lambda: td0_prediction(mdp, policy, args.gamma, args.alpha, args.runs, args.episodes,
                                               generator, online=True),
        "TD(0) end of episode": lambda: td0_prediction(mdp, policy, args.gamma, args.alpha, args.runs,
                                                       args.episodes, generator, online=False),
    }
    v_dp, sweeps = policy_evaluation(mdp, policy, args.gamma)
    rows = [records.record("tabular-prediction", "gridworld-4x4/policy-evaluation", "fastrl", "max_abs_error",
                           float((v_dp - exact).abs().max()), "value", sweeps=sweeps)]
    for name, estimate in estimators.items():
        V = estimate()
        error = (V.mean(0) - exact).abs()
        tolerance = sampling_tolerance(V)
        worst = int(error.argmax())
        rows.append(records.record("tabular-prediction", f"gridworld-4x4/{name}", "fastrl", "max_abs_error",
                                   float(error[worst]), "value", tolerance=float(tolerance[worst]),
                                   within_tolerance=bool((error <= tolerance).all()), worst_state=worst,
                                   runs=args.runs, episodes=args.episodes, mean_estimate=V.mean(0).tolist(),
                                   exact=exact.tolist()))
    records.print_table([{k: v for k, v in r.items() if k not in ("mean_estimate", "exact")} for r in rows],
                        title=f"{prog}: v_pi of the random policy, gamma {args.gamma}, {args.runs} runs of "
                        f"{args.episodes} episodes", extra_columns=("tolerance", "within_tolerance"))
    meta = records.run_meta(args)
    meta["command"] = shlex.join([*prog.split(), *argv])
    records.write_records(Path(args.out).with_suffix(".json"), rows, meta)
    _, v_star, _ = value_iteration(mdp, args.gamma)
    panels = {"v_pi (linear solve)": exact} | {name: torch.tensor(r["mean_estimate"], dtype=torch.float64)
                                              for name, r in zip(estimators, rows[1:], strict=True)}
    panels["v* and its greedy actions"] = v_star
    plot_values(mdp, panels, action_values(mdp, v_star, args.gamma), Path(args.out).with_suffix(".png"),
                f"4x4 gridworld: v_pi of the random policy (mean of {args.runs} runs), and v*")
    print(f"wrote {Path(args.out).with_suffix('.json')} and {Path(args.out).with_suffix('.png')}")
    return 0
