"""MinAtar Breakout, batched: ``minatar/environments/breakout.py`` for [num_envs] games at once.

A paddle on the bottom row bounces a ball that travels along diagonals into three rows of bricks (+1 per
brick; a new wall appears when the ball reaches the bottom row with no brick left). The game ends when the
ball reaches the bottom row beside the paddle. Channels: paddle, ball, trail (the ball's previous cell),
brick. The serve (left or right) is the one random draw, at the start of a game. No difficulty ramp.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import LEFT, RIGHT, MinAtarGame, lookup

# The ball's four diagonal directions: 0 up-left, 1 up-right, 2 down-right, 3 down-left.
STEP_X = (-1, 1, 1, -1)
STEP_Y = (-1, -1, 1, 1)
MIRROR_X = (1, 0, 3, 2)  # off a side wall
MIRROR_Y = (3, 2, 1, 0)  # off the ceiling, a brick, or the paddle's middle
PADDLE_EDGE = (2, 3, 0, 1)  # off the paddle's edge: straight back the way it came
FIRST_BRICK_ROW, LAST_BRICK_ROW = 1, 3


class Breakout(MinAtarGame):
    """The state of ``num_envs`` Breakout games and their batched step."""

    id = "MinAtar/Breakout-v1"
    game = "breakout"
    channels = ("paddle", "ball", "trail", "brick")
    minimal_actions = (0, LEFT, RIGHT)
    draw_layout = (("serve", 1),)

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        flag = dict(dtype=torch.bool, device=device)
        self.ball_x, self.ball_y, self.ball_dir = (torch.zeros(num_envs, **long) for _ in range(3))
        self.last_x, self.last_y, self.pos = (torch.zeros(num_envs, **long) for _ in range(3))
        self.strike = torch.zeros(num_envs, **flag)
        self.bricks = torch.zeros(num_envs, 100, **flag)  # row-major 10 x 10
        self._wall = torch.zeros(100, **flag)
        self._wall[FIRST_BRICK_ROW * 10:(LAST_BRICK_ROW + 1) * 10] = True
        self._move = lookup([0, -1, 0, 1, 0, 0], device)  # paddle step per action
        self._step_x, self._step_y = lookup(STEP_X, device), lookup(STEP_Y, device)
        self._mirror_x, self._mirror_y = lookup(MIRROR_X, device), lookup(MIRROR_Y, device)
        self._paddle_edge = lookup(PADDLE_EDGE, device)
        self._brick_cell = torch.arange(num_envs, **long) * 100
        self._cell, self._turned, self._index = (torch.zeros(num_envs, **long) for _ in range(3))
        self._out, self._brick, self._hit, self._bottom, self._other, self._end = (
            torch.zeros(num_envs, **flag) for _ in range(6))
        self._points = torch.zeros(3, num_envs, **long)
        self._bottom_row = torch.full((num_envs,), 9, **long)

    def _advance(self, action, reward, terminated) -> None:
        x, y, direction = self.ball_x, self.ball_y, self.ball_dir
        out, brick, hit, bottom, other, end = self._out, self._brick, self._hit, self._bottom, self._other, self._end
        self.pos.add_(self._move[action]).clamp_(0, 9)
        self.last_x.copy_(x)
        self.last_y.copy_(y)
        x.add_(self._step_x[direction])
        y.add_(self._step_y[direction])
        # Side walls: clamp and mirror.
        torch.lt(x, 0, out=out).logical_or_(x > 9)
        x.clamp_(0, 9)
        torch.where(out, self._mirror_x[direction], direction, out=direction)
        # Ceiling (y < 0), else a brick, else the bottom row: exclusive, in the original's order.
        torch.lt(y, 0, out=out)
        y.clamp_(0, 9)  # the upper clamp only matters in a finished game's throw-away step
        torch.where(out, self._mirror_y[direction], direction, out=direction)
        torch.mul(y, 10, out=self._cell).add_(x).add_(self._brick_cell)
        flat = self.bricks.view(-1)
        torch.index_select(flat, 0, self._cell, out=brick)
        brick.logical_and_(out.logical_not_())  # ``out`` is "below the ceiling" from here on
        torch.logical_not(self.strike, out=hit).logical_and_(brick)
        reward.add_(hit)
        flat.index_put_((self._cell,), brick.logical_xor(hit))
        torch.where(hit, self.last_y, y, out=y)
        torch.where(hit, self._mirror_y[direction], direction, out=direction)
        self.strike.copy_(brick)
        # Bottom row: a new wall if none is left, then the paddle's middle, its edge, or the end.
        torch.eq(y, 9, out=bottom).logical_and_(out).logical_and_(brick.logical_not_())
        refill = bottom & ~self.bricks.any(dim=1)
        self.bricks.logical_or_(refill[:, None] & self._wall)
        torch.eq(self.last_x, self.pos, out=hit).logical_and_(bottom)  # the middle
        torch.eq(x, self.pos, out=other).logical_and_(bottom).logical_and_(hit.logical_not())  # the edge
        torch.where(hit, self._mirror_y[direction], direction, out=self._turned)
        torch.where(other, self._paddle_edge[direction], self._turned, out=direction)
        hit.logical_or_(other)
        torch.where(hit, self.last_y, y, out=y)
        torch.logical_and(bottom, hit.logical_not_(), out=end)
        terminated.logical_or_(end)

    def _start(self, mask) -> None:
        side = self.draws.integers("serve", 2, out=self._index)  # 0: from the left, going down-right
        torch.where(mask, side * 9, self.ball_x, out=self.ball_x)
        torch.where(mask, side + 2, self.ball_dir, out=self.ball_dir)
        self.ball_y.masked_fill_(mask, 3)
        self.pos.masked_fill_(mask, 4)
        torch.where(mask[:, None], self._wall, self.bricks, out=self.bricks)
        self.strike.masked_fill_(mask, False)
        torch.where(mask, self.ball_x, self.last_x, out=self.last_x)
        self.last_y.masked_fill_(mask, 3)

    def _render(self, obs) -> None:
        boards = obs.view(self.num_envs, 4, 100)
        boards.zero_()
        boards[:, 3].copy_(self.bricks)
        paddle, ball, trail = self._points
        self.cells(0, self._bottom_row, self.pos, paddle)
        self.cells(1, self.ball_y, self.ball_x, ball)
        self.cells(2, self.last_y, self.last_x, trail)
        obs.view(-1).index_fill_(0, self._points.view(-1), True)
