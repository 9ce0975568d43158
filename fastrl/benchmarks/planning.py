"""``fastrl bench planning``: simulations per second of the batched PUCT search beside its per-game reference.

Both search the same Connect Four positions (a few random opening moves each) with the same evaluator, in the
same run, their timed repetitions alternating (reference, batched at each B, reference, ...) so that drift of
a shared machine hits both alike. A figure is the best repetition (other processes only ever slow one down),
with the median beside it. Before timing, the batched search's visit counts are checked against the
reference's on the reference's games: the speed is that of the same search.

The evaluator is a (p, v) MLP as AlphaZero's CI preset uses (``--evaluator network``) or pure MCTS's random
playouts (``--evaluator rollout``, whose visits depend on the draws and are not compared).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import tyro

from fastrl import records


@dataclass
class PlanningBenchConfig:
    """Simulations/s of the batched search over B games beside the reference searching game after game."""

    batch: tuple[int, ...] = (1, 16, 64, 256, 1024)
    """games searched at once by the batched search"""
    simulations: int = 64
    """simulations per search"""
    evaluator: Literal["network", "rollout"] = "network"
    """network: an MLP's (p, v); rollout: uniform prior and one random playout (pure MCTS)"""
    hidden: tuple[int, ...] = (128, 128)
    """network: the MLP's widths"""
    reference_games: int = 4
    """games the reference searches (one after another) per repetition"""
    opening_moves: int = 4
    """random moves played before each searched position"""
    repeats: int = 3
    """timed repetitions of each case (alternating); the best is reported, the median kept"""
    c_puct: float = 1.5
    """the PUCT exploration constant"""
    device: str = "cpu"
    """torch device of the trees and the network"""
    threads: int = 1
    """torch CPU threads"""
    note: str = ""
    """a note stored with the records (e.g. what else was running)"""
    json: Path | None = None
    """where to write the records (default: profiles/<hardware>/planning.json only with --save)"""
    save: bool = False
    """write the records to profiles/<hardware>/planning.json when --json is not given"""


def _positions(batch: int, moves: int, device: torch.device) -> torch.Tensor:
    from fastrl.envs.connect_four import RULES

    generator = torch.Generator(device=device).manual_seed(0)
    states = RULES.initial(batch, device)
    for _ in range(moves):
        after, _, done = RULES.play(states, RULES.random_moves(states, generator))
        states = torch.where(done[:, None, None], states, after)
    return states


def _evaluator(config: PlanningBenchConfig, device: torch.device):
    from fastrl.algos.alphazero.learner import PolicyValueNet
    from fastrl.config.alphazero import AlphaZeroConfig
    from fastrl.envs.connect_four import RULES
    from fastrl.planning.puct import network_evaluator, rollout_evaluator

    if config.evaluator == "rollout":
        return rollout_evaluator(RULES, torch.Generator(device=device).manual_seed(0))
    torch.manual_seed(0)
    net = PolicyValueNet((2, *RULES.state_shape), RULES.num_actions, AlphaZeroConfig(hidden=config.hidden))
    return network_evaluator(net.to(device), RULES)


def _seconds(fn, device: torch.device) -> float:
    from fastrl.benchmarks.timing import synchronize

    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def run(config: PlanningBenchConfig) -> list[dict]:
    from fastrl.envs.connect_four import RULES
    from fastrl.planning import mcts, reference

    torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    evaluate = _evaluator(config, device)
    s = config.simulations
    kwargs = dict(c_puct=config.c_puct)
    ref_roots = _positions(config.reference_games, config.opening_moves, device)
    if config.evaluator == "network":
        batched_visits = mcts.search(RULES, evaluate, ref_roots, s, **kwargs).visits
        if not torch.equal(batched_visits.cpu(), reference.search(RULES, evaluate, ref_roots, s, **kwargs)):
            raise RuntimeError("bench planning: the batched search's visit counts differ from the reference's")
    cases = {"reference": (config.reference_games, lambda: reference.search(RULES, evaluate, ref_roots, s, **kwargs))}
    for b in config.batch:
        roots = _positions(b, config.opening_moves, device)
        cases[f"batched/B{b}"] = (b, lambda roots=roots: mcts.search(RULES, evaluate, roots, s, **kwargs))
    for _, fn in cases.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(config.repeats):
        for name, (_, fn) in cases.items():
            times[name].append(_seconds(fn, device))
    reference_rate = config.reference_games * s / min(times["reference"])
    rows = []
    for name, (games, _) in cases.items():
        best, median = min(times[name]), statistics.median(times[name])
        rate = games * s / best
        backend, _, batch = name.partition("/")
        rows.append(records.record(
            "planning", f"ConnectFour/{batch or f'{games} games, one at a time'}/sims{s}/{config.evaluator}",
            backend, "simulations_per_s", rate, "1/s", median_simulations_per_s=games * s / median,
            games=games, simulations=s, seconds_best=best, seconds_all=times[name],
            speedup_vs_reference=rate / reference_rate, device=str(device), threads=config.threads))
    return rows


def main(argv: list[str] | None = None, prog: str = "fastrl bench planning") -> int:
    config = tyro.cli(PlanningBenchConfig, args=argv, prog=prog)
    rows = run(config)
    records.print_table(rows, title="fastrl bench planning", extra_columns=("speedup_vs_reference",))
    path = config.json or (records.default_path("planning") if config.save else None)
    if path is not None:
        records.write_records(path, rows, records.run_meta(config))
        print(f"records written to {path}")
    return 0
