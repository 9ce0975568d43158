"""MinAtar Breakout, batched: ``minatar/environments/breakout.py`` for [num_envs] games at once.

A paddle on the bottom row bounces a ball that travels along diagonals into three rows of bricks (+1 per
brick; a new wall appears when the ball reaches the bottom row with no brick left). The game ends when the
ball reaches the bottom row beside the paddle. Channels: paddle, ball, trail (the ball's previous cell),
brick. The serve (left or right) is the one random draw, at the start of a game. No difficulty ramp.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import LEFT, RIGHT, MinAtarGame, lookup, row_bits_table

# The ball's four diagonal directions: 0 up-left, 1 up-right, 2 down-right, 3 down-left.
STEP_X = (-1, 1, 1, -1)
STEP_Y = (-1, -1, 1, 1)
MIRROR_X = (1, 0, 3, 2)  # off a side wall
MIRROR_Y = (3, 2, 1, 0)  # off the ceiling, a brick, or the paddle's middle
PADDLE_EDGE = (2, 3, 0, 1)  # off the paddle's edge: straight back the way it came
FIRST_BRICK_ROW, LAST_BRICK_ROW = 1, 3
WALL = (1 << 30) - 1  # all 30 bricks


class Breakout(MinAtarGame):
    """The state of ``num_envs`` Breakout games and their batched step.

    The bricks are bits: bit ``(row - 1) * 10 + column`` of one int64 per env, for rows 1 to 3, the only rows
    that ever hold bricks; a lookup, a removal or a new wall is then one op on [num_envs], and drawing the
    wall is a table lookup per row.
    """

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
        self.bricks = torch.zeros(num_envs, **long)
        self._move = lookup([0, -1, 0, 1, 0, 0], device)  # paddle step per action
        self._step_x, self._step_y = lookup(STEP_X, device), lookup(STEP_Y, device)
        self._mirror_x, self._mirror_y = lookup(MIRROR_X, device), lookup(MIRROR_Y, device)
        self._paddle_edge = lookup(PADDLE_EDGE, device)
        self._row_bits = row_bits_table(device)
        self._shift, self._bit, self._turned, self._row = (torch.zeros(num_envs, **long) for _ in range(4))
        self._out, self._brick, self._hit, self._bottom, self._other, self._end = (
            torch.zeros(num_envs, **flag) for _ in range(6))
        self._points = torch.zeros(3, num_envs, **long)
        self._bottom_row = torch.full((num_envs,), 9, **long)
        self._wall_rows = torch.zeros(num_envs, 10, **flag)

    def _mapped(self, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``table[index]`` for a batch of states, without advanced indexing's allocations."""
        return torch.index_select(table, 0, index, out=self._turned)

    def _advance(self, action, reward, terminated) -> None:
        x, y, direction = self.ball_x, self.ball_y, self.ball_dir
        out, brick, hit, bottom, other, end = self._out, self._brick, self._hit, self._bottom, self._other, self._end
        self.pos.add_(self._mapped(self._move, action)).clamp_(0, 9)
        self.last_x.copy_(x)
        self.last_y.copy_(y)
        x.add_(self._mapped(self._step_x, direction))
        y.add_(self._mapped(self._step_y, direction))
        # Side walls: clamp and mirror.
        torch.lt(x, 0, out=out).logical_or_(x > 9)
        x.clamp_(0, 9)
        torch.where(out, self._mapped(self._mirror_x, direction), direction, out=direction)
        # Ceiling (y < 0), else a brick, else the bottom row: exclusive, in the original's order.
        torch.lt(y, 0, out=out)
        y.clamp_(0, 9)  # the upper clamp only matters in a finished game's throw-away step
        torch.where(out, self._mapped(self._mirror_y, direction), direction, out=direction)
        torch.sub(y, FIRST_BRICK_ROW, out=self._shift).mul_(10).add_(x).clamp_(0, 29)
        torch.bitwise_right_shift(self.bricks, self._shift, out=self._bit).bitwise_and_(1)
        torch.ge(y, FIRST_BRICK_ROW, out=brick).logical_and_(y <= LAST_BRICK_ROW).logical_and_(self._bit)
        brick.logical_and_(out.logical_not_())  # ``out`` is "below the ceiling" from here on
        torch.logical_not(self.strike, out=hit).logical_and_(brick)
        reward.add_(hit)
        self.bricks.bitwise_xor_(self._bit.mul_(hit).bitwise_left_shift_(self._shift))
        torch.where(hit, self.last_y, y, out=y)
        torch.where(hit, self._mapped(self._mirror_y, direction), direction, out=direction)
        self.strike.copy_(brick)
        # Bottom row: a new wall if none is left, then the paddle's middle, its edge, or the end.
        torch.eq(y, 9, out=bottom).logical_and_(out).logical_and_(brick.logical_not_())
        self.set_where(self.bricks, bottom & (self.bricks == 0), WALL)
        torch.eq(self.last_x, self.pos, out=hit).logical_and_(bottom)  # the middle
        torch.eq(x, self.pos, out=other).logical_and_(bottom).logical_and_(hit.logical_not())  # the edge
        torch.where(hit, self._mapped(self._mirror_y, direction), direction, out=self._shift)
        torch.where(other, self._mapped(self._paddle_edge, direction), self._shift, out=direction)
        hit.logical_or_(other)
        torch.where(hit, self.last_y, y, out=y)
        torch.logical_and(bottom, hit.logical_not_(), out=end)
        terminated.logical_or_(end)

    def _start(self, mask) -> None:
        side = self.draws.integers("serve", 2, out=self._shift)  # 0: from the left, going down-right
        torch.where(mask, side * 9, self.ball_x, out=self.ball_x)
        torch.where(mask, side + 2, self.ball_dir, out=self.ball_dir)
        self.set_where(self.ball_y, mask, 3)
        self.set_where(self.pos, mask, 4)
        self.set_where(self.bricks, mask, WALL)
        self.set_where(self.strike, mask, False)
        torch.where(mask, self.ball_x, self.last_x, out=self.last_x)
        self.set_where(self.last_y, mask, 3)

    def _render(self, obs) -> None:
        boards = obs.view(self.num_envs, 4, 100)
        boards.zero_()
        for row in range(FIRST_BRICK_ROW, LAST_BRICK_ROW + 1):
            torch.bitwise_right_shift(self.bricks, (row - FIRST_BRICK_ROW) * 10, out=self._row).bitwise_and_(1023)
            torch.index_select(self._row_bits, 0, self._row, out=self._wall_rows)
            boards[:, 3, row * 10:(row + 1) * 10].copy_(self._wall_rows)
        paddle, ball, trail = self._points
        self.cells(0, self._bottom_row, self.pos, paddle)
        self.cells(1, self.ball_y, self.ball_x, ball)
        self.cells(2, self.last_y, self.last_x, trail)
        obs.view(-1).index_fill_(0, self._points.view(-1), True)
