"""The two gridworlds of Sutton & Barto that the tabular methods are checked on, as ``TabularMDP`` tables.

Both are deterministic grids with the book's four moves; a move that would leave the grid leaves the state
unchanged. They are built from one description (size, terminal cells, start cells, cliff cells) so that the
two cannot differ in how a move is made.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fastrl.tabular.mdp import TabularMDP

#: the book's four moves, as (row, column) offsets; row 0 is the top of the grid
MOVES = {"up": (-1, 0), "down": (1, 0), "right": (0, 1), "left": (0, -1)}


def grid_mdp(name: str, rows: int, columns: int, *, terminal: Sequence[tuple[int, int]],
             start: Sequence[tuple[int, int]], step_reward: float = -1.0, cliff: Sequence[tuple[int, int]] = (),
             cliff_reward: float = -100.0) -> TabularMDP:
    """A deterministic grid: every move costs ``step_reward``; a move into a ``cliff`` cell costs
    ``cliff_reward`` and sends the agent to the (single) start cell instead; ``start`` cells are equally
    likely first states. The cliff cells stay in the state space (numbered like every cell) but are never
    entered."""
    if cliff and len(start) != 1:
        raise ValueError(f"{name}: a cliff sends the agent back to its start; expected one start cell")
    S, A = rows * columns, len(MOVES)
    P = torch.zeros(S, A, S, dtype=torch.float64)
    R = torch.full((S, A), step_reward, dtype=torch.float64)
    for s in range(S):
        row, column = divmod(s, columns)
        for a, (d_row, d_column) in enumerate(MOVES.values()):
            if (row, column) in terminal:
                P[s, a, s], R[s, a] = 1.0, 0.0
                continue
            to = (min(max(row + d_row, 0), rows - 1), min(max(column + d_column, 0), columns - 1))
            if to in cliff:
                to, R[s, a] = start[0], cliff_reward
            P[s, a, to[0] * columns + to[1]] = 1.0
    is_terminal = torch.zeros(S, dtype=torch.bool)
    first = torch.zeros(S, dtype=torch.float64)
    for row, column in terminal:
        is_terminal[row * columns + column] = True
    for row, column in start:
        first[row * columns + column] = 1.0 / len(start)
    return TabularMDP(name, P, R, is_terminal, first, (rows, columns), tuple(MOVES))


def gridworld_4x4() -> TabularMDP:
    """S&B Example 4.1: a 4x4 grid, terminal corners (0, 0) and (3, 3), reward -1 on every move. An episode
    starts in any non-terminal cell with equal probability (the book does not need a start; sampled
    methods do, and this one reaches every state)."""
    corners = [(0, 0), (3, 3)]
    cells = [(r, c) for r in range(4) for c in range(4) if (r, c) not in corners]
    return grid_mdp("gridworld-4x4", 4, 4, terminal=corners, start=cells)


def cliff_walking() -> TabularMDP:
    """S&B Example 6.6: a 4x12 grid from the start S = (3, 0) to the goal G = (3, 11) along the bottom row,
    reward -1 per move; the cells between them are the cliff: stepping in costs -100 and sends the agent
    back to S."""
    return grid_mdp("cliff-walking", 4, 12, terminal=[(3, 11)], start=[(3, 0)],
                    cliff=[(3, c) for c in range(1, 11)])
