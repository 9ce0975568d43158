"""MinAtar Freeway, batched: ``minatar/environments/freeway.py`` for [num_envs] games at once.

A chicken in column 4 crosses eight lanes of traffic from the bottom row to the top (+1, then back to the
bottom and every car gets a new random speed and direction); it may move once per 3 steps, and a car that
meets it sends it back to the bottom. Each lane has one car that moves every 1 to 5 steps and wraps around.
The game ends after 2500 steps (a termination, as in the original). Channels: chicken, car, and five trail
channels, one per speed, lit in the cell behind each car. No difficulty ramp.
"""

from __future__ import annotations

import torch

from fastrl.envs.minatar.draws import SPAN
from fastrl.envs.minatar.game import DOWN, UP, MinAtarGame

PLAYER_SPEED = 3  # steps between the chicken's moves
TIME_LIMIT = 2500
LANES = 8  # car i drives in row i + 1
CHICKEN_COLUMN = 4


class Freeway(MinAtarGame):
    """The state of ``num_envs`` Freeway games and their batched step."""

    id = "MinAtar/Freeway-v1"
    game = "freeway"
    channels = ("chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5")
    minimal_actions = (0, UP, DOWN)
    draw_layout = (("speed", LANES), ("direction", LANES))

    def _allocate(self, num_envs: int, device: torch.device) -> None:
        long = dict(dtype=torch.int64, device=device)
        flag = dict(dtype=torch.bool, device=device)
        self.car_x, self.car_timer, self.car_speed = (torch.zeros(num_envs, LANES, **long) for _ in range(3))
        self.pos, self.move_timer, self.terminate_timer = (torch.zeros(num_envs, **long) for _ in range(3))
        self._speeds, self._directions, self._step = (torch.zeros(num_envs, LANES, **long) for _ in range(3))
        self._moving, self._new = (torch.zeros(num_envs, LANES, **flag) for _ in range(2))
        self._lane, self._ahead = (torch.zeros(num_envs, **long) for _ in range(2))
        self._up, self._down, self._win, self._hit, self._flag = (torch.zeros(num_envs, **flag) for _ in range(5))
        self._rows = torch.arange(1, LANES + 1, **long).expand(num_envs, LANES)
        self._chicken_column = torch.full((num_envs,), CHICKEN_COLUMN, **long)
        self._points = torch.zeros(num_envs, 1 + 2 * LANES, **long)

    def _advance(self, action, reward, terminated) -> None:
        pos, up, down, win, hit, flag = self.pos, self._up, self._down, self._win, self._hit, self._flag
        torch.eq(self.move_timer, 0, out=flag)
        torch.eq(action, UP, out=up).logical_and_(flag)
        torch.eq(action, DOWN, out=down).logical_and_(flag)
        self.move_timer.masked_fill_(up | down, PLAYER_SPEED)
        pos.sub_(up.long()).add_(down).clamp_(0, 9)
        # The far side: +1, new speeds for every car, back to the bottom.
        torch.eq(pos, 0, out=win)
        reward.add_(win)
        self._new_speeds(win)
        pos.masked_fill_(win, 9)
        # Cars: the chicken's lane's car hits it if it is in column 4 before or after its move.
        torch.sub(pos, 1, out=self._lane).clamp_(0, LANES - 1)
        torch.ge(pos, 1, out=flag).logical_and_(pos <= LANES)  # the chicken is in a lane
        torch.gather(self.car_x, 1, self._lane[:, None], out=self._ahead[:, None])
        torch.eq(self._ahead, CHICKEN_COLUMN, out=hit).logical_and_(flag)
        torch.eq(self.car_timer, 0, out=self._moving)
        self.car_timer.sub_(1)
        torch.where(self._moving, self.car_speed.abs(), self.car_timer, out=self.car_timer)
        torch.sign(self.car_speed, out=self._step).mul_(self._moving)
        self.car_x.add_(self._step).add_(10).remainder_(10)  # wrap around
        torch.gather(self.car_x, 1, self._lane[:, None], out=self._ahead[:, None])
        flag.logical_and_(self._ahead == CHICKEN_COLUMN)
        hit.logical_or_(flag.logical_and_(self._moving.gather(1, self._lane[:, None])[:, 0]))
        pos.masked_fill_(hit, 9)
        self.move_timer.sub_(1).clamp_(min=0)  # the original's ``-= timer > 0``
        self.terminate_timer.sub_(1)
        terminated.logical_or_(self.terminate_timer < 0)

    def _new_speeds(self, mask: torch.Tensor) -> None:
        """New speeds (1 to 5) and directions for every car where ``mask`` is set (``_randomize_cars``)."""
        self.draws.integers("speed", 5, out=self._speeds.T).add_(1)
        torch.ge(self.draws["direction"].T, SPAN // 2, out=self._new)  # sign(rand() - 0.5) > 0
        torch.mul(self._new, 2, out=self._directions).sub_(1).mul_(self._speeds)
        torch.where(mask[:, None], self._directions, self.car_speed, out=self.car_speed)
        torch.where(mask[:, None], self._speeds, self.car_timer, out=self.car_timer)

    def _start(self, mask) -> None:
        self._new_speeds(mask)
        self.car_x.masked_fill_(mask[:, None], 0)
        self.pos.masked_fill_(mask, 9)
        self.move_timer.masked_fill_(mask, PLAYER_SPEED)
        self.terminate_timer.masked_fill_(mask, TIME_LIMIT)

    def _render(self, obs) -> None:
        obs.zero_()
        chicken, cars, trails = self._points[:, 0], self._points[:, 1:1 + LANES], self._points[:, 1 + LANES:]
        self.cells(0, self.pos, self._chicken_column, chicken)
        self.cells(1, self._rows, self.car_x, cars)
        torch.sign(self.car_speed, out=self._step)
        behind = torch.sub(self.car_x, self._step).add_(10).remainder_(10)
        self.cells(1, self._rows, behind, trails).add_(self.car_speed.abs().mul_(100))  # channel 1 + |speed|
        obs.view(-1).index_fill_(0, self._points.view(-1), True)
