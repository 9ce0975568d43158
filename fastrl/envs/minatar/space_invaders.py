"""MinAtar Space Invaders, batched: ``minatar/environments/space_invaders.py`` for [num_envs] games at once.

A cannon on the bottom row shoots up (one shot per 5 steps) at a 4 x 6 block of aliens that marches sideways,
steps down and turns at the walls, and fires at the cannon from the alien nearest to it (every 10 steps). +1
per alien shot; a cleared wave is replaced, faster with the difficulty ramp. The game ends when an alien or
an alien's bullet reaches the cannon, or the block turns while it fills the bottom row. Channels: cannon,
alien, alien moving left, alien moving right, cannon bullet, alien bullet. No random draws beyond the sticky
action.

The aliens and both kinds of bullets are boolean maps, as in the original (which rolls numpy maps).
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import FIRE, LEFT, RIGHT, MinAtarGame, lookup

SHOT_COOL_DOWN = 5
ALIEN_MOVE_INTERVAL = 12
FASTEST_MOVE_INTERVAL = 6  # the ramp stops here
ALIEN_SHOT_INTERVAL = 10


class SpaceInvaders(MinAtarGame):
    """The state of ``num_envs`` Space Invaders games and their batched step."""

    id = "MinAtar/SpaceInvaders-v1"
    game = "space_invaders"
    channels = ("cannon", "alien", "alien_left", "alien_right", "friendly_bullet", "enemy_bullet")
    minimal_actions = (0, LEFT, RIGHT, FIRE)

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        flag = dict(dtype=torch.bool, device=device)
        self.pos, self.alien_dir, self.move_interval = (torch.zeros(num_envs, **long) for _ in range(3))
        self.move_timer, self.alien_shot_timer, self.shot_timer, self.ramp_index = (
            torch.zeros(num_envs, **long) for _ in range(4))
        self.aliens, self.bullets, self.alien_bullets = (torch.zeros(num_envs, 10, 10, **flag) for _ in range(3))
        self._wave = torch.zeros(10, 10, **flag)
        self._wave[0:4, 2:8] = True
        self._move = lookup([0, -1, 0, 1, 0, 0], device)
        self._column_order = torch.arange(10, **long)  # ties in distance go to the lower column
        self._env_cells = torch.arange(num_envs, **long) * 100
        self._shifted = torch.zeros(num_envs, 10, 10, **flag)
        self._columns = torch.zeros(num_envs, 10, **flag)
        self._key = torch.zeros(num_envs, 10, **long)
        self._count, self._cell, self._column, self._row = (torch.zeros(num_envs, **long) for _ in range(4))
        self._fire, self._move_now, self._turn, self._flag = (torch.zeros(num_envs, **flag) for _ in range(4))
        self._points = torch.zeros(num_envs, **long)
        self._bottom_row = torch.full((num_envs,), 9, **long)

    def _advance(self, action, reward, terminated) -> None:
        pos, fire, flag, cell = self.pos, self._fire, self._flag, self._cell
        # The cannon fires (into the bottom row, empty at this point) or moves.
        torch.eq(action, FIRE, out=fire).logical_and_(self.shot_timer == 0)
        self.shot_timer.masked_fill_(fire, SHOT_COOL_DOWN)
        pos.add_(self._move[action]).clamp_(0, 9)
        torch.add(pos, 90, out=cell).add_(self._env_cells)
        self.bullets.view(-1).index_put_((cell,), fire)
        # Bullets fly one row: the cannon's up, the aliens' down.
        self._shifted.copy_(self.bullets)
        self.bullets[:, :9].copy_(self._shifted[:, 1:])
        self.bullets[:, 9].zero_()
        self._shifted.copy_(self.alien_bullets)
        self.alien_bullets[:, 1:].copy_(self._shifted[:, :9])
        self.alien_bullets[:, 0].zero_()
        self._cannon_hit(self.alien_bullets, terminated)
        self._cannon_hit(self.aliens, terminated)
        self._march(terminated)
        self._alien_shot()
        # Hits: a cannon bullet in an alien's cell removes both.
        torch.logical_and(self.aliens, self.bullets, out=self._shifted)
        reward.add_(self._shifted.sum(dim=(1, 2)))
        self._shifted.logical_not_()
        self.aliens.logical_and_(self._shifted)
        self.bullets.logical_and_(self._shifted)
        self.shot_timer.sub_(1).clamp_(min=0)  # the original's ``-= timer > 0``
        self.move_timer.sub_(1)
        self.alien_shot_timer.sub_(1)
        # A cleared wave: the next one, one step faster while the ramp lasts.
        torch.logical_not(self.aliens.view(-1, 100).any(dim=1), out=flag)
        if self.ramping:
            ramp = flag & (self.move_interval > FASTEST_MOVE_INTERVAL)
            self.move_interval.sub_(ramp.long())
            self.ramp_index.add_(ramp)
        self.aliens.logical_or_(flag[:, None, None] & self._wave)

    def _cannon_hit(self, board: torch.Tensor, terminated: torch.Tensor) -> None:
        """The game ends where ``board`` has something in the cannon's cell."""
        torch.add(self.pos, 90, out=self._cell).add_(self._env_cells)
        terminated.logical_or_(board.view(-1)[self._cell])

    def _march(self, terminated) -> None:
        """Every ``move_timer`` steps the block moves one column, or one row down and turns at a wall."""
        move, turn, flag = self._move_now, self._turn, self._flag
        aliens = self.aliens
        torch.eq(self.move_timer, 0, out=move)
        torch.sum(aliens, dim=(1, 2), out=self._count)
        torch.where(move, torch.minimum(self._count, self.move_interval), self.move_timer, out=self.move_timer)
        torch.any(aliens[:, :, 0], dim=1, out=turn).logical_and_(self.alien_dir < 0)
        torch.any(aliens[:, :, 9], dim=1, out=flag).logical_and_(self.alien_dir > 0)
        turn.logical_or_(flag).logical_and_(move)
        torch.any(aliens[:, 9], dim=1, out=flag)
        terminated.logical_or_(flag.logical_and_(turn))
        self.alien_dir.mul_(1 - 2 * turn.long())
        sideways = move & ~turn
        self._shifted.copy_(aliens)
        down = torch.roll(self._shifted, 1, dims=1)  # np.roll wraps the bottom row to the top
        left = torch.roll(self._shifted, -1, dims=2)
        right = torch.roll(self._shifted, 1, dims=2)
        torch.where((self.alien_dir < 0)[:, None, None], left, right, out=left)
        torch.where(sideways[:, None, None], left, aliens, out=aliens)
        torch.where(turn[:, None, None], down, aliens, out=aliens)
        self._cannon_hit(aliens, terminated)

    def _alien_shot(self) -> None:
        """Every ``ALIEN_SHOT_INTERVAL`` steps the lowest alien of the column nearest the cannon fires."""
        shoot = self._fire
        torch.eq(self.alien_shot_timer, 0, out=shoot)
        self.alien_shot_timer.masked_fill_(shoot, ALIEN_SHOT_INTERVAL)
        torch.any(self.aliens, dim=1, out=self._columns)
        # Distance to the cannon first, then the lower column; columns without an alien last.
        torch.sub(self._column_order, self.pos[:, None], out=self._key).abs_().mul_(16).add_(self._column_order)
        self._key.masked_fill_(self._columns.logical_not_(), 1 << 20)
        torch.argmin(self._key, dim=1, out=self._column)
        lowest = self.aliens.gather(2, self._column[:, None, None].expand(-1, 10, 1))[:, :, 0]
        torch.argmax(lowest.flip(1).long(), dim=1, out=self._row)
        torch.sub(9, self._row, out=self._row)
        torch.mul(self._row, 10, out=self._cell).add_(self._column).add_(self._env_cells)
        flat = self.alien_bullets.view(-1)
        flat.index_put_((self._cell,), flat[self._cell] | shoot)

    def _start(self, mask) -> None:
        self.pos.masked_fill_(mask, 5)
        board = mask[:, None, None]
        self.bullets.masked_fill_(board, False)
        self.alien_bullets.masked_fill_(board, False)
        torch.where(board, self._wave, self.aliens, out=self.aliens)
        self.alien_dir.masked_fill_(mask, -1)
        self.move_interval.masked_fill_(mask, ALIEN_MOVE_INTERVAL)
        self.move_timer.masked_fill_(mask, ALIEN_MOVE_INTERVAL)
        self.alien_shot_timer.masked_fill_(mask, ALIEN_SHOT_INTERVAL)
        self.ramp_index.masked_fill_(mask, 0)
        self.shot_timer.masked_fill_(mask, 0)

    def _render(self, obs) -> None:
        boards = obs.view(self.num_envs, 6, 10, 10)
        boards[:, 0].zero_()
        boards[:, 1].copy_(self.aliens)
        torch.logical_and(self.aliens, (self.alien_dir < 0)[:, None, None], out=boards[:, 2])
        torch.logical_and(self.aliens, (self.alien_dir > 0)[:, None, None], out=boards[:, 3])
        boards[:, 4].copy_(self.bullets)
        boards[:, 5].copy_(self.alien_bullets)
        self.cells(0, self._bottom_row, self.pos, self._points)
        obs.view(-1).index_fill_(0, self._points, True)
