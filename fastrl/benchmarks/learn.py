"""``fastrl bench learn``: a preset's learning curve over several seeds, beside the published ones.

Each seed trains the preset as ``fastrl train`` runs it (its own budget and settings; only the evaluation
schedule is set: every ``--eval-interval`` env steps, over ``--eval-episodes`` full episodes, at least 20) in
its own run directory under ``--runs``. A seed whose run directory already holds a finished run is read, not
trained again; one that holds checkpoints is resumed. So a long bench that was cut off continues with the same
command; each seed's rows carry ``run_git_sha``, the commit its run started on (after a code change, give a new
``--runs`` folder to train again).

The records give, per seed and evaluation: env steps, emulator frames (env steps x the frame skip on Atari),
the seconds the loop had trained (from its own rate; evaluations excluded) and the evaluation's mean and std.
Across seeds, at every evaluation: the interquartile mean with a 95% percentile-bootstrap interval over seeds
(the rliable protocol for one task: Agarwal et al. 2021). Beside the IQM curve stand the published results for
the same algorithm and env (``fastrl.benchmarks.published``): every published point up to the curve's last env
steps or frames, each with fastrl's IQM at or below the same x. A PNG of the curves is written beside the records.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tyro
from scipy import stats

from fastrl import records
from fastrl.config import ConfigError, RunConfig, preset

if TYPE_CHECKING:
    from fastrl.benchmarks.published import Published

SUITE = "learn"
LEAST_EPISODES = 20


@dataclass
class LearnBenchConfig:
    """A preset's learning curve over seeds, with the published results beside it."""

    preset: str
    """the preset to train (see fastrl train <algo> --help)"""
    env: str | None = None
    """env id (default: the preset's)"""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """seeds to train, one run each"""
    learner_options: tuple[str, ...] = ()
    """learner config fields to set, as KEY=VALUE (JSON values), e.g. workers=2 (A3C); the runs, the case and
    the default record name carry them"""
    total_env_steps: int | None = None
    """env steps per run (default: the preset's budget)"""
    eval_interval: int | None = None
    """env steps between evaluations (default: the preset's, else a twentieth of the budget)"""
    eval_episodes: int = LEAST_EPISODES
    """full episodes per evaluation (at least 20)"""
    checkpoint_interval: int | None = None
    """env steps between checkpoints (default: the preset's), so that a cut-off run resumes"""
    runs: Path = Path("runs/bench-learn")
    """where each seed's run directory goes (<runs>/<preset>-<env>-seed<k>)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/learn-<preset>-<env>.json)"""
    progress: bool = True
    """show each run's progress line"""
    beside: tuple[Path, ...] = ()
    """records of other presets' bench learn (their JSON) whose IQM curves the plot draws beside this one's, e.g.
    a baseline's on the same env"""


def seed_config(bench: LearnBenchConfig, seed: int) -> RunConfig:
    """The preset as ``fastrl train`` runs it, with this seed and the bench's evaluation schedule."""
    if bench.eval_episodes < LEAST_EPISODES:
        raise ConfigError(f"--eval-episodes {bench.eval_episodes}: expected at least {LEAST_EPISODES} (a curve "
                          f"point over fewer episodes is noise)")
    from fastrl.benchmarks.train_config import with_learner_options

    config = with_learner_options(preset(bench.preset, bench.env), bench.learner_options)
    total = bench.total_env_steps or config.total_env_steps
    interval = bench.eval_interval or config.eval_interval or max(1, total // 20)
    changes = {"seed": seed, "total_env_steps": total, "eval_interval": interval,
               "eval_episodes": bench.eval_episodes, "run_dir": run_dir(bench, config, seed),
               "tensorboard": False, "progress": bench.progress}
    if bench.checkpoint_interval is not None:
        changes["checkpoint_interval"] = bench.checkpoint_interval
    return dataclasses.replace(config, **changes)


def variant(bench: LearnBenchConfig) -> str:
    """The preset's name, with the learner options set on it: ``a3c-atari`` or ``a3c-atari-workers2``."""
    options = ("".join(c for c in item if c.isalnum() or c in "._") for item in bench.learner_options)
    return "-".join([bench.preset, *options])


def run_dir(bench: LearnBenchConfig, config: RunConfig, seed: int) -> Path:
    return bench.runs / f"{variant(bench)}-{config.env.id}-seed{seed}"


def frame_skip(config: RunConfig) -> int:
    """Emulator frames per env step: the Atari frame skip (4 unless the env options set it), else 1."""
    from fastrl.envs.atari import ATARI_DEFAULTS, is_atari_id

    if not is_atari_id(config.env.id):
        return 1
    return int(config.env.make_options().get("frame_skip", ATARI_DEFAULTS["frame_skip"]))


def train_seed(config: RunConfig) -> tuple[list[dict], float]:
    """The run's metric rows (trained, resumed or read) and the seconds this call spent training."""
    from fastrl import checkpoint
    from fastrl.log import METRICS, read_jsonl
    from fastrl.runner import train

    path = Path(config.run_dir)
    rows = read_jsonl(path / METRICS)
    started = time.perf_counter()
    if not (rows and rows[-1]["env_steps"] >= config.total_env_steps):
        if checkpoint.list_checkpoints(path):
            train(config, resume=path)
        else:
            train(config)
        rows = read_jsonl(path / METRICS)
    return rows, time.perf_counter() - started


def run_git_sha(run_dir: Path) -> str | None:
    """The commit a run started on (its meta.json): a run read or resumed from ``--runs`` may predate the
    code that writes the record, and its rows say so."""
    try:
        return json.loads((run_dir / "meta.json").read_text()).get("git_sha")
    except (OSError, ValueError):
        return None


def curve(rows: list[dict], seed: int, skip: int) -> list[dict]:
    """The evaluation rows of one run: env steps, frames, seconds trained so far, eval mean and std."""
    out, trained, last_steps = [], 0.0, 0
    for row in rows:
        steps = row["env_steps"]
        if row.get("sps"):
            trained += (steps - last_steps) / row["sps"]
        last_steps = steps
        if "eval_return_mean" in row:
            out.append({"seed": seed, "env_steps": steps, "frames": steps * skip, "train_s": trained,
                        "eval_return_mean": row["eval_return_mean"], "eval_return_std": row["eval_return_std"]})
    return out


def iqm_interval(values: list[float], confidence: float = 0.95, reps: int = 2_000) -> tuple[float, float, float]:
    """The interquartile mean of ``values`` and its percentile-bootstrap interval (one task: rliable's
    stratified bootstrap reduces to this)."""
    data = np.asarray(values, dtype=float)
    iqm = float(stats.trim_mean(data, 0.25))
    if len(data) < 2 or np.ptp(data) == 0:
        return iqm, iqm, iqm
    result = stats.bootstrap((data,), lambda x, axis: stats.trim_mean(x, 0.25, axis=axis), n_resamples=reps,
                             confidence_level=confidence, method="percentile", random_state=0)
    return iqm, float(result.confidence_interval.low), float(result.confidence_interval.high)


def iqm_curve(per_seed: list[dict], seeds, case: str) -> list[dict]:
    """The IQM over seeds, with its interval, at each evaluation that every seed made.

    The k-th evaluations of the seeds go together: the runs evaluate on one schedule, but asynchronous
    learners (A3C's workers) reach each point a few env steps apart, so a row gives the median env step and
    the range."""
    summary = []
    by_seed = [[r for r in per_seed if r["seed"] == seed] for seed in seeds]
    for k in range(min(len(points) for points in by_seed)):
        at_k = [points[k] for points in by_seed]
        steps = [r["env_steps"] for r in at_k]
        iqm, low, high = iqm_interval([r["value"] for r in at_k])
        summary.append(records.record(SUITE, case, "fastrl-iqm", "eval_return_iqm", iqm, "return", ci_low=low,
                                      ci_high=high, seeds=len(at_k), env_steps=int(np.median(steps)),
                                      env_steps_range=[min(steps), max(steps)],
                                      frames=int(np.median([r["frames"] for r in at_k])),
                                      train_s_median=float(np.median([r["train_s"] for r in at_k]))))
    return summary


def measure(bench: LearnBenchConfig) -> tuple[list[dict], list[dict]]:
    """(per-seed curve records, IQM records with the published results beside them)."""
    configs = [seed_config(bench, seed) for seed in bench.seeds]  # every refusal before any training
    from fastrl.benchmarks.published import published_for
    from fastrl.log import CountBar

    per_seed: list[dict] = []
    with CountBar("seeds", len(configs)) as bar:  # a live bar on a terminal, beside each run's own progress
        for k, (seed, config) in enumerate(zip(bench.seeds, configs, strict=True)):
            print(f"seed {seed} ({k + 1} of {len(configs)}): {config.run_dir}", flush=True)
            rows, seconds = train_seed(config)
            points = curve(rows, seed, frame_skip(config))
            if not points:
                raise RuntimeError(f"{config.run_dir}: the run wrote no evaluation")
            run_sha = run_git_sha(Path(config.run_dir))
            per_seed += [records.record(SUITE, f"{variant(bench)}/{config.env.id}", "fastrl", "eval_return_mean",
                                        p.pop("eval_return_mean"), "return", **p, seconds_this_call=seconds,
                                        run_git_sha=run_sha) for p in points]
            bar.advance(text=f"seed {seed}")
    config = configs[-1]
    case = f"{variant(bench)}/{config.env.id}"
    summary = iqm_curve(per_seed, bench.seeds, case)
    summary += published_beside(summary, published_for(config.algo, config.env.id), case)
    return per_seed, summary


def published_beside(iqm: list[dict], rows: list[Published], case: str) -> list[dict]:
    """Records of the published points a curve can be read against: every row (in env steps or frames) up to
    the curve's last evaluation, each with fastrl's IQM at the last evaluation at or below its x; where a unit has
    no row that early, the nearest row above (so a short run still shows its target)."""
    from fastrl.benchmarks.published import at

    out: list[dict] = []
    if not iqm:
        return out
    for unit in ("frames", "env_steps"):
        same = [r for r in rows if r.x_unit == unit]
        within = [r for r in same if r.x <= iqm[-1][unit]]
        nearest = at(same, iqm[-1][unit], unit)
        for ref in within or ([nearest] if nearest is not None else []):
            reached = [p["value"] for p in iqm if p[unit] <= ref.x]
            out.append(records.record(SUITE, case, "published", "eval_return_mean", ref.score, "return",
                                      method=ref.method, x=ref.x, x_unit=ref.x_unit, std=ref.score_std,
                                      source=ref.source, protocol=ref.protocol, read_off_figure=ref.read_off_figure,
                                      fastrl_iqm_at_same_x=reached[-1] if reached else None))
    return out


def plot(per_seed: list[dict], summary: list[dict], path: Path, title: str, beside: tuple[Path, ...] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    atari = any(r["frames"] != r["env_steps"] for r in per_seed)
    x_key = "frames" if atari else "env_steps"
    fig, ax = plt.subplots(figsize=(7, 4))
    for seed in sorted({r["seed"] for r in per_seed}):
        rows = [r for r in per_seed if r["seed"] == seed]
        ax.plot([r[x_key] for r in rows], [r["value"] for r in rows], lw=0.8, alpha=0.5, label=f"seed {seed}")
    others = [json.loads(Path(other).read_text())["records"] for other in beside]
    for color, records_ in zip(["black", "tab:red", "tab:blue", "tab:green"], [summary, *others], strict=False):
        iqm = [r for r in records_ if r["backend"] == "fastrl-iqm"]
        if iqm:
            xs = [r[x_key] for r in iqm]
            name = f"{iqm[0]['case'].split('/')[0]} " if beside else ""
            ax.plot(xs, [r["value"] for r in iqm], color=color, lw=2, label=f"{name}IQM")
            ax.fill_between(xs, [r["ci_low"] for r in iqm], [r["ci_high"] for r in iqm], color=color, alpha=0.15,
                            label=f"{name}95% bootstrap CI")
    published = [r for r in summary if r["backend"] == "published"]
    for method in dict.fromkeys(r["method"] for r in published):
        refs = [r for r in published if r["method"] == method]
        xs = [r["x"] if r["x_unit"] == x_key else r["x"] * 4 for r in refs]  # agent steps of a frame-skip-4 source
        ax.plot(xs, [r["value"] for r in refs], marker="*", ms=9, ls="--", lw=1, zorder=3,
                label=f"{method} (published)")
    ax.set_xlabel("emulator frames" if atari else "env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None, prog: str = "fastrl bench learn") -> int:
    from fastrl.train_cli import report_error

    bench = tyro.cli(LearnBenchConfig, args=argv, prog=prog)
    try:
        per_seed, summary = measure(bench)
    except ConfigError as err:
        return report_error(prog, err)
    except KeyboardInterrupt as err:  # the run checkpointed; the same command continues it
        print(f"{prog}: {str(err) or 'interrupted'}; the same command continues the bench", file=sys.stderr)
        return 130
    env_id = per_seed[0]["case"].split("/", 1)[1]
    records.print_table(summary, title=f"{prog}: {variant(bench)} on {env_id}, seeds {list(bench.seeds)}",
                        extra_columns=("env_steps", "frames", "ci_low", "ci_high", "method", "x", "x_unit"))
    path = bench.json or records.default_path(f"learn-{variant(bench)}-{env_id}")
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_records(path, per_seed + summary, records.run_meta(bench))
    plot(per_seed, summary, path.with_suffix(".png"), f"{variant(bench)} on {env_id}", bench.beside)
    final = [r for r in summary if r["backend"] == "fastrl-iqm"]
    if final and not math.isnan(final[-1]["value"]):
        print(f"final IQM {final[-1]['value']:.3g} [{final[-1]['ci_low']:.3g}, {final[-1]['ci_high']:.3g}] "
              f"over {final[-1]['seeds']} seeds; records written to {path}")
    return 0
