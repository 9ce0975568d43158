"""The random draws of a MinAtar step: named rows of integers, one column per env, refilled at every step.

Every random choice a game makes (a sticky action, a spawn's side, row or kind, Breakout's serve, Freeway's
car speeds) reads its own named row. The whole table is drawn at every step for every env, used or not, so
env i's randomness depends only on the seed and the step count, never on what the other envs did (the rule of
every native env, see ``fastrl.envs.native``).

**One draw, one real number.** A draw is an integer ``u`` in [0, 2**24) standing for the real number
``(u + 0.5) / 2**24`` in (0, 1). The games turn it into the original's outcomes with integer arithmetic only
(``below``, ``integers``), so the outcome of a draw is exact on every device; the midpoint keeps the real
number away from 0 and from 1/2 (Freeway takes ``sign(rand() - 0.5)`` and would get a zero speed at 1/2).

**Feeding draws.** ``feed(values)`` makes the next ``fill`` use ``values`` instead of the generator. It lets
the same game be stepped from a recorded or foreign random stream: the parity tests give the ``minatar``
package a random source that answers each of its ``rand`` / ``randint`` calls from the same table, through
``as_real`` and ``integers_of``, so both sides play the same game.
"""

from __future__ import annotations

import math

import torch

BITS = 24
SPAN = 1 << BITS


def threshold(probability: float) -> int:
    """The integer t with ``u < t`` exactly when ``(u + 0.5) / 2**24 < probability``."""
    return math.ceil(probability * SPAN - 0.5)


def as_real(u):
    """The real number in (0, 1) that the draw ``u`` (an int or an integer array) stands for, exact in float64."""
    return (u + 0.5) / SPAN


def integers_of(u, n: int):
    """``floor(as_real(u) * n)``: the integer in [0, n) that ``randint(n)`` gives for the draw ``u`` (an int or
    an integer array); ``Draws.integers`` computes the same on tensors."""
    return ((2 * u + 1) * n) >> (BITS + 1)


class Draws:
    """A [rows, num_envs] int32 table of draws, rows named by ``layout`` ((name, count), ...)."""

    def __init__(self, layout: tuple[tuple[str, int], ...], num_envs: int, device: torch.device):
        self.slices: dict[str, slice] = {}
        start = 0
        for name, count in layout:
            self.slices[name] = slice(start, start + count)
            start += count
        self.values = torch.zeros(start, num_envs, dtype=torch.int32, device=device)
        self._uniform = torch.zeros(start, num_envs, dtype=torch.float32, device=device)
        self._fed: torch.Tensor | None = None

    def fill(self, generator: torch.Generator) -> None:
        """Draw the whole table (or take the fed values, once).

        The draws come from ``uniform_`` in float32, whose values lie in [0, 1) on a 2**-24 grid on the CPU, so
        ``floor(value * 2**24)`` is a uniform 24-bit integer; ``uniform_`` is several times faster than an
        integer ``random_`` on the CPU (``fastrl bench envs`` times the whole step)."""
        if self._fed is not None:
            self.values.copy_(self._fed)
            self._fed = None
        else:
            self.values.copy_(self._uniform.uniform_(generator=generator).mul_(SPAN))

    def feed(self, values: torch.Tensor) -> None:
        """Use ``values`` (shape [rows, num_envs], integers in [0, 2**24)) at the next ``fill``."""
        if tuple(values.shape) != tuple(self.values.shape):
            raise ValueError(f"fed draws have shape {tuple(values.shape)}, expected {tuple(self.values.shape)}")
        if bool((values < 0).any()) or bool((values >= SPAN).any()):
            raise ValueError(f"fed draws must lie in [0, 2**{BITS})")
        self._fed = values.to(self.values.device, torch.int32)

    def __getitem__(self, name: str) -> torch.Tensor:
        """The rows of ``name``: [num_envs] for a single row, [count, num_envs] for a group."""
        rows = self.values[self.slices[name]]
        return rows[0] if rows.shape[0] == 1 else rows

    def below(self, name: str, probability: float, out: torch.Tensor) -> torch.Tensor:
        """Bernoulli outcomes ``rand() < probability`` of the rows ``name``, into the bool tensor ``out``."""
        return torch.lt(self[name], threshold(probability), out=out)

    def integers(self, name: str | torch.Tensor, n: int | torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``randint(n)`` of the rows ``name`` (or of a tensor of draws; ``n`` an int or a tensor of ints <= 8),
        into ``out``."""
        torch.mul(self[name] if isinstance(name, str) else name, 2, out=out).add_(1).mul_(n)
        return out.bitwise_right_shift_(BITS + 1)
