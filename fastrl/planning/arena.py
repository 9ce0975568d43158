"""Matches between two players of a two-player game, all games at once, scored with confidence intervals.

A player is ``act(states) -> actions`` on canonical states of unfinished games (the player to move is +1).
``match`` plays ``games`` games, the agent moving first in half of them, and counts the agent's wins, draws
and losses; ``MatchResult`` gives the win rate with its exact (Clopper-Pearson) 95% interval, so a reader can
tell a real difference between two agents from the luck of a few games.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fastrl.planning.mcts import search
from fastrl.planning.puct import Evaluator, Rules, rollout_evaluator

Player = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MatchResult:
    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.games

    def win_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The exact (Clopper-Pearson) interval of the win probability."""
        from scipy.stats import binomtest

        ci = binomtest(self.wins, self.games).proportion_ci(confidence_level=confidence, method="exact")
        return float(ci.low), float(ci.high)

    def metrics(self, prefix: str) -> dict[str, float]:
        low, high = self.win_interval()
        return {f"{prefix}_win_rate": self.win_rate, f"{prefix}_win_ci_low": low, f"{prefix}_win_ci_high": high,
                f"{prefix}_draw_rate": self.draws / self.games, f"{prefix}_games": float(self.games)}

    def __str__(self) -> str:
        low, high = self.win_interval()
        return (f"won {self.wins}/{self.games} = {self.win_rate:.1%} (95% CI {low:.1%}-{high:.1%}), "
                f"{self.draws} draws, {self.losses} losses")


def match(rules: Rules, agent: Player, opponent: Player, games: int, device: torch.device | str = "cpu") -> MatchResult:
    """Play ``games`` games, the agent first in the even-numbered ones; the result from the agent's side."""
    if games < 1:
        raise ValueError(f"match: games={games}; expected at least 1")
    states = rules.initial(games, device)
    agent_first = torch.arange(games, device=device) % 2 == 0
    playing = torch.ones(games, dtype=torch.bool, device=device)
    outcome = torch.zeros(games, device=device)  # +1 the agent won, -1 it lost
    for ply in range(rules.max_moves):
        live = playing.nonzero().squeeze(1)
        if live.numel() == 0:
            break
        agent_moves = (agent_first[live] if ply % 2 == 0 else ~agent_first[live])
        actions = torch.empty(live.numel(), dtype=torch.int64, device=device)
        for mine, player in ((agent_moves, agent), (~agent_moves, opponent)):
            if bool(mine.any()):
                actions[mine] = player(states[live[mine]])
        after, reward, done = rules.play(states[live], actions)
        outcome[live] += torch.where(agent_moves, reward, -reward)
        states[live] = after
        playing[live] = ~done
    wins, losses = int((outcome > 0).sum()), int((outcome < 0).sum())
    return MatchResult(wins, games - wins - losses, losses)


def search_player(rules: Rules, evaluate: Evaluator, simulations: int, c_puct: float) -> Player:
    """Plays the most visited move of a search (no root noise)."""

    def act(states: torch.Tensor) -> torch.Tensor:
        return search(rules, evaluate, states, simulations, c_puct=c_puct).visits.argmax(dim=1)

    return act


def pure_mcts_player(rules: Rules, simulations: int, c_puct: float, generator: torch.Generator | None = None) -> Player:
    """Pure MCTS: the search with a uniform prior and the value of one random playout per leaf."""
    return search_player(rules, rollout_evaluator(rules, generator), simulations, c_puct)


def random_player(rules: Rules, generator: torch.Generator | None = None) -> Player:
    return lambda states: rules.random_moves(states, generator)
