"""Connect Four, batched in torch: the rules as pure functions on B boards, and a native env around them.

**The rules** (``legal_moves``, ``play``, ``planes``) act on *canonical* boards: int8 ``[B, 6, 7]``, row 0 at
the top, +1 for the stones of the player to move, -1 for the other player's, 0 for empty cells. ``play(boards,
columns)`` drops a +1 stone into each board's column and returns the boards seen by the *next* player to move
(negated), the reward of the player who moved (1 for a win, else 0) and whether the game ended (a win or a
full board, a draw). A two-player zero-sum game in this form needs no "whose turn" in its state: search code
(``fastrl.planning``) negates values at every ply instead. ``RULES`` bundles them for the planners.

**The env** (``ConnectFour``, wrapped by ``fastrl.envs.native.NativeVecEnv``) is a single-agent MDP: the agent
plays against a built-in opponent, by default a uniformly random one, and each env's first mover is drawn at
every new game (option ``first``). Reward +1 for a win, -1 for a loss, 0 otherwise; the observation is the
board from the agent's side as two float32 planes ``[2, 6, 7]`` (its stones, the opponent's). With
``opponent="self"`` there is no built-in opponent: the actions alternate between the two sides, each
observation is the board seen by the player to move, and the reward goes to the player who just moved (the
form self-play learners use, ``fastrl.algos.alphazero``).

**Legal-action masks**: a column is legal while its top cell is empty: ``legal_moves(boards)``, or
``legal_from_planes(obs)`` on observations, or ``env.game.legal_actions()``. An illegal move is refused with a
one-line ``ValueError`` naming the env, the column and the open columns (option ``check_moves``; the check
reads one bool from the device per step). Autoreset is next-step, as in every ``VecEnv``.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import torch

ROWS, COLUMNS = 6, 7
OPPONENTS = ("random", "self")
FIRST_MOVERS = ("random", "agent", "opponent")


# ---------------------------------------------------------------------------------------------------------
# The rules, on canonical boards (the player to move is +1)
# ---------------------------------------------------------------------------------------------------------


def new_boards(batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.zeros((batch, ROWS, COLUMNS), dtype=torch.int8, device=device)


def legal_moves(boards: torch.Tensor) -> torch.Tensor:
    """bool ``[B, 7]``: the columns whose top cell is empty."""
    return boards[:, 0, :] == 0


#: each cell's bit in a bitboard: column-major, 7 bits per column (6 cells, then an always-empty guard bit)
_CELL_BITS = torch.tensor([[1 << (c * (ROWS + 1) + (ROWS - 1 - r)) for c in range(COLUMNS)] for r in range(ROWS)],
                          dtype=torch.int64)


def four_in_a_row(stones: torch.Tensor) -> torch.Tensor:
    """bool ``[B]``: whether the stones (bool ``[B, 6, 7]``) hold four in a row, column or diagonal.

    The classic bitboard test (Tromp's): with the stones as bits of one integer, ``m = b & (b >> d)`` marks
    two in a line along the shift ``d`` (1: up a column, 7: along a row, 6 and 8: the diagonals), and ``m &
    (m >> 2d)`` four. The guard bit above each column stops a line from wrapping into the next column.
    """
    bits = (stones.long() * _CELL_BITS.to(stones.device)).sum(dim=(1, 2))
    four = torch.zeros_like(bits)
    for d in (1, ROWS + 1, ROWS, ROWS + 2):
        pairs = bits & (bits >> d)
        four |= pairs & (pairs >> (2 * d))
    return four != 0


def play(boards: torch.Tensor, columns: torch.Tensor, *, check: bool = True,
         where: str = "ConnectFour") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The player to move drops a stone into ``columns`` (int64 ``[B]``) of each board.

    Returns ``(next_boards, reward, done)``: the boards as the next player to move sees them (negated), the
    mover's reward (float32: 1 for four in a row, else 0) and bool ``done`` (a win or a full board).
    ``check``: refuse a full column (one sync); without it a full column's result is undefined (search code
    plays legal moves only).
    """
    if check:
        check_moves(boards, columns, where)
    batch = torch.arange(boards.shape[0], device=boards.device)
    column_cells = boards[batch, :, columns]  # [B, ROWS]
    row = (column_cells == 0).sum(dim=1) - 1  # the lowest empty cell
    after = boards.clone()
    after[batch, row, columns] = 1
    won = four_in_a_row(after == 1)
    done = won | (after[:, 0, :] != 0).all(dim=1)
    return after.neg_(), won.float(), done


def check_moves(boards: torch.Tensor, columns: torch.Tensor, where: str, skip: torch.Tensor | None = None) -> None:
    """Refuse a move into a full column (``skip``: rows whose move is ignored, e.g. restarting envs)."""
    legal = legal_moves(boards).gather(1, columns.view(-1, 1)).squeeze(1)
    illegal = ~legal if skip is None else ~legal & ~skip
    if bool(illegal.any()):
        i = int(illegal.nonzero()[0, 0])
        stones = int((boards[i] != 0).sum())
        open_columns = " ".join(str(c) for c in legal_moves(boards[i:i + 1])[0].nonzero().flatten().tolist())
        raise ValueError(f"{where}, env {i}: column {int(columns[i])} is full (move {stones + 1} of its game); "
                         f"expected one of the open columns {open_columns}")


def finished(boards: torch.Tensor) -> torch.Tensor:
    """bool ``[B]``: the game is over: the player who just moved (-1) has four, or the board is full."""
    return four_in_a_row(boards == -1) | (boards[:, 0, :] != 0).all(dim=1)


def planes(boards: torch.Tensor) -> torch.Tensor:
    """float32 ``[B, 2, 6, 7]``: the stones of the player to move, then the other player's."""
    return torch.stack([boards == 1, boards == -1], dim=1).float()


def boards_from_planes(obs: torch.Tensor) -> torch.Tensor:
    """The canonical int8 boards of observations ``planes(boards)``."""
    return (obs[:, 0] - obs[:, 1]).to(torch.int8)


def legal_from_planes(obs: torch.Tensor) -> torch.Tensor:
    """bool ``[B, 7]``: the legal columns of observations ``planes(boards)``."""
    return (obs[:, 0, 0, :] == 0) & (obs[:, 1, 0, :] == 0)


def random_moves(boards: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random legal column per board (int64 ``[B]``); one uniform draw per column of every board,
    so the stream of draws does not depend on the boards. A full board gets an arbitrary column."""
    draws = torch.rand(boards.shape[0], COLUMNS, generator=generator, device=boards.device)
    return draws.masked_fill_(~legal_moves(boards), -1.0).argmax(dim=1)


class Rules:
    """Connect Four as the planners (``fastrl.planning``) see a game: canonical states and pure functions."""

    name = "ConnectFour"
    num_actions = COLUMNS
    state_shape = (ROWS, COLUMNS)
    max_moves = ROWS * COLUMNS
    initial = staticmethod(new_boards)
    legal = staticmethod(legal_moves)
    finished = staticmethod(finished)
    observe = staticmethod(planes)
    from_observation = staticmethod(boards_from_planes)
    random_moves = staticmethod(random_moves)

    @staticmethod
    def play(states: torch.Tensor, actions: torch.Tensor):
        return play(states, actions, check=False)


RULES = Rules()


# ---------------------------------------------------------------------------------------------------------
# The native env: the agent against a built-in opponent (or both sides, opponent="self")
# ---------------------------------------------------------------------------------------------------------


class ConnectFour:
    """The state of ``num_envs`` Connect Four games and the batched step (see the module docstring)."""

    id = "ConnectFour-v0"

    def __init__(self, num_envs: int, device: torch.device, *, opponent: str = "random", first: str = "random",
                 check_moves: bool = True):
        if opponent not in OPPONENTS:
            raise ValueError(f"{self.id}: option opponent={opponent!r}; expected one of {', '.join(OPPONENTS)}")
        if first not in FIRST_MOVERS:
            raise ValueError(f"{self.id}: option first={first!r}; expected one of {', '.join(FIRST_MOVERS)}")
        if opponent == "self" and first != "random":
            raise ValueError(f"{self.id}: option first={first!r} with opponent='self': both sides are the "
                             f"agent; drop the option first")
        self.num_envs, self.opponent, self.first, self.check_moves = num_envs, opponent, first, bool(check_moves)
        self.single_observation_space = gymnasium.spaces.Box(0.0, 1.0, (2, ROWS, COLUMNS), np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(COLUMNS)
        #: canonical boards: +1 for the player to move (with a built-in opponent: always the agent)
        self.boards = new_boards(num_envs, device)
        self._coin = torch.zeros(num_envs, dtype=torch.int64, device=device)  # 1: the opponent starts

    def legal_actions(self) -> torch.Tensor:
        """bool ``[num_envs, 7]``: the columns the agent may play now."""
        return legal_moves(self.boards)

    def reset(self, generator: torch.Generator, obs: torch.Tensor) -> None:
        self.boards.copy_(self._new_games(generator))
        obs.copy_(planes(self.boards))

    def step(self, actions: torch.Tensor, restart: torch.Tensor, generator: torch.Generator,
             obs: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """The agent's move and (with a built-in opponent) the opponent's reply, in every env; envs where
        ``restart`` is True ignore their action and start a new game (reward 0). The opponent's draws are
        made for every env at every step, used or not."""
        if self.check_moves:
            check_moves(self.boards, actions, self.id, skip=restart)
        after_agent, agent_won, agent_done = play(self.boards, actions, check=False)
        if self.opponent == "self":
            boards, won, done = after_agent, agent_won, agent_done
        else:
            after_reply, opponent_won, reply_done = play(after_agent, random_moves(after_agent, generator),
                                                         check=False)
            boards = torch.where(agent_done[:, None, None], after_agent.neg(), after_reply)
            won = agent_won - torch.where(agent_done, 0.0, opponent_won)
            done = agent_done | reply_done
        fresh = self._new_games(generator)
        self.boards.copy_(torch.where(restart[:, None, None], fresh, boards))
        reward.copy_(won).masked_fill_(restart, 0.0)
        torch.logical_and(done, ~restart, out=terminated)
        truncated.fill_(False)
        obs.copy_(planes(self.boards))

    def _new_games(self, generator: torch.Generator) -> torch.Tensor:
        """Empty boards, where the opponent starts (drawn for every env) with its first move played."""
        empty = new_boards(self.num_envs, self.boards.device)
        if self.opponent == "self":
            return empty
        self._coin.random_(0, 2, generator=generator)
        opening, _, _ = play(empty, random_moves(empty, generator), check=False)
        opponent_starts = {"random": self._coin == 1, "agent": torch.zeros_like(self._coin, dtype=torch.bool),
                           "opponent": torch.ones_like(self._coin, dtype=torch.bool)}[self.first]
        return torch.where(opponent_starts[:, None, None], opening, empty)
