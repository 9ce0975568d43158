"""MinAtar Freeway, batched: ``minatar/environments/freeway.py`` for [num_envs] games at once.

A chicken in column 4 crosses eight lanes of traffic from the bottom row to the top (+1, then back to the
bottom and every car gets a new random speed and direction); it may move once per 3 steps, and a car that
meets it sends it back to the bottom. Each lane has one car that moves every 1 to 5 steps and wraps around.
The game ends after 2500 steps (a termination, as in the original). Channels: chicken, car, and five trail
channels, one per speed, lit in the cell behind each car. No difficulty ramp.

New speeds take one draw per car (``draws.py``): its top bit is the direction (the original's
``sign(rand() - 0.5)``), its other 23 bits, doubled, the speed's draw (``randint(1, 6)``).
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.draws import SPAN
from fastrl.envs.minatar.game import DOWN, UP, MinAtarGame, blend_, board_cells, slot_tensor

PLAYER_SPEED = 3  # steps between the chicken's moves
TIME_LIMIT = 2500
LANES = 8  # car i drives in row i + 1
CHICKEN_COLUMN = 4
HALF = SPAN // 2  # a car's draw at or above it: heading right; below it, the speed draw


class Freeway(MinAtarGame):
    """The state of ``num_envs`` Freeway games and their batched step."""

    id = "MinAtar/Freeway-v1"
    game = "freeway"
    channels = ("chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5")
    minimal_actions = (0, UP, DOWN)
    draw_layout = (("car", LANES),)  # one draw per car: its top bit is the direction, the rest the speed

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        tiny = dict(dtype=torch.int8, device=device)
        flag = dict(dtype=torch.bool, device=device)
        # Cars are [LANES, N], the batch innermost, int8 (see seaquest.SMALL for why).
        env_major = self.kernel == "numba"  # the numba kernel steps one env at a time (see numba.py)
        self.car_x, self.car_timer, self.car_speed = (slot_tensor(LANES, num_envs, torch.int8, device, env_major)
                                                      for _ in range(3))
        self.pos = torch.zeros(num_envs, **tiny)
        self.move_timer, self.terminate_timer = torch.zeros(num_envs, **long), torch.zeros(num_envs, **long)
        self._speeds, self._velocity, self._step = (torch.zeros(LANES, num_envs, **tiny) for _ in range(3))
        self._moving, self._right, self._lane, self._off = (torch.zeros(LANES, num_envs, **flag) for _ in range(4))
        self._up, self._down, self._win, self._hit, self._flag = (torch.zeros(num_envs, **flag) for _ in range(5))
        self._rows = torch.arange(1, LANES + 1, **tiny)[:, None]
        self._chicken_column = torch.full((num_envs,), CHICKEN_COLUMN, **tiny)
        self._zero, self._nine = torch.zeros(num_envs, **tiny), torch.full((num_envs,), 9, **tiny)
        self._points = torch.zeros(1 + 2 * LANES, num_envs, **long)
        self._local = torch.zeros(1 + 2 * LANES, num_envs, dtype=torch.int16, device=device)
        self._draw = torch.zeros(LANES, num_envs, dtype=torch.int32, device=device)

    def _advance(self, action, reward, terminated) -> None:
        pos, up, down, win, hit, flag = self.pos, self._up, self._down, self._win, self._hit, self._flag
        torch.eq(self.move_timer, 0, out=flag)
        torch.eq(action, UP, out=up).logical_and_(flag)
        torch.eq(action, DOWN, out=down).logical_and_(flag)
        self.set_where(self.move_timer, up | down, PLAYER_SPEED)
        pos.sub_(up.view(torch.int8)).add_(down.view(torch.int8)).clamp_(0, 9)
        # The far side: +1, new speeds for every car, back to the bottom.
        torch.eq(pos, 0, out=win)
        reward.add_(win)
        self._new_speeds(win)
        self.set_where(pos, win, 9)
        # Cars: the chicken's lane's car hits it if it is in column 4 before or after its move.
        lane = torch.eq(self._rows, pos, out=self._lane)  # no lane matches rows 0 and 9
        torch.eq(self.car_x, CHICKEN_COLUMN, out=self._right).logical_and_(lane)
        hit.copy_(self._right.view(torch.uint8).amax(dim=0))
        torch.eq(self.car_timer, self._zero, out=self._moving)
        self.car_timer.sub_(1)
        torch.abs(self.car_speed, out=self._speeds)
        blend_(self.car_timer, self._moving, self._speeds)
        torch.sign(self.car_speed, out=self._step).mul_(self._moving.view(torch.int8))
        self._wrap(self.car_x.add_(self._step))
        torch.eq(self.car_x, CHICKEN_COLUMN, out=self._right).logical_and_(lane).logical_and_(self._moving)
        hit.logical_or_(self._right.view(torch.uint8).amax(dim=0))
        self.set_where(pos, hit, 9)
        self.move_timer.sub_(1).clamp_(min=0)  # the original's ``-= timer > 0``
        self.terminate_timer.sub_(1)
        terminated.logical_or_(self.terminate_timer < 0)

    def _new_speeds(self, mask: torch.Tensor) -> None:
        """New speeds (1 to 5) and directions for every car where ``mask`` is set (``_randomize_cars``)."""
        speed_draw = torch.bitwise_and(self.draws["car"], HALF - 1, out=self._draw).mul_(2)  # 24 bits, even
        self._speeds.copy_(self.draws.integers(speed_draw, 5, out=speed_draw)).add_(1)
        torch.ge(self.draws["car"], HALF, out=self._right)  # sign(rand() - 0.5) > 0
        torch.mul(self._right.view(torch.int8), 2, out=self._velocity).sub_(1).mul_(self._speeds)
        blend_(self.car_speed, mask, self._velocity)
        blend_(self.car_timer, mask, self._speeds)

    def _wrap(self, x: torch.Tensor) -> torch.Tensor:
        """Columns -1 and 10 to 9 and 0, in place (int8 compares against [N] tensors: see seaquest.SMALL)."""
        x.sub_(torch.gt(x, self._nine, out=self._off).view(torch.int8).mul(10))
        return x.add_(torch.lt(x, self._zero, out=self._off).view(torch.int8).mul(10))

    def _start(self, mask) -> None:
        self._new_speeds(mask)
        blend_(self.car_x, mask, 0)
        self.set_where(self.pos, mask, 9)
        self.set_where(self.move_timer, mask, PLAYER_SPEED)
        self.set_where(self.terminate_timer, mask, TIME_LIMIT)

    def _render(self, obs) -> None:
        obs.zero_()
        local = self._local
        chicken, cars, trails = local[0], local[1:1 + LANES], local[1 + LANES:]
        board_cells(0, self.pos, self._chicken_column, chicken)
        board_cells(1, self._rows, self.car_x, cars)
        torch.sign(self.car_speed, out=self._step)
        behind = self._wrap(torch.sub(self.car_x, self._step))
        board_cells(1, self._rows, behind, trails).add_(self.car_speed.abs().to(torch.int16).mul_(100))  # 1 + |speed|
        self.light(obs, local, self._points)
