"""Matches: sides alternate, outcomes are counted from the agent's side, and the interval is the exact one."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import beta

from fastrl.envs.connect_four import RULES
from fastrl.planning.arena import MatchResult, match, random_player


def column(c: int):
    return lambda states: torch.full((states.shape[0],), c, dtype=torch.int64)


def test_the_first_mover_wins_a_race_of_stacks_and_each_side_moves_first_in_half_the_games():
    result = match(RULES, column(0), column(1), games=10)  # stacking one column: the first to move gets four
    assert (result.wins, result.draws, result.losses) == (5, 0, 5)
    swapped = match(RULES, column(1), column(0), games=10)
    assert (swapped.wins, swapped.losses) == (5, 5)


def test_random_play_against_itself_is_even_and_the_interval_is_exact():
    generator = torch.Generator().manual_seed(0)
    result = match(RULES, random_player(RULES, generator), random_player(RULES, generator), games=200)
    assert result.games == 200 and abs(result.wins - result.losses) < 45
    # Clopper-Pearson by its definition: the beta quantiles at 2.5% and 97.5%
    low, high = beta.ppf(0.025, 190, 200 - 190 + 1), beta.ppf(0.975, 190 + 1, 200 - 190)
    assert MatchResult(190, 4, 6).win_interval() == pytest.approx((low, high), abs=1e-9)
    assert MatchResult(200, 0, 0).metrics("vs_x")["vs_x_win_ci_high"] == 1.0
