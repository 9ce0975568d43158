"""MinAtar Seaquest, batched: ``minatar/environments/seaquest.py`` for [num_envs] games at once.

The player's submarine (front and back cell) moves in four directions and fires torpedoes forward (one per 5
steps). Enemy fish and enemy subs cross rows 1 to 8 from either side; subs fire bullets along their row. +1
per enemy hit by a torpedo. Divers cross too; touching one picks it up (six at most). Oxygen runs down under
water; surfacing with a diver refills it and takes one diver (all six: +1 per tenth of oxygen left), and
each surfacing ramps the difficulty (enemies spawn sooner and move faster). The game ends when an enemy or
an enemy bullet meets the submarine, oxygen runs out, or the submarine surfaces with no diver. Channels:
sub front, sub back, torpedo, trail, enemy bullet, fish, enemy sub, oxygen gauge, diver gauge, diver.

**The original's lists as slot arrays.** The package keeps Python lists, appends at the end, removes from
anywhere, and several rules depend on list order (a torpedo hits the oldest fish in its cell; the newest
sub that moves onto a torpedo takes it; the newest divers are picked up first when the cap is reached).
Here each kind of thing lives in a ring of slots: the k-th spawned goes to slot ``k % capacity``, so a live
thing's age in spawns, ``(newest slot - its slot) % capacity``, gives the list order (capacities are powers of
two, so the ages are int8 arithmetic). The capacities cover the most
things alive at once that the rules allow: torpedoes live at most 9 steps and are fired 5 apart (2);
divers spawn 30 steps apart and live at most 60 (4); enemies spawn at most once per step and live at most
30 steps once the ramp spawns every step (32); each enemy has one bullet slot (it fires every 11 steps, a
bullet lives at most 9). A spawn into a slot that is still alive would break that argument; it sets
``capacity_exceeded`` for the env (the parity tests assert it never is).

One of the package's quirks is kept: surfacing with six divers sets the count to 0 and then takes one, so
the count goes negative (the gauge shows none, and surfacing no longer ends the game).
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.game import (
    DOWN,
    FIRE,
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
MAX_OXYGEN = 200
ENEMY_SPAWN_SPEED = 20
DIVER_SPAWN_SPEED = 30
ENEMY_MOVE_INTERVAL = 5
SHOT_COOL_DOWN = 5
ENEMY_SHOT_INTERVAL = 10
DIVER_MOVE_INTERVAL = 5
MAX_DIVERS = 6
TORPEDOES, DIVERS, ENEMIES = 2, 4, 32  # slot capacities (see the module)
FISH, SUB = 5, 6  # their channels
SMALL = torch.int8  # positions and timers: [slots, N] int8 tensors stay in the caches, and int8 compares are
# vectorised on the CPU where wider ones are not; comparisons are made against [N] tensors, not scalars, for the same reason


class Things:
    """A ring of ``capacity`` slots per env for one kind of thing: position, heading, timer, age, liveness.

    Fields are [capacity, num_envs]: the batch is the inner dimension, so each op runs over long rows.
    """

    def __init__(self, num_envs: int, capacity: int, device: torch.device, env_major: bool = False):
        count = dict(dtype=torch.int32, device=device)
        flag = dict(dtype=torch.bool, device=device)
        self.x, self.y, self.timer = (slot_tensor(capacity, num_envs, SMALL, device, env_major) for _ in range(3))
        self.age = torch.zeros(capacity, num_envs, dtype=SMALL, device=device)  # spawns since (``update_ages``)
        self.rightward, self.alive = (slot_tensor(capacity, num_envs, torch.bool, device, env_major)
                                      for _ in range(2))
        self.spawned = torch.zeros(num_envs, **count)  # things spawned so far (wraps after 2**31: still a ring)
        self.slots = torch.arange(capacity, **count)[:, None]
        self._slots = self.slots.to(SMALL)
        self._newest = torch.zeros(num_envs, **count)
        self.new = torch.zeros(capacity, num_envs, **flag)
        self._slot = torch.zeros(num_envs, **count)

    def spawn(self, where: torch.Tensor, x, y, rightward, timer, exceeded: torch.Tensor) -> torch.Tensor:
        """Put a new thing in the next slot where ``where`` is set; returns the [capacity, N] mask of new ones."""
        torch.remainder(self.spawned, self.slots.numel(), out=self._slot)
        torch.eq(self.slots, self._slot, out=self.new).logical_and_(where)
        exceeded.logical_or_(any_slot(self.new & self.alive))
        for field, value in ((self.x, x), (self.y, y), (self.timer, timer)):
            blend_(field, self.new, value)
        self.rightward.logical_and_(~self.new).logical_or_(self.new & rightward)
        self.alive.logical_or_(self.new)
        self.spawned.add_(where)
        return self.new

    def update_ages(self) -> None:
        """``age``: how many spawns ago each slot's thing spawned (0: the newest), after this step's spawns."""
        capacity = self.slots.numel()
        newest = torch.sub(self.spawned, 1, out=self._newest).bitwise_and_(capacity - 1).to(SMALL)
        torch.sub(newest, self._slots, out=self.age).bitwise_and_(capacity - 1)

    def step_x(self) -> torch.Tensor:
        """+1 for things heading right, -1 for those heading left."""
        return self.rightward.to(SMALL).mul_(2).sub_(1)

    def at(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Live things in cell (``x``, ``y``) of each env ([N] each): a [capacity, N] mask."""
        return (self.x == x) & (self.y == y) & self.alive


def any_slot(mask: torch.Tensor) -> torch.Tensor:
    """``mask.any(dim=0)`` for a [capacity, N] bool mask (through uint8 max, much faster on the CPU)."""
    return mask.view(torch.uint8).amax(dim=0).bool()


class Seaquest(MinAtarGame):
    """The state of ``num_envs`` Seaquest games and their batched step."""

    id = "MinAtar/Seaquest-v1"
    game = "seaquest"
    channels = ("sub_front", "sub_back", "friendly_bullet", "trail", "enemy_bullet", "enemy_fish", "enemy_sub",
                "oxygen_guage", "diver_guage", "diver")
    minimal_actions = (0, LEFT, UP, RIGHT, DOWN, FIRE)
    draw_layout = (("enemy_left", 1), ("enemy_sub", 1), ("enemy_row", 1), ("diver_left", 1), ("diver_row", 1))

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        small = dict(dtype=SMALL, device=device)
        flag = dict(dtype=torch.bool, device=device)
        (self.sub_x, self.sub_y, self.shot_timer, self.enemy_spawn_speed, self.enemy_spawn_timer,
         self.diver_spawn_timer, self.move_speed) = (torch.zeros(num_envs, **small) for _ in range(7))
        self.oxygen, self.ramp_index = (torch.zeros(num_envs, dtype=torch.int16, device=device) for _ in range(2))
        self.diver_count = torch.zeros(num_envs, dtype=torch.int32, device=device)  # goes below 0, without end
        self.sub_right, self.surface = torch.zeros(num_envs, **flag), torch.zeros(num_envs, **flag)
        self.capacity_exceeded = torch.zeros(num_envs, **flag)
        # The numba kernel steps one env at a time: it wants the rings' fields env-major (see numba.py).
        env_major = self.kernel == "numba"
        self.torpedoes = Things(num_envs, TORPEDOES, device, env_major)
        self.divers = Things(num_envs, DIVERS, device, env_major)
        self.enemies = Things(num_envs, ENEMIES, device, env_major)  # fish and subs; ``timer`` times their moves
        self.is_sub = slot_tensor(ENEMIES, num_envs, torch.bool, device, env_major)
        self.shot_timer_enemy = slot_tensor(ENEMIES, num_envs, SMALL, device, env_major)
        self.bullets = Things(num_envs, ENEMIES, device, env_major)  # enemy bullets: slot i is enemy slot i's
        # The rings' tensors are attributes of the game too, so NativeVecEnv.state_dict() finds them.
        for kind in ("torpedoes", "divers", "enemies", "bullets"):
            for field, tensor in vars(getattr(self, kind)).items():
                setattr(self, f"{kind}_{field}", tensor)
        self._move_x = lookup([0, -1, 0, 1, 0, 0], device).to(SMALL)
        self._move_y = lookup([0, 0, -1, 0, 1, 0], device).to(SMALL)
        self._columns = torch.arange(10, **long)
        self._no_timer = torch.tensor(0, **small)  # torpedoes have none
        self._diver_timer = torch.tensor(DIVER_MOVE_INTERVAL, **small)
        self._edges = torch.tensor(0, **small), torch.tensor(9, **small)
        self._zero = torch.zeros(num_envs, **small)
        self._last_column = torch.full((num_envs,), 9, dtype=torch.uint8, device=device)
        self._flag, self._side, self._kind = (torch.zeros(num_envs, **flag) for _ in range(3))
        self._draw = torch.zeros(num_envs, dtype=torch.int32, device=device)
        self._row, self._index, self._move = (torch.zeros(num_envs, **small) for _ in range(3))
        self._points = torch.zeros(2 + TORPEDOES + 3 * ENEMIES + 2 * DIVERS, num_envs, **long)
        self._local = torch.zeros(self._points.shape, dtype=torch.int16, device=device)

    # ---- one step, in the original's order ---------------------------------------------------------------

    def _advance(self, action, reward, terminated) -> None:
        self._spawn()
        self._act(action)
        for things in (self.torpedoes, self.divers, self.enemies):
            things.update_ages()
        self._torpedoes_fly(reward)
        self._divers_move()
        enemies = self.enemies
        # Every enemy: meeting the submarine before or after its move ends the game.
        terminated.logical_or_(any_slot(enemies.at(self.sub_x, self.sub_y)))
        subs = enemies.alive & self.is_sub
        moving = enemies.alive & self._is_zero(enemies.timer)
        enemies.timer.sub_(1)
        blend_(enemies.timer, moving, self.move_speed)
        enemies.x.add_(enemies.step_x().mul_(moving))
        enemies.alive.logical_and_(self._on_board(enemies.x) | ~moving)
        met = enemies.at(self.sub_x, self.sub_y) & moving
        terminated.logical_or_(any_slot(met))
        movers = moving & enemies.alive & ~met  # these check the torpedoes in their new cell
        self._movers_take_torpedoes(movers & self.is_sub, reward)
        self._subs_fire(subs)
        self._bullets_fly(terminated)
        self._movers_take_torpedoes(movers & ~self.is_sub & enemies.alive, reward)
        self._timers_and_surface(reward, terminated)

    def _on_board(self, x: torch.Tensor) -> torch.Tensor:
        """Columns 0 to 9 of [slots, N] int8 ``x`` (-1 reads as 255 unsigned)."""
        return torch.le(x.view(torch.uint8), self._last_column)

    def _is_zero(self, timer: torch.Tensor) -> torch.Tensor:
        return torch.eq(timer, self._zero)

    def _spawn(self) -> None:
        """Where their timers ran out: an enemy (unless its row has one heading the other way) and a diver."""
        due, side, kind, row = self._flag, self._side, self._kind, self._row
        torch.eq(self.enemy_spawn_timer, 0, out=due)
        torch.where(due, self.enemy_spawn_speed, self.enemy_spawn_timer, out=self.enemy_spawn_timer)
        self.draws.below("enemy_left", 1 / 2, out=side)  # True: enters at x = 0 heading right
        self.draws.below("enemy_sub", 1 / 3, out=kind)
        row.copy_(self.draws.integers("enemy_row", 8, out=self._draw)).add_(1)
        enemies = self.enemies
        clash = (enemies.y == row) & (enemies.rightward != side) & enemies.alive
        due.logical_and_(~any_slot(clash))
        torch.where(side, *self._edges, out=self._index)  # the left edge for those heading right
        new = enemies.spawn(due, self._index, row, side, self.move_speed, self.capacity_exceeded)
        self.is_sub.logical_and_(~new).logical_or_(new & kind)
        blend_(self.shot_timer_enemy, new, ENEMY_SHOT_INTERVAL)
        torch.eq(self.diver_spawn_timer, 0, out=due)
        self.set_where(self.diver_spawn_timer, due, DIVER_SPAWN_SPEED)
        self.draws.below("diver_left", 1 / 2, out=side)
        row.copy_(self.draws.integers("diver_row", 8, out=self._draw)).add_(1)
        torch.where(side, *self._edges, out=self._index)
        self.divers.spawn(due, self._index, row, side, self._diver_timer, self.capacity_exceeded)

    def _act(self, action) -> None:
        """Fire (when the torpedo is ready), or move; moving sideways turns the submarine."""
        fire = self._flag
        torch.eq(action, FIRE, out=fire).logical_and_(self.shot_timer == 0)
        self.torpedoes.spawn(fire, self.sub_x, self.sub_y, self.sub_right, self._no_timer, self.capacity_exceeded)
        self.set_where(self.shot_timer, fire, SHOT_COOL_DOWN)
        self.set_where(self.sub_right, action == LEFT, False)
        self.set_where(self.sub_right, action == RIGHT, True)
        self.sub_x.add_(torch.index_select(self._move_x, 0, action, out=self._move)).clamp_(0, 9)
        self.sub_y.add_(torch.index_select(self._move_y, 0, action, out=self._move)).clamp_(0, 8)

    def _ranked(self, newest_first: bool) -> list[torch.Tensor]:
        """The torpedo slots in list order (or reversed): one [capacity, N] one-hot mask per rank."""
        torpedoes = self.torpedoes
        capacity = torpedoes.slots.numel()
        order = range(1, capacity + 1) if newest_first else range(capacity, 0, -1)
        return [torpedoes.slots == torch.sub(torpedoes.spawned, k).remainder_(capacity) for k in order]

    def _torpedo(self, rank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Position and liveness ([N] each) of the torpedo in the one-hot slots ``rank``."""
        torpedoes = self.torpedoes
        return ((torpedoes.x * rank).sum(dim=0, dtype=SMALL), (torpedoes.y * rank).sum(dim=0, dtype=SMALL),
                any_slot(torpedoes.alive & rank))

    def _torpedoes_fly(self, reward) -> None:
        """Torpedoes move; the newest first, each hits the oldest fish in its cell, else the oldest sub."""
        torpedoes, enemies = self.torpedoes, self.enemies
        torpedoes.x.add_(torpedoes.step_x())
        torpedoes.alive.logical_and_(self._on_board(torpedoes.x))
        for rank in self._ranked(newest_first=True):
            x, y, live = self._torpedo(rank)
            here = enemies.at(x, y).logical_and_(live)
            fish = here & ~self.is_sub
            target = fish | (here & self.is_sub & ~any_slot(fish)[None])
            hit = self._remove_one(enemies, target, oldest=True)
            reward.add_(hit)
            torpedoes.alive.logical_and_(~(rank & hit))

    def _movers_take_torpedoes(self, movers: torch.Tensor, reward) -> None:
        """Each torpedo (oldest first) is taken by the newest of ``movers`` in its cell: both go, +1."""
        torpedoes, enemies = self.torpedoes, self.enemies
        for rank in self._ranked(newest_first=False):
            x, y, live = self._torpedo(rank)
            here = enemies.at(x, y).logical_and_(movers).logical_and_(live)
            hit = self._remove_one(enemies, here, oldest=False)
            movers = movers & enemies.alive
            reward.add_(hit)
            torpedoes.alive.logical_and_(~(rank & hit))

    def _remove_one(self, things: Things, candidates: torch.Tensor, oldest: bool) -> torch.Tensor:
        """Remove the oldest (or newest) of ``candidates`` per env; returns where one was removed."""
        capacity = things.slots.numel()
        key = (things.age + 1 if oldest else capacity - things.age).mul_(candidates.view(torch.int8))  # 0: none
        chosen = key == key.amax(dim=0)
        chosen.logical_and_(candidates)  # ages are unique among live things: one per env at most
        things.alive.logical_and_(~chosen)
        return any_slot(chosen)

    def _divers_move(self) -> None:
        """Divers in the submarine's cell before or after their move are picked up, newest first, up to six."""
        divers = self.divers
        before = divers.at(self.sub_x, self.sub_y)
        moving = divers.alive & self._is_zero(divers.timer)
        divers.timer.sub_(1)
        blend_(divers.timer, moving, DIVER_MOVE_INTERVAL)
        divers.x.add_(divers.step_x().mul_(moving))
        off = ~self._on_board(divers.x)
        after = divers.at(self.sub_x, self.sub_y) & moving & ~off
        reachable = before | after
        newer = (reachable[None] & (divers.age[None] < divers.age[:, None])).sum(dim=1)  # [slot, other, N]
        picked = reachable & (newer + self.diver_count < MAX_DIVERS)
        self.diver_count.add_(picked.sum(dim=0, dtype=torch.int32))
        divers.alive.logical_and_(~picked).logical_and_(~(off & moving))

    def _subs_fire(self, subs: torch.Tensor) -> None:
        """Subs alive when they moved fire along their row every ``ENEMY_SHOT_INTERVAL`` + 1 steps."""
        enemies, bullets = self.enemies, self.bullets
        fire = subs & self._is_zero(self.shot_timer_enemy)
        self.shot_timer_enemy.sub_(1)
        blend_(self.shot_timer_enemy, fire, ENEMY_SHOT_INTERVAL)
        self.capacity_exceeded.logical_or_(any_slot(fire & bullets.alive))
        blend_(bullets.x, fire, enemies.x)
        blend_(bullets.y, fire, enemies.y)
        bullets.rightward.logical_and_(~fire).logical_or_(fire & enemies.rightward)
        bullets.alive.logical_or_(fire & self._on_board(enemies.x))

    def _bullets_fly(self, terminated) -> None:
        """Enemy bullets move one cell; meeting the submarine before or after ends the game."""
        bullets = self.bullets
        terminated.logical_or_(any_slot(bullets.at(self.sub_x, self.sub_y)))
        bullets.x.add_(bullets.step_x().mul_(bullets.alive))
        bullets.alive.logical_and_(self._on_board(bullets.x))
        terminated.logical_or_(any_slot(bullets.at(self.sub_x, self.sub_y)))

    def _timers_and_surface(self, reward, terminated) -> None:
        for timer in (self.enemy_spawn_timer, self.diver_spawn_timer, self.shot_timer):
            timer.sub_(1).clamp_(min=0)  # the original's ``-= timer > 0``
        terminated.logical_or_(self.oxygen <= 0)
        below = self.sub_y > 0
        self.oxygen.sub_(below.to(torch.int16))
        arriving = ~below & ~self.surface
        self.surface.logical_and_(~below)
        terminated.logical_or_(arriving & (self.diver_count == 0))
        surfacing = arriving & (self.diver_count != 0)
        full = surfacing & (self.diver_count == MAX_DIVERS)
        reward.add_(torch.where(full, self.oxygen * 10 // MAX_OXYGEN, 0))
        self.set_where(self.diver_count, full, 0)
        self.diver_count.sub_(surfacing.to(torch.int32))
        self.set_where(self.oxygen, surfacing, MAX_OXYGEN)
        self.surface.logical_or_(surfacing)
        if self.ramping:
            ramp = surfacing & ((self.enemy_spawn_speed > 1) | (self.move_speed > 2))
            self.move_speed.sub_((ramp & (self.move_speed > 2) & (self.ramp_index.remainder(2) == 1)).to(SMALL))
            self.enemy_spawn_speed.sub_((ramp & (self.enemy_spawn_speed > 1)).to(SMALL))
            self.ramp_index.add_(ramp)

    # ---- new games and the board ---------------------------------------------------------------------------

    def _start(self, mask) -> None:
        for value, start in ((self.oxygen, MAX_OXYGEN), (self.diver_count, 0), (self.sub_x, 5), (self.sub_y, 0),
                             (self.sub_right, False), (self.enemy_spawn_speed, ENEMY_SPAWN_SPEED),
                             (self.enemy_spawn_timer, ENEMY_SPAWN_SPEED), (self.diver_spawn_timer, DIVER_SPAWN_SPEED),
                             (self.move_speed, ENEMY_MOVE_INTERVAL), (self.ramp_index, 0), (self.shot_timer, 0),
                             (self.surface, True)):
            self.set_where(value, mask, start)
        for things in (self.torpedoes, self.divers, self.enemies, self.bullets):
            things.alive.logical_and_(~mask)

    def _render(self, obs) -> None:
        obs.zero_()
        boards = obs.view(self.num_envs, 10, 10, 10)
        oxygen_cells = self.oxygen.clamp(min=0) * 10 // MAX_OXYGEN
        torch.lt(self._columns, oxygen_cells[:, None], out=boards[:, 7, 9])
        gauge = (self._columns >= (9 - self.diver_count)[:, None]) & (self._columns < 9)
        boards[:, 8, 9].copy_(gauge)
        local = self._local
        front, back = local[0], local[1]
        board_cells(0, self.sub_y, self.sub_x, front)
        board_cells(1, self.sub_y, self.sub_x - self.sub_right.to(SMALL).mul_(2).sub_(1), back)
        start = 2  # empty slots and trails off the board light the front cell again
        for things, channel, trail in ((self.torpedoes, 2, False), (self.bullets, 4, False),
                                       (self.enemies, FISH, True), (self.divers, 9, True)):
            capacity = things.slots.numel()
            cells = local[start:start + capacity]
            board_cells(channel, things.y, things.x, cells)
            if things is self.enemies:
                cells.add_(self.is_sub.view(torch.int8) * 100)  # subs are one channel after fish
            blend_(cells, ~things.alive, front)
            start += capacity
            if trail:
                behind = things.x - things.step_x()
                cells = local[start:start + capacity]
                board_cells(3, things.y, behind, cells)
                blend_(cells, ~(things.alive & self._on_board(behind)), front)
                start += capacity
        self.light(obs, local, self._points)
