"""``fastrl bench time-to-score``: how much sooner fastrl reaches a score than a peer, on this machine.

An estimate, made the same way for both sides: time to a score = env steps to reach it / end-to-end env
steps per second.

- **Env steps to the score.** fastrl's from its own ``fastrl bench learn`` record: the first evaluation whose
  interquartile mean over seeds is at or above the score. The peer's from its published curve
  (``fastrl.benchmarks.published``): the first published point at or above the score. Both are read on grids
  (fastrl's evaluation interval, the published points' spacing), so each is an upper bound to within its
  grid; the record gives both grids. The two curves are not measured alike (fastrl: a separate evaluation
  over full episodes; CleanRL: the smoothed return of training episodes; the TD3 paper: 10 deterministic
  episodes, gym's v1 MuJoCo), and the published steps of an SB3 peer are those of the paper's algorithm,
  which SB3 implements: said in each row.
- **Env steps per second.** Both measured here, in this process, in alternating rounds: fastrl running the
  preset that made its curve (``fastrl train``'s loop, the learner past its start), the peer at its own
  settings (the ``fastrl bench peers`` case).

Beside the estimate, each fastrl row gives the training seconds its run actually took to that evaluation
(``train_s_median`` of the record): the real wall clock here, with whatever else the machine ran meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import tyro

from fastrl import records
from fastrl.config import ConfigError

SUITE = "time-to-score"

#: peers case -> (algo, method prefix) of the published curve that gives the peer's steps to a score
PEER_CURVES = {
    "ppo-pong-cleanrl": ("ppo", "PPO (CleanRL ppo_atari_envpool.py"),
    "td3-halfcheetah": ("td3", "TD3 (paper learning curves)"),
    "td3-hopper": ("td3", "TD3 (paper learning curves)"),
}


@dataclass
class TimeToScoreConfig:
    """fastrl's estimated time to each score beside a peer's, from a bench-learn record and a published curve."""

    learn: str
    """a ``fastrl bench learn`` record (its JSON): fastrl's curve and the preset that made it"""
    peer: str
    """the peers case to time the peer with (its env must be the record's): ppo-pong-cleanrl (CleanRL's
    ppo_atari_envpool.py), td3-halfcheetah or td3-hopper (SB3's TD3)"""
    scores: tuple[float, ...] = ()
    """the scores to time"""
    rounds: int = 3
    """alternating rounds of fastrl and the peer"""
    scale: float = 1.0
    """multiplies the case's env steps per round"""
    json: str | None = None
    """where to write the records (default: profiles/<hardware>/time-to-score-<preset>-<env>.json)"""


def first_at_or_above(points: list[tuple[int, float]], score: float) -> int | None:
    """The smallest x of the (x, value) points whose value is at or above ``score``; None if none is."""
    return min((x for x, value in points if value >= score), default=None)


def grid(xs: list[int]) -> int | None:
    """The largest spacing between consecutive points: how far a first crossing can lie before its point."""
    return max((b - a for a, b in pairwise(sorted(xs))), default=None)


def read_learn_record(path: str) -> tuple[str, tuple[str, ...], str, list[dict], str | None]:
    """(preset, its learner options, env id, IQM rows, the commit the record was made at) of a ``fastrl bench
    learn`` record."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"--learn {path}: cannot read it as a bench-learn record ({err})") from None
    iqm = [r for r in data.get("records", []) if r.get("backend") == "fastrl-iqm"]
    if not iqm:
        raise ConfigError(f"--learn {path}: no fastrl-iqm rows; expected the JSON `fastrl bench learn` writes")
    meta = data.get("meta", {})
    case_preset, env_id = iqm[0]["case"].split("/", 1)
    bench = meta.get("config", {})
    return (bench.get("preset", case_preset), tuple(bench.get("learner_options", ())), env_id, iqm,
            meta.get("git_sha"))


def peer_curve(case: str, env_id: str) -> list:
    from fastrl.benchmarks.published import published_for

    algo, method = PEER_CURVES[case]
    return [r for r in published_for(algo, env_id) if r.method.startswith(method) and r.x_unit == "env_steps"]


def rates(config, case, rounds: int, scale: float) -> tuple[list[float], list[float]]:
    """fastrl's and the peer's end-to-end env steps/s, alternating rounds in this process."""
    from fastrl.benchmarks.train import _end_to_end
    from fastrl.benchmarks.train_ppo import ppo_end_to_end

    steps = max(1, int(case.steps * scale))
    end_to_end = ppo_end_to_end if config.algo == "ppo" else _end_to_end
    peer_rate = case.start(0)
    fastrl_rates, peer_rates = [], []
    for _ in range(rounds):
        fastrl_rates.append(end_to_end(config, steps)[0])
        peer_rates.append(peer_rate(steps))
    return fastrl_rates, peer_rates


def estimate(case_id: str, peer: str, scores, iqm: list[dict], published: list, fastrl_sps: float,
             peer_sps: float) -> list[dict]:
    """One row per side and score: the env steps to the score, the hours at the measured rate, and on the peer's
    row how many times sooner fastrl gets there (``fastrl_sooner``)."""
    ours = [(r["env_steps"], r["value"]) for r in iqm]
    theirs = [(r.x, r.score) for r in published]
    rows = []
    for score in scores:
        steps, peer_steps = first_at_or_above(ours, score), first_at_or_above(theirs, score)
        common = {"score": score}
        if steps is not None:
            at = next(r for r in iqm if r["env_steps"] == steps)
            rows.append(records.record(
                SUITE, case_id, "fastrl", "hours_to_score", steps / fastrl_sps / 3600, "h", **common, env_steps=steps,
                env_steps_per_s=fastrl_sps, eval_grid=grid([x for x, _ in ours]), seeds=at["seeds"],
                train_hours_here=at["train_s_median"] / 3600))
        if peer_steps is not None:
            source = next(r for r in published if r.x == peer_steps)
            sooner = None if steps is None else (peer_steps / peer_sps) / (steps / fastrl_sps)
            rows.append(records.record(
                SUITE, case_id, peer, "hours_to_score", peer_steps / peer_sps / 3600, "h", **common,
                env_steps=peer_steps, env_steps_per_s=peer_sps, published_grid=grid([x for x, _ in theirs]),
                fastrl_sooner=sooner, method=source.method, source=source.source, protocol=source.protocol,
                read_off_figure=source.read_off_figure))
    return rows


def check(bench: TimeToScoreConfig, env_id: str) -> None:
    from fastrl.benchmarks.peers import CASES

    if bench.peer not in PEER_CURVES:
        raise ConfigError(f"--peer {bench.peer}: expected one of {', '.join(PEER_CURVES)}")
    if CASES[bench.peer].env_id != env_id:
        raise ConfigError(f"--peer {bench.peer} runs {CASES[bench.peer].env_id}, but the record's env is {env_id}")
    if not bench.scores:
        raise ConfigError("--scores: expected at least one score to time, e.g. --scores 18 20")
    if bench.rounds < 1 or not bench.scale > 0:
        raise ConfigError(f"--rounds {bench.rounds} --scale {bench.scale}: expected rounds >= 1 and scale > 0")


def main(argv: list[str] | None = None, prog: str = "fastrl bench time-to-score") -> int:
    from fastrl.benchmarks.peers import _MEASURED, CASES
    from fastrl.benchmarks.train_config import with_learner_options
    from fastrl.config import preset
    from fastrl.train_cli import report_error

    bench = tyro.cli(TimeToScoreConfig, args=argv, prog=prog)
    try:
        preset_name, options, env_id, iqm, record_sha = read_learn_record(bench.learn)
        check(bench, env_id)
        config = dataclasses.replace(with_learner_options(preset(preset_name, env_id), options), **_MEASURED)
    except ConfigError as err:
        return report_error(prog, err)
    case = CASES[bench.peer]
    fastrl_rates, peer_rates = rates(config, case, bench.rounds, bench.scale)
    fastrl_sps, peer_sps = statistics.median(fastrl_rates), statistics.median(peer_rates)
    case_id = f"{iqm[0]['case']}/{case.peer}"
    rows = estimate(case_id, case.peer, bench.scores, iqm, peer_curve(bench.peer, env_id), fastrl_sps, peer_sps)
    for row in rows:
        row["per_round"] = fastrl_rates if row["backend"] == "fastrl" else peer_rates
    for score in bench.scores:
        if not any(r["score"] == score and r["backend"] == "fastrl" for r in rows):
            print(f"{prog}: fastrl's curve in {bench.learn} does not reach {score:g}")
        if not any(r["score"] == score and r["backend"] != "fastrl" for r in rows):
            print(f"{prog}: the published {case.peer} curve on {env_id} does not reach {score:g}")
    records.print_table(rows, title=prog, extra_columns=("score", "env_steps", "env_steps_per_s", "fastrl_sooner"))
    path = bench.json or records.default_path(f"{SUITE}-{iqm[0]['case'].replace('/', '-')}")
    records.write_records(path, rows, records.run_meta(bench) | {"learn_record_sha": record_sha})
    print(f"records written to {path}")
    return 0

