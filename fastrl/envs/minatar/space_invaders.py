"""MinAtar Space Invaders, batched: ``minatar/environments/space_invaders.py`` for [num_envs] games at once.

A cannon on the bottom row shoots up (one shot per 5 steps) at a 4 x 6 block of aliens that marches sideways,
steps down and turns at the walls, and fires at the cannon from the alien nearest to it (every 10 steps). +1
per alien shot; a cleared wave is replaced, faster with the difficulty ramp. The game ends when an alien or
an alien's bullet reaches the cannon, or the block turns while it fills the bottom row. Channels: cannon,
alien, alien moving left, alien moving right, cannon bullet, alien bullet. No random draws beyond the sticky
action.

The aliens and both kinds of bullets are maps, as in the original (which rolls numpy maps), kept as ten
10-bit rows per env ([10, num_envs] int16, bit i is column i): a sideways march is a shift, a step down a
roll of the rows, and counting, hit tests and the alien nearest the cannon are table lookups; the batch is the
inner dimension, so every op runs over long contiguous rows.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import FIRE, LEFT, RIGHT, MinAtarGame, blend_, lookup, row_bits_table

SHOT_COOL_DOWN = 5
ALIEN_MOVE_INTERVAL = 12
FASTEST_MOVE_INTERVAL = 6  # the ramp stops here
ALIEN_SHOT_INTERVAL = 10
WAVE_ROW = 0b0011111100  # columns 2 to 7 of rows 0 to 3
WAVE_SIZE = 24


class SpaceInvaders(MinAtarGame):
    """The state of ``num_envs`` Space Invaders games and their batched step."""

    id = "MinAtar/SpaceInvaders-v1"
    game = "space_invaders"
    channels = ("cannon", "alien", "alien_left", "alien_right", "friendly_bullet", "enemy_bullet")
    minimal_actions = (0, LEFT, RIGHT, FIRE)

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        rows = dict(dtype=torch.int16, device=device)  # 10-bit rows: int16 keeps the ops small
        flag = dict(dtype=torch.bool, device=device)
        self.pos = torch.zeros(num_envs, **rows)
        self.alien_dir, self.move_interval, self.alien_count = (torch.zeros(num_envs, **long) for _ in range(3))
        self.move_timer, self.alien_shot_timer, self.shot_timer, self.ramp_index = (
            torch.zeros(num_envs, **long) for _ in range(4))
        self.aliens, self.bullets, self.alien_bullets = (torch.zeros(10, num_envs, **rows) for _ in range(3))
        self._wave = torch.tensor([WAVE_ROW] * 4 + [0] * 6, **rows)[:, None]
        self._move = lookup([0, -1, 0, 1, 0, 0], device).to(torch.int16)
        self._row_bits = row_bits_table(device)
        self._ones = row_bits_table(device).sum(dim=1)  # aliens in a row, by its mask
        self._nearest = nearest_column_table(device).to(torch.int16)
        self._row_numbers = torch.arange(1, 11, **rows)[:, None]
        self._shifted, self._moved, self._scratch = (torch.zeros(10, num_envs, **rows) for _ in range(3))
        self._counts = torch.zeros(10 * num_envs, **long)
        self._masks = torch.zeros(10 * num_envs, dtype=torch.int32, device=device)
        self._occupied, self._bit, self._column, self._row, self._step = (
            torch.zeros(num_envs, **rows) for _ in range(5))
        self._cell, self._index = torch.zeros(num_envs, **long), torch.zeros(num_envs, **long)
        self._fire, self._move_now, self._turn, self._flag = (torch.zeros(num_envs, **flag) for _ in range(4))
        self._env_index = torch.arange(num_envs, **long)
        self._points = torch.zeros(num_envs, **long)
        self._bottom_row = torch.full((num_envs,), 9, **long)
        self._cells = torch.zeros(10 * num_envs, 10, **flag)
        self._by_env = torch.zeros(num_envs, 10, dtype=torch.int32, device=device)

    def _advance(self, action, reward, terminated) -> None:
        pos, fire = self.pos, self._fire
        # The cannon fires (into the bottom row, empty at this point) or moves.
        torch.eq(action, FIRE, out=fire).logical_and_(self.shot_timer == 0)
        self.set_where(self.shot_timer, fire, SHOT_COOL_DOWN)
        pos.add_(torch.index_select(self._move, 0, action, out=self._step)).clamp_(0, 9)
        self.bullets[9].bitwise_or_(torch.bitwise_left_shift(fire.to(torch.int16), pos, out=self._bit))
        # Bullets fly one row: the cannon's up, the aliens' down.
        self._shifted.copy_(self.bullets)
        self.bullets[:9].copy_(self._shifted[1:])
        self.bullets[9].zero_()
        self._shifted.copy_(self.alien_bullets)
        self.alien_bullets[1:].copy_(self._shifted[:9])
        self.alien_bullets[0].zero_()
        self._cannon_hit(self.alien_bullets, terminated)
        self._cannon_hit(self.aliens, terminated)
        self._march(terminated)
        self._alien_shot()
        # Hits: a cannon bullet in an alien's cell removes both.
        torch.bitwise_and(self.aliens, self.bullets, out=self._scratch)
        kills = self._count(self._scratch)
        reward.add_(kills)
        self.alien_count.sub_(kills)
        self.aliens.bitwise_xor_(self._scratch)
        self.bullets.bitwise_xor_(self._scratch)
        self.shot_timer.sub_(1).clamp_(min=0)  # the original's ``-= timer > 0``
        self.move_timer.sub_(1)
        self.alien_shot_timer.sub_(1)
        # A cleared wave: the next one, one step faster while the ramp lasts.
        cleared = torch.eq(self.alien_count, 0, out=self._flag)
        if self.ramping:
            ramp = cleared & (self.move_interval > FASTEST_MOVE_INTERVAL)
            self.move_interval.sub_(ramp.long())
            self.ramp_index.add_(ramp.long())
        blend_(self.aliens, cleared, self._wave)
        self.set_where(self.alien_count, cleared, WAVE_SIZE)

    def _count(self, rows: torch.Tensor) -> torch.Tensor:
        """Set cells per env of [10, num_envs] rows."""
        torch.index_select(self._ones, 0, self._masks.copy_(rows.view(-1)), out=self._counts)
        return self._counts.view(10, -1).sum(dim=0)

    def _cannon_hit(self, rows: torch.Tensor, terminated: torch.Tensor) -> None:
        """The game ends where ``rows`` has something in the cannon's cell."""
        torch.bitwise_right_shift(rows[9], self.pos, out=self._bit).bitwise_and_(1)
        terminated.logical_or_(self._bit)

    def _columns_used(self) -> torch.Tensor:
        """The union of the alien rows: the columns that hold an alien."""
        occupied = self._occupied.copy_(self.aliens[0])
        for row in self.aliens[1:]:
            occupied.bitwise_or_(row)
        return occupied

    def _march(self, terminated) -> None:
        """Every ``move_timer`` steps the block moves one column, or one row down and turns at a wall."""
        move, turn, flag, aliens = self._move_now, self._turn, self._flag, self.aliens
        torch.eq(self.move_timer, 0, out=move)
        torch.where(move, torch.minimum(self.alien_count, self.move_interval), self.move_timer, out=self.move_timer)
        occupied = self._columns_used()
        left = self.alien_dir < 0
        torch.bitwise_and(occupied, 1, out=self._bit)
        torch.logical_and(self._bit, left, out=turn)
        torch.bitwise_and(occupied, 1 << 9, out=self._bit)
        turn.logical_or_((self._bit != 0) & ~left).logical_and_(move)
        torch.ne(aliens[9], 0, out=flag)
        terminated.logical_or_(flag.logical_and_(turn))
        torch.where(turn, self.alien_dir.neg(), self.alien_dir, out=self.alien_dir)
        sideways = move & ~turn
        self._shifted[1:].copy_(aliens[:9])  # np.roll wraps the bottom row to the top
        self._shifted[0].copy_(aliens[9])
        torch.bitwise_right_shift(aliens, 1, out=self._scratch)
        torch.bitwise_left_shift(aliens, 1, out=self._moved)
        blend_(self._moved, left, self._scratch)  # the walls never let it wrap
        blend_(aliens, sideways, self._moved)
        blend_(aliens, turn, self._shifted)
        self._cannon_hit(aliens, terminated)

    def _alien_shot(self) -> None:
        """Every ``ALIEN_SHOT_INTERVAL`` steps the lowest alien of the column nearest the cannon fires."""
        shoot = self._fire
        torch.eq(self.alien_shot_timer, 0, out=shoot)
        self.set_where(self.alien_shot_timer, shoot, ALIEN_SHOT_INTERVAL)
        torch.mul(self.pos, 1024, out=self._index).add_(self._columns_used())
        torch.index_select(self._nearest, 0, self._index, out=self._column)
        torch.bitwise_right_shift(self.aliens, self._column, out=self._scratch).bitwise_and_(1)
        torch.amax(self._scratch.mul_(self._row_numbers), dim=0, out=self._row)  # 1 + the lowest row
        torch.sub(self._row, 1, out=self._cell).clamp_(min=0).mul_(self.num_envs).add_(self._env_index)
        torch.bitwise_left_shift(shoot.to(torch.int16), self._column, out=self._bit)
        flat = self.alien_bullets.view(-1)
        flat.index_put_((self._cell,), flat.index_select(0, self._cell).bitwise_or_(self._bit))

    def _start(self, mask) -> None:
        self.set_where(self.pos, mask, 5)
        for rows in (self.bullets, self.alien_bullets):
            blend_(rows, mask, 0)
        blend_(self.aliens, mask, self._wave)
        for value, start in ((self.alien_count, WAVE_SIZE), (self.alien_dir, -1),
                             (self.move_interval, ALIEN_MOVE_INTERVAL), (self.move_timer, ALIEN_MOVE_INTERVAL),
                             (self.alien_shot_timer, ALIEN_SHOT_INTERVAL), (self.ramp_index, 0),
                             (self.shot_timer, 0)):
            self.set_where(value, mask, start)

    def _render(self, obs) -> None:
        boards = obs.view(self.num_envs, 6, 10, 10)
        boards[:, 0].zero_()
        left = self.alien_dir < 0
        for channel, rows in ((1, self.aliens), (2, torch.where(left, self.aliens, 0)),
                              (3, torch.where(left, 0, self.aliens)), (4, self.bullets), (5, self.alien_bullets)):
            self._by_env.copy_(rows.T)  # env-major, so each board's cells come out in one block
            torch.index_select(self._row_bits, 0, self._by_env.view(-1), out=self._cells)
            boards[:, channel].copy_(self._cells.view(self.num_envs, 10, 10))
        self.cells(0, self._bottom_row, self.pos, self._points)
        obs.view(-1).index_fill_(0, self._points, True)


def nearest_column_table(device: torch.device) -> torch.Tensor:
    """[10 * 1024] int64: for cannon column p and occupied-columns mask m, at p * 1024 + m, the occupied column
    nearest p, the lower one on a tie (the original's stable sort by distance)."""
    columns = torch.arange(10, device=device)
    occupied = row_bits_table(device)  # [mask, column]
    key = (columns[None, :] - columns[:, None]).abs() * 16 + columns[None, :]  # [cannon, column]
    key = torch.where(occupied[None, :, :], key[:, None, :], 1 << 20)  # [cannon, mask, column]
    return key.argmin(dim=2).reshape(-1)
