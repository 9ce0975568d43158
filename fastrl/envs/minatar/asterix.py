"""MinAtar Asterix, batched: ``minatar/environments/asterix.py`` for [num_envs] games at once.

The player moves in four directions over rows 1 to 8. Enemies and gold enter from either side, one per row
at most (rows 1 to 8 are eight slots), and cross the board; touching gold gives +1 and removes it, touching
an enemy ends the game. A spawn draws its side, whether it is gold, and a free row among the free ones.
With the difficulty ramp, every 100 steps things spawn more often and (every other time) move faster.
Channels: player, enemy, trail (the cell behind each enemy or gold), gold.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import DOWN, LEFT, RIGHT, UP, MinAtarGame, lookup

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
        flag = dict(dtype=torch.bool, device=device)
        self.player_x, self.player_y = torch.zeros(num_envs, **long), torch.zeros(num_envs, **long)
        self.x = torch.zeros(num_envs, SLOTS, **long)
        self.rightward, self.gold, self.alive = (torch.zeros(num_envs, SLOTS, **flag) for _ in range(3))
        self.spawn_timer, self.spawn_speed, self.move_timer, self.move_speed, self.ramp_timer, self.ramp_index = (
            torch.zeros(num_envs, **long) for _ in range(6))
        self._move_x = lookup([0, -1, 0, 1, 0, 0], device)
        self._move_y = lookup([0, 0, -1, 0, 1, 0], device)
        self._rows = torch.arange(1, SLOTS + 1, **long).expand(num_envs, SLOTS)
        self._rank, self._step = torch.zeros(num_envs, SLOTS, **long), torch.zeros(num_envs, SLOTS, **long)
        self._new, self._touch, self._taken = (torch.zeros(num_envs, SLOTS, **flag) for _ in range(3))
        self._free, self._pick = torch.zeros(num_envs, **long), torch.zeros(num_envs, **long)
        self._spawn, self._side, self._is_gold, self._flag = (torch.zeros(num_envs, **flag) for _ in range(4))
        self._points = torch.zeros(num_envs, 1 + 2 * SLOTS, **long)

    def _advance(self, action, reward, terminated) -> None:
        self._spawn_entity()
        self.player_x.add_(self._move_x[action]).clamp_(0, 9)
        self.player_y.add_(self._move_y[action]).clamp_(1, 8)
        self._touch_player(reward, terminated)
        torch.eq(self.move_timer, 0, out=self._flag)
        torch.where(self._flag, self.move_speed, self.move_timer, out=self.move_timer)
        torch.mul(self.rightward, 2, out=self._step).sub_(1).mul_(self._flag[:, None]).mul_(self.alive)
        self.x.add_(self._step)
        self.alive.logical_and_(self.x >= 0).logical_and_(self.x <= 9)
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
        torch.sum(new, dim=1, out=free)
        spawn.logical_and_(free > 0)
        self.draws.integers("spawn_slot", free, out=pick)
        torch.cumsum(new, dim=1, out=self._rank)  # 1 + the rank of each free slot among the free ones
        new.logical_and_(self._rank == (pick + 1)[:, None]).logical_and_(spawn[:, None])
        torch.where(new, torch.where(self._side, 0, 9)[:, None], self.x, out=self.x)
        torch.where(new, self._side[:, None], self.rightward, out=self.rightward)
        torch.where(new, self._is_gold[:, None], self.gold, out=self.gold)
        self.alive.logical_or_(new)

    def _touch_player(self, reward, terminated) -> None:
        """Gold in the player's cell is taken (+1); an enemy there ends the game."""
        touch, taken = self._touch, self._taken
        torch.eq(self.x, self.player_x[:, None], out=touch).logical_and_(self.alive)
        touch.logical_and_(self._rows == self.player_y[:, None])
        torch.logical_and(touch, self.gold, out=taken)
        reward.add_(taken.sum(dim=1))
        self.alive.logical_and_(taken.logical_not_())
        terminated.logical_or_(touch.logical_and_(taken).any(dim=1))  # ``taken`` is "not gold here" now

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
        self.player_x.masked_fill_(mask, 5)
        self.player_y.masked_fill_(mask, 5)
        self.alive.masked_fill_(mask[:, None], False)
        for timer, start in ((self.spawn_speed, SPAWN_SPEED), (self.spawn_timer, SPAWN_SPEED),
                             (self.move_speed, MOVE_INTERVAL), (self.move_timer, MOVE_INTERVAL),
                             (self.ramp_timer, RAMP_INTERVAL), (self.ramp_index, 0)):
            timer.masked_fill_(mask, start)

    def _render(self, obs) -> None:
        obs.zero_()
        player, things, trails = self._points[:, 0], self._points[:, 1:1 + SLOTS], self._points[:, 1 + SLOTS:]
        self.cells(0, self.player_y, self.player_x, player)
        # Enemies in channel 1, gold in channel 3; empty slots and trails off the board go to the player's
        # cell, which is lit anyway.
        self.cells(1, self._rows, self.x, things).add_(self.gold * 200)
        torch.where(self.alive, things, player[:, None], out=things)
        torch.mul(self.rightward, 2, out=self._step).sub_(1)
        behind = torch.sub(self.x, self._step)
        self.cells(2, self._rows, behind, trails)
        torch.where(self.alive & (behind >= 0) & (behind <= 9), trails, player[:, None], out=trails)
        obs.view(-1).index_fill_(0, self._points.view(-1), True)
