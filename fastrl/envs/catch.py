"""Catch (bsuite), batched in torch: the dynamics of ``num_envs`` games on one device, no Python loop over envs.

A ball starts in the top row of a ``rows x columns`` grid at a random column and falls one row per step; a
paddle on the bottom row, starting in the middle column, moves left / stays / moves right (actions 0, 1, 2)
and stops at the walls. When the ball reaches the bottom row (after ``rows - 1`` steps) the game ends: reward
+1 if the paddle is under the ball, -1 otherwise; every other step gives 0. This is bsuite's
``catch.py`` step for step: the paddle moves first, then the ball drops.

The observation is bsuite's: a float32 ``[rows, columns]`` board with 1.0 at the ball and at the paddle (one
cell when caught), 0.0 elsewhere.

This module holds only the game; ``fastrl.envs.native.NativeVecEnv`` wraps it into a ``VecEnv`` (action
checks, seeding, autoreset bookkeeping, episode statistics). State is integer and preallocated, and a step
is a fixed sequence of in-place tensor ops, so it runs the same on CPU and CUDA and never syncs the device.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import torch


class Catch:
    """The state of ``num_envs`` Catch games and the batched step that advances them."""

    id = "Catch-v0"

    def __init__(self, num_envs: int, device: torch.device, *, rows: int = 10, columns: int = 5):
        for name, value, least in (("rows", rows, 2), ("columns", columns, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{self.id}: option {name}={value!r}; expected an integer >= {least}")
        self.num_envs, self.rows, self.columns = num_envs, rows, columns
        self.single_observation_space = gymnasium.spaces.Box(0.0, 1.0, (rows, columns), np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(3)
        long = dict(dtype=torch.int64, device=device)  # int64: index_fill_ takes it, so no casts per step
        self.ball_x = torch.zeros(num_envs, **long)
        self.ball_y = torch.zeros(num_envs, **long)
        self.paddle_x = torch.zeros(num_envs, **long)
        self._new_column = torch.zeros(num_envs, **long)
        # Index of the ball's cell (row 0) and the paddle's (row 1) in the flattened batch of boards.
        self._cells = torch.zeros(2, num_envs, **long)
        self._board_start = torch.arange(num_envs, **long).mul_(rows * columns)
        self._bottom_row_start = self._board_start + (rows - 1) * columns
        self._caught = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self._falling = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def reset(self, generator: torch.Generator, obs: torch.Tensor) -> None:
        """Start a new game in every env and write the first boards into ``obs``."""
        self.ball_x.random_(0, self.columns, generator=generator)
        self.ball_y.zero_()
        self.paddle_x.fill_(self.columns // 2)
        self._draw(obs)

    def step(self, actions: torch.Tensor, restart: torch.Tensor, generator: torch.Generator,
             obs: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """Advance every env by one step, writing into the given output tensors.

        ``actions`` are int64 in {0, 1, 2}. Envs where ``restart`` is True ignore their action and start a
        new game instead (reward 0, not terminated). A new ball column is drawn for *every* env at every
        step, used or not, so that env i's random stream depends only on the seed, ``num_envs`` and the
        number of steps, never on when other envs restart.
        """
        self.paddle_x.add_(actions).sub_(1).clamp_(0, self.columns - 1)
        self.ball_y.add_(1)
        self._new_column.random_(0, self.columns, generator=generator)
        torch.where(restart, self._new_column, self.ball_x, out=self.ball_x)
        self.ball_y.masked_fill_(restart, 0)
        self.paddle_x.masked_fill_(restart, self.columns // 2)

        torch.ne(self.ball_y, self.rows - 1, out=self._falling)
        torch.logical_not(self._falling, out=terminated)
        truncated.fill_(False)
        # +1 caught, -1 missed, 0 while the ball is still falling (masked, so no -0.0 appears).
        torch.eq(self.ball_x, self.paddle_x, out=self._caught)
        torch.mul(self._caught, 2, out=reward).sub_(1).masked_fill_(self._falling, 0.0)
        self._draw(obs)

    def _draw(self, obs: torch.Tensor) -> None:
        """Write the boards: zero them, then set 1.0 at the ball's and the paddle's cell.

        index_fill_ on the flattened batch is faster than a per-row scatter_ on the CPU (``fastrl bench envs
        --env Catch-v0 --backend native`` times the step: profiles/*/envs-native.json).
        """
        ball, paddle = self._cells
        torch.mul(self.ball_y, self.columns, out=ball).add_(self.ball_x).add_(self._board_start)
        torch.add(self.paddle_x, self._bottom_row_start, out=paddle)
        boards = obs.view(-1)
        boards.zero_()
        boards.index_fill_(0, self._cells.view(-1), 1.0)
