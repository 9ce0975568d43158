"""MinAtar Asterix, batched: ``minatar/environments/asterix.py`` for [num_envs] games at once.

The player moves in four directions over rows 1 to 8. Enemies and gold enter from either side, one per row
at most (rows 1 to 8 are eight slots), and cross the board; touching gold gives +1 and removes it, touching
an enemy ends the game. A spawn draws its side, whether it is gold, and a free row among the free ones.
With the difficulty ramp, every 100 steps things spawn more often and (every other time) move faster.
Channels: player, enemy, trail (the cell behind each enemy or gold), gold.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    MinAtarGame,
    blend_,
    board_cells,
    lookup,
    slot_tensor,
)

RAMP_INTERVAL = 100
SPAWN_SPEED = 10
MOVE_INTERVAL = 5
SLOTS = 8  # slot i is row i + 1


class Asterix(MinAtarGame):
    """The state of ``num_envs`` Asterix games and their batched step."""

    id = "MinAtar/Asterix-v1"
    game = "asterix"
    channels = ("player", "enemy", "trail", "gold")
    minimal_actions = (0, LEFT, UP, RIGHT, DOWN)
    draw_layout = (("spawn_left", 1), ("spawn_gold", 1), ("spawn_slot", 1))

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        tiny = dict(dtype=torch.int8, device=device)
        flag = dict(dtype=torch.bool, device=device)
        # Slots are [SLOTS, N] with the batch innermost; positions int8 (see seaquest.SMALL for why).
        self.player_x, self.player_y = torch.zeros(num_envs, **tiny), torch.zeros(num_envs, **tiny)
        env_major = self.kernel == "numba"  # the numba kernel steps one env at a time (see numba.py)
        self.x = slot_tensor(SLOTS, num_envs, torch.int8, device, env_major)
        self.rightward, self.gold, self.alive = (slot_tensor(SLOTS, num_envs, torch.bool, device, env_major)
                                                 for _ in range(3))
        self.spawn_timer, self.spawn_speed, self.move_timer, self.move_speed, self.ramp_timer, self.ramp_index = (
            torch.zeros(num_envs, **long) for _ in range(6))
        self._move_x = lookup([0, -1, 0, 1, 0, 0], device).to(torch.int8)
        self._move_y = lookup([0, 0, -1, 0, 1, 0], device).to(torch.int8)
        self._rows = torch.arange(1, SLOTS + 1, **tiny)[:, None]
        self._rank, self._step = torch.zeros(SLOTS, num_envs, **tiny), torch.zeros(SLOTS, num_envs, **tiny)
        self._new, self._touch, self._taken = (torch.zeros(SLOTS, num_envs, **flag) for _ in range(3))
        self._free, self._pick = torch.zeros(num_envs, **long), torch.zeros(num_envs, **long)
        self._spawn, self._side, self._is_gold, self._flag = (torch.zeros(num_envs, **flag) for _ in range(4))
        self._move, self._entry = torch.zeros(num_envs, **tiny), torch.zeros(num_envs, **tiny)
        self._edges = torch.tensor(0, **tiny), torch.tensor(9, **tiny)
        self._last_column = torch.full((num_envs,), 9, dtype=torch.uint8, device=device)
        self._points = torch.zeros(1 + 2 * SLOTS, num_envs, **long)
        self._local = torch.zeros(1 + 2 * SLOTS, num_envs, dtype=torch.int16, device=device)

    def _advance(self, action, reward, terminated) -> None:
        self._spawn_entity()
        self.player_x.add_(torch.index_select(self._move_x, 0, action, out=self._move)).clamp_(0, 9)
        self.player_y.add_(torch.index_select(self._move_y, 0, action, out=self._move)).clamp_(1, 8)
        self._touch_player(reward, terminated)
        torch.eq(self.move_timer, 0, out=self._flag)
        torch.where(self._flag, self.move_speed, self.move_timer, out=self.move_timer)
        torch.mul(self.rightward.view(torch.int8), 2, out=self._step).sub_(1)
        self._step.mul_(self.alive.view(torch.int8)).mul_(self._flag.view(torch.int8))
        self.x.add_(self._step)
        self.alive.logical_and_(torch.le(self.x.view(torch.uint8), self._last_column))  # -1 reads as 255
        self._touch_player(reward, terminated)
        self.spawn_timer.sub_(1)
        self.move_timer.sub_(1)
        if self.ramping:
            self._ramp()

    def _spawn_entity(self) -> None:
        """Where the spawn timer ran out: an enemy or gold enters a random free row from a random side."""
        spawn, free, pick, new = self._spawn, self._free, self._pick, self._new
        torch.eq(self.spawn_timer, 0, out=spawn)
        torch.where(spawn, self.spawn_speed, self.spawn_timer, out=self.spawn_timer)
        self.draws.below("spawn_left", 1 / 2, out=self._side)  # True: enters at x = 0, moving right
        self.draws.below("spawn_gold", 1 / 3, out=self._is_gold)
        torch.logical_not(self.alive, out=new)
        torch.sum(new, dim=0, out=free)
        spawn.logical_and_(free > 0)
        self.draws.integers("spawn_slot", free, out=pick)
        torch.cumsum(new, dim=0, dtype=torch.int8, out=self._rank)  # 1 + each free slot's rank among the free
        new.logical_and_(self._rank == (pick + 1).to(torch.int8)).logical_and_(spawn)
        torch.where(self._side, *self._edges, out=self._entry)
        blend_(self.x, new, self._entry)
        self.rightward.logical_and_(~new).logical_or_(new & self._side)
        self.gold.logical_and_(~new).logical_or_(new & self._is_gold)
        self.alive.logical_or_(new)

    def _touch_player(self, reward, terminated) -> None:
        """Gold in the player's cell is taken (+1); an enemy there ends the game."""
        touch, taken = self._touch, self._taken
        torch.eq(self.x, self.player_x, out=touch).logical_and_(self.alive)
        touch.logical_and_(self._rows == self.player_y)
        torch.logical_and(touch, self.gold, out=taken)
        reward.add_(taken.sum(dim=0))
        self.alive.logical_and_(taken.logical_not_())
        terminated.logical_or_(touch.logical_and_(taken).view(torch.uint8).amax(dim=0).bool())  # "not gold" now

    def _ramp(self) -> None:
        """While a speed can still rise: count ``RAMP_INTERVAL`` + 1 steps down, then spawn one step sooner and
        (every other time) move one step sooner."""
        active, due = self._spawn, self._flag
        torch.gt(self.spawn_speed, 1, out=active).logical_or_(self.move_speed > 1)
        torch.lt(self.ramp_timer, 0, out=due).logical_and_(active)
        self.ramp_timer.sub_(active.logical_xor_(due).long())  # active and not yet due: one tick
        faster = due & (self.move_speed > 1) & (self.ramp_index.remainder(2) == 1)
        self.move_speed.sub_(faster.long())
        self.spawn_speed.sub_((due & (self.spawn_speed > 1)).long())
        self.ramp_index.add_(due.long())
        self.ramp_timer.masked_fill_(due, RAMP_INTERVAL)

    def _start(self, mask) -> None:
        self.set_where(self.player_x, mask, 5)
        self.set_where(self.player_y, mask, 5)
        self.alive.logical_and_(~mask)
        for timer, start in ((self.spawn_speed, SPAWN_SPEED), (self.spawn_timer, SPAWN_SPEED),
                             (self.move_speed, MOVE_INTERVAL), (self.move_timer, MOVE_INTERVAL),
                             (self.ramp_timer, RAMP_INTERVAL), (self.ramp_index, 0)):
            self.set_where(timer, mask, start)

    def _render(self, obs) -> None:
        obs.zero_()
        local = self._local
        player, things, trails = local[0], local[1:1 + SLOTS], local[1 + SLOTS:]
        board_cells(0, self.player_y, self.player_x, player)
        # Enemies in channel 1, gold in channel 3; empty slots and trails off the board go to the player's
        # cell, which is lit anyway.
        board_cells(1, self._rows, self.x, things).add_(self.gold.to(torch.int16).mul_(200))
        blend_(things, ~self.alive, player)
        torch.mul(self.rightward.view(torch.int8), 2, out=self._step).sub_(1)
        behind = torch.sub(self.x, self._step)
        board_cells(2, self._rows, behind, trails)
        on_board = torch.le(behind.view(torch.uint8), self._last_column)
        blend_(trails, ~(self.alive & on_board), player)
        self.light(obs, local, self._points)
