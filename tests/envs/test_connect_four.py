"""Connect Four: the rules on hand-made boards (rows, columns, both diagonals, no wrap-around, draws), the
batched rules against a plain-Python game over random games, illegal moves refused, and the native env (the
random opponent, self-play, next-step autoreset, seeding, options)."""

from __future__ import annotations

import pytest
import torch

from fastrl.envs import make_env
from fastrl.envs.connect_four import (
    COLUMNS,
    ROWS,
    boards_from_planes,
    four_in_a_row,
    legal_from_planes,
    legal_moves,
    new_boards,
    planes,
    play,
    random_moves,
)


def board(*rows: str) -> torch.Tensor:
    """One canonical board from 6 strings, top row first: x = player to move (+1), o = other (-1), . empty."""
    assert len(rows) == ROWS and all(len(r) == COLUMNS for r in rows)
    value = {"x": 1, "o": -1, ".": 0}
    return torch.tensor([[[value[c] for c in r] for r in rows]], dtype=torch.int8)


def python_winner(cells: list[list[int]]) -> int:
    """The player (+1 / -1) with four in a row on a 6x7 grid of ints, 0 if none: every cell, every direction."""
    for r in range(ROWS):
        for c in range(COLUMNS):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (-1, 1)):
                line = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= y < ROWS and 0 <= x < COLUMNS for y, x in line):
                    values = {cells[y][x] for y, x in line}
                    if len(values) == 1 and values != {0}:
                        return values.pop()
    return 0


@pytest.mark.parametrize("rows, column", [
    ((".......", ".......", ".......", ".......", ".......", "oxxx.oo"), 4),  # a row, completed on its right
    ((".......", ".......", ".......", "..x....", "..x....", "..xoo.o"), 2),  # a column
    ((".......", ".......", ".......", "..xx...", ".xoo...", "xooxo.."), 3),  # rising to the right
    ((".......", ".......", ".......", "...xx..", "...oox.", "..oxoox"), 3),  # falling to the right
])
def test_the_move_that_makes_four_wins(rows, column):
    after, reward, done = play(board(*rows), torch.tensor([column]))
    assert reward.tolist() == [1.0] and done.tolist() == [True]
    assert four_in_a_row(after == -1).tolist() == [True]  # the mover's stones are -1 for the next player


@pytest.mark.parametrize("rows, column", [
    ((".......", ".......", ".......", ".......", "xxx....", "oooxooo"), 4),  # three in a row, then a gap
    ((".......", ".......", ".......", ".......", "x......", "ooo.xx."), 3),  # o's row is the opponent's
    ((".......", ".......", ".......", ".......", ".....xx", "xxo.ooo"), 3),  # no wrap-around
])
def test_no_four_no_win(rows, column):
    _, reward, done = play(board(*rows), torch.tensor([column]))
    assert reward.tolist() == [0.0] and done.tolist() == [False]


def test_a_full_board_without_four_is_a_draw():
    rows = ("xoxoxo.", "xoxoxoo", "oxoxoxx", "oxoxoxo", "xoxoxox", "xoxoxox")
    start = board(*rows)
    assert python_winner(start[0].tolist()) == 0 and legal_moves(start).tolist() == [[False] * 6 + [True]]
    after, reward, done = play(start, torch.tensor([6]))
    assert reward.tolist() == [0.0] and done.tolist() == [True]
    assert python_winner(after[0].tolist()) == 0 and (after != 0).all()


def test_the_batched_rules_match_a_plain_python_game_over_random_games():
    generator = torch.Generator().manual_seed(0)
    batch = 64
    boards = new_boards(batch)
    cells = [[[0] * COLUMNS for _ in range(ROWS)] for _ in range(batch)]
    over = [False] * batch
    for _ in range(ROWS * COLUMNS):
        columns = random_moves(boards, generator)
        live = torch.tensor([not o for o in over])
        boards_after, reward, done = play(boards, columns, check=False)
        for i in range(batch):
            if over[i]:
                continue
            c = int(columns[i])
            r = max(y for y in range(ROWS) if cells[i][y][c] == 0)
            cells[i][r][c] = 1
            won = python_winner(cells[i]) == 1
            assert float(reward[i]) == float(won)
            assert bool(done[i]) == (won or all(v != 0 for v in cells[i][0]))
            cells[i] = [[-v for v in row] for row in cells[i]]  # the next player's side
            assert boards_after[i].tolist() == cells[i]
            over[i] = bool(done[i])
        boards = torch.where(live[:, None, None], boards_after, boards)
    assert all(over)


def test_an_illegal_move_is_refused_in_one_line():
    full = board("x......", "o......", "x......", "o......", "x......", "o......")
    with pytest.raises(ValueError, match=r"^ConnectFour, env 0: column 0 is full \(move 7 of its game\); "
                                         r"expected one of the open columns 1 2 3 4 5 6$"):
        play(full, torch.tensor([0]))
    env = make_env("ConnectFour-v0", 2, opponent="self")
    env.reset()
    for _ in range(6):
        env.step(torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="ConnectFour-v0, env 1: column 3 is full"):
        env.step(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"ConnectFour-v0, step 6: action 7 for env 0 is out of range"):
        env.step(torch.tensor([7, 0]))


def test_planes_round_trip_and_masks():
    b = board(".x.o...", "ox.xo..", "xoxoxox", "oxoxoxo", "xoxoxox", "oxoxoxo")
    obs = planes(b)
    assert obs.shape == (1, 2, ROWS, COLUMNS) and obs.dtype == torch.float32
    assert torch.equal(boards_from_planes(obs), b)
    assert legal_from_planes(obs).tolist() == legal_moves(b).tolist() == [[True, False, True, False] + [True] * 3]


def test_against_the_random_opponent_rewards_are_the_agents():
    env = make_env("ConnectFour-v0", 256, seed=1)
    obs = env.reset()
    stones = obs.sum(dim=(1, 2, 3))
    assert set(stones.tolist()) == {0.0, 1.0}  # the opponent opened about half the games
    assert torch.equal(obs[:, 0].sum(dim=(1, 2)), torch.zeros(256))  # the agent's plane: no stone yet
    generator = torch.Generator().manual_seed(2)
    results = []
    for _ in range(60):
        obs, reward, terminated, truncated, info = env.step(random_moves(boards_from_planes(obs), generator))
        assert not truncated.any() and set(reward.tolist()) <= {-1.0, 0.0, 1.0}
        assert (terminated | (reward == 0)).all()
        results += reward[info["episode_end"]].tolist()
        ours, theirs = obs[:, 0].sum(dim=(1, 2)), obs[:, 1].sum(dim=(1, 2))
        assert ((theirs - ours == 0) | (theirs - ours == 1) | terminated).all()  # agent to move, or game over
    wins, losses = results.count(1.0), results.count(-1.0)
    assert len(results) > 500 and abs(wins - losses) < 0.15 * len(results)  # random against random: even


def test_self_play_alternates_sides_and_autoresets_next_step():
    env = make_env("ConnectFour-v0", 1, opponent="self")
    obs = env.reset()
    for move in range(6):  # x in column 0, o in column 1, x, o, x: then x's fourth stone in column 0
        obs, reward, terminated, _, info = env.step(torch.tensor([move % 2]))
        assert obs.sum() == move + 1
    assert reward.tolist() == [0.0] and not terminated.any()
    obs, reward, terminated, _, info = env.step(torch.tensor([0]))
    assert reward.tolist() == [1.0] and terminated.tolist() == [True]
    assert info["episode_length"].tolist() == [7] and info["episode_return"].tolist() == [1.0]
    assert four_in_a_row(boards_from_planes(obs) == -1).tolist() == [True]  # seen by the side that lost
    obs, reward, terminated, _, _ = env.step(torch.tensor([0]))  # ignored: a new game starts
    assert obs.sum() == 0 and reward.tolist() == [0.0] and not terminated.any()


def test_same_seed_same_games_and_bad_options():
    def games(seed):
        env = make_env("ConnectFour-v0", 8, seed=seed)
        out = [env.reset().clone()]
        for step in range(20):
            moves = random_moves(boards_from_planes(out[-1]), torch.Generator().manual_seed(step))
            out.append(env.step(moves)[0].clone())
        return torch.stack(out)

    assert torch.equal(games(3), games(3)) and not torch.equal(games(3), games(4))
    with pytest.raises(ValueError, match=r"ConnectFour-v0: option opponent='minimax'; expected one of random, self"):
        make_env("ConnectFour-v0", 2, opponent="minimax")
    with pytest.raises(ValueError, match=r"option first='agent' with opponent='self'"):
        make_env("ConnectFour-v0", 2, opponent="self", first="agent")
    env = make_env("ConnectFour-v0", 4, first="agent", seed=0)
    assert env.reset().sum() == 0
    env = make_env("ConnectFour-v0", 4, first="opponent", seed=0)
    assert env.reset().sum(dim=(1, 2, 3)).tolist() == [1.0] * 4
