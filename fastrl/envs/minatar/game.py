"""What the five MinAtar games share: options, action sets, sticky actions, the step's order, drawing the board.

A game subclass allocates its state as batched tensors in ``_allocate`` (its options are this class's, so
``make_native`` finds them in one signature) and fills in three batched steps: ``_advance`` (one
step of the original's ``act`` for every env), ``_start`` (a new game where a mask is set) and ``_render``
(the boolean board). ``MinAtarGame.step`` runs them in the order the ``minatar`` package does: map the agent's
action through the action set, apply the sticky action (``minatar.Environment.act``: with probability
``sticky_action_prob`` the previous action is repeated), advance, and start new games where the previous step
ended one (next-step autoreset: that step's action is ignored, its reward is 0 and it does not terminate).

The previous action survives a new game, as it does in ``minatar.Environment`` (its ``reset`` keeps
``last_action``); only ``reset()`` of the whole batch sets it back to 0 ('no-op'), as a new ``Environment`` has.

Envs that restart are advanced too (a fixed sequence of ops for the whole batch) and then overwritten; the
games keep every index of such a throw-away step inside the board, so it never reads or writes another env.

The step runs as these torch ops (``kernel="reference"``: any device) or, by default on the CPU, as one
compiled loop over the envs per game (``numba.py``) on the same state tensors; ``slot_tensor`` stores per-slot
state env-major for the latter.

Speed of the torch ops on the CPU: per-thing state (Asterix's slots, Freeway's cars, Seaquest's rings) is
[slots, num_envs] with the batch innermost and int8 positions and timers; comparisons are made tensor against
tensor (a comparison with a Python scalar, or ``torch.where`` over such tensors, takes a slow path) and masks
are blended in with integer arithmetic (``blend_``). Maps are bit rows (Breakout's bricks, Space Invaders' maps).
"""

from __future__ import annotations

import os

import gymnasium
import numpy as np
import torch

from fastrl.envs.minatar.draws import Draws
from fastrl.ops import _registry

#: the registry's name for the games' step: ``reference`` (these torch ops) or ``numba`` (``numba.py``)
KERNEL_OP = "minatar"
_registry.declare(KERNEL_OP, {"reference": "fastrl.envs.minatar.game", "numba": "fastrl.envs.minatar.numba"},
                  cpu_order=("numba", "reference"), cuda_order=("reference",))

#: the package's six actions: no-op, left, up, right, down, fire ('n', 'l', 'u', 'r', 'd', 'f')
NOOP, LEFT, UP, RIGHT, DOWN, FIRE = range(6)
SIZE = 10  # the board is SIZE x SIZE


class MinAtarGame:
    """Options, actions, draws and the step's order for ``num_envs`` games of one kind (see the module)."""

    id: str
    #: the game's module in ``minatar.environments``
    game: str
    #: observation channels, in the original's order
    channels: tuple[str, ...]
    #: the original's ``minimal_action_set()``: the actions of the -v1 ids
    minimal_actions: tuple[int, ...]
    #: the game's own random draws per step beside the sticky action's: ((name, rows), ...)
    draw_layout: tuple[tuple[str, int], ...] = ()
    #: the -v0 ids take all six actions
    full_action_set = False

    def __init__(self, num_envs: int, device: torch.device, *, sticky_action_prob: float = 0.1,
                 difficulty_ramping: bool = True, kernel: str | None = None):
        if isinstance(sticky_action_prob, bool) or not isinstance(sticky_action_prob, (int, float)) \
                or not 0.0 <= sticky_action_prob <= 1.0:
            raise ValueError(f"{self.id}: option sticky_action_prob={sticky_action_prob!r}; expected a number "
                             f"in [0, 1]")
        if not isinstance(difficulty_ramping, bool):
            raise ValueError(f"{self.id}: option difficulty_ramping={difficulty_ramping!r}; expected True or False")
        self.num_envs, self.device = num_envs, device
        self.sticky_action_prob, self.ramping = float(sticky_action_prob), difficulty_ramping
        self.single_observation_space = gymnasium.spaces.Box(0, 1, (len(self.channels), SIZE, SIZE), bool)
        actions = tuple(range(6)) if self.full_action_set else self.minimal_actions
        self.single_action_space = gymnasium.spaces.Discrete(len(actions))
        self._action_set = torch.tensor(actions, dtype=torch.int64, device=device)
        self.draws = Draws((("sticky", 1), *self.draw_layout), num_envs, device)
        self.last_action = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self._action = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self._sticky = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self._everywhere = torch.ones(num_envs, dtype=torch.bool, device=device)
        self._constants: dict = {}
        # First cell of each env's board in the flattened observation batch (for index_fill_ of points).
        self._board_start = torch.arange(num_envs, dtype=torch.int64, device=device) * (len(self.channels) * 100)
        #: what runs ``step``: "numba" (one compiled loop over the envs, CPU) or "reference" (the torch ops)
        self.kernel = choose_kernel(self.id, self.device, kernel)
        self._allocate(num_envs, device)
        self._kernel_step = None
        if self.kernel == "numba":
            from fastrl.envs.minatar.numba import Stepper

            self._kernel_step = Stepper(self)

    def reset(self, generator: torch.Generator, obs: torch.Tensor) -> None:
        """Start a new game in every env and write the first boards into ``obs``."""
        self.draws.fill(generator)
        self.last_action.zero_()
        self._start(self._everywhere)
        self._render(obs)

    def step(self, actions: torch.Tensor, restart: torch.Tensor, generator: torch.Generator,
             obs: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """Advance every env by one step (``actions`` index the action set), writing into the outputs."""
        self.draws.fill(generator)
        if self._kernel_step is not None:
            self._kernel_step(actions, restart, obs, reward, terminated, truncated)
            return
        torch.index_select(self._action_set, 0, actions, out=self._action)
        self.draws.below("sticky", self.sticky_action_prob, out=self._sticky)
        torch.where(self._sticky, self.last_action, self._action, out=self._action)
        torch.where(restart, self.last_action, self._action, out=self.last_action)
        reward.zero_()
        terminated.zero_()
        truncated.zero_()
        self._advance(self._action, reward, terminated)
        self._start(restart)
        self.set_where(reward, restart, 0.0)
        self.set_where(terminated, restart, False)
        self._render(obs)

    def set_where(self, target: torch.Tensor, mask: torch.Tensor, value) -> torch.Tensor:
        """``target[mask] = value`` in place, through ``torch.where`` (a masked_fill_ on the CPU is several times
        slower); ``mask`` broadcasts over ``target``'s leading dimensions."""
        key = (value, target.dtype)
        if key not in self._constants:
            self._constants[key] = torch.tensor(value, dtype=target.dtype, device=self.device)
        return torch.where(mask, self._constants[key], target, out=target)

    def light(self, obs: torch.Tensor, local: torch.Tensor, points: torch.Tensor) -> None:
        """Set the cells ``local`` ([..., num_envs] int16 from ``board_cells``) of each env's board in ``obs``
        (``points``: an int64 buffer of ``local``'s shape)."""
        torch.add(self._board_start, local, out=points)
        obs.view(-1).index_fill_(0, points.view(-1), True)

    def cells(self, channel: int, y: torch.Tensor, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Flat indices into the observation batch of the cells (``y``, ``x``) of ``channel``, for int64 [num_envs]
        positions (per-thing positions go through ``board_cells`` and ``light``)."""
        torch.add(self._board_start, x, out=out).add_(y * SIZE)
        return out.add_(channel * SIZE * SIZE)


def choose_kernel(env_id: str, device: torch.device, kernel: str | None) -> str:
    """The option ``kernel`` resolved: an explicit "numba" or "reference" (an error where it cannot run), else
    ``FASTRL_BACKEND=minatar:<kind>``, else numba on the CPU where it imports, the torch ops elsewhere."""
    if kernel is None:
        for part in os.environ.get("FASTRL_BACKEND", "").split(","):
            name, _, choice = part.partition(":")
            if name.strip() == KERNEL_OP and choice.strip():
                kernel = choice.strip()
    if kernel is None:
        return "numba" if _registry.unavailable_reason(KERNEL_OP, "numba", device) is None else "reference"
    if kernel not in ("numba", "reference"):
        raise ValueError(f"{env_id}: option kernel={kernel!r}; expected 'numba', 'reference' or None (auto)")
    return _registry.choose(KERNEL_OP, device, kernel)


def slot_tensor(count: int, num_envs: int, dtype: torch.dtype, device: torch.device, env_major: bool) -> torch.Tensor:
    """[count, num_envs] zeros: per-slot state with the batch innermost, as the torch ops want it, or the
    transpose of an env-major [num_envs, count] tensor, as a kernel that steps one env at a time wants it."""
    if env_major:
        return torch.zeros(num_envs, count, dtype=dtype, device=device).T
    return torch.zeros(count, num_envs, dtype=dtype, device=device)


def board_cells(channel: int, y: torch.Tensor, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``channel * 100 + y * 10 + x`` (a cell within one env's board) from int8 positions into int16 ``out``:
    small ints keep the arithmetic over [slots, num_envs] fast (see the module)."""
    torch.add(x, y * SIZE, out=out)  # at most 99: exact in int8
    return out.add_(channel * SIZE * SIZE)


def lookup(values, device: torch.device) -> torch.Tensor:
    """A small int64 table (directions, moves per action) to index with a batch of states."""
    return torch.tensor(np.asarray(values), dtype=torch.int64, device=device)


def row_bits_table(device: torch.device) -> torch.Tensor:
    """[1024, 10] bool: the ten cells of a board row from its 10-bit mask (bit i is column i)."""
    masks = torch.arange(1024, device=device)
    return (masks[:, None] >> torch.arange(SIZE, device=device)).bitwise_and_(1).bool()


def blend_(target: torch.Tensor, mask: torch.Tensor, value) -> torch.Tensor:
    """``target = where(mask, value, target)`` in place for an integer ``target``, by arithmetic
    (``target += (value - target) * mask``): on the CPU ``torch.where`` over [slots, N] tensors is several
    times slower than three small-integer ops."""
    if target.dtype == torch.int8:
        mask = mask.view(torch.int8)  # same bytes: no cast
    return target.add_(torch.sub(value, target).mul_(mask))
