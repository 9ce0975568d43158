"""The n-step writer: per env stream, turns single steps into (s_t, a_t, R_t, discount_t, s_{t+n'}).

For the transition that starts at step t of a stream, ``n' = min(n, steps to the episode's end)`` and

    R_t        = sum_{k < n'} gamma^k r_{t+k+1}
    discount_t = gamma^{n'}, or 0 when the episode terminated within those n' steps
    s_{t+n'}   = the observation n' steps later (the terminal / truncation observation at an episode end)

Termination stops bootstrapping (discount 0); truncation bootstraps from the truncation step's observation,
which next-step autoreset returns as that step's obs. The step after a done step is the env's autoreset: its
transition (from the terminal observation, action ignored) is not a transition and is never opened.

Vectorized over streams: the pending transitions of all streams live in ``[N, n]`` tensors, lane
``c`` holding the transition that started at a step ``t`` with ``t % n == c``. Every stream steps together,
so the age of each lane (steps since its start) is the same for all streams and comes from a ``[n, n]``
table indexed by the step number; nothing loops over envs or waits for the device.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Finished(NamedTuple):
    """What one step settled. Lanes are [N, n]; ``age`` [n] is each lane's steps since its start."""

    age: torch.Tensor        #: int64 [n]: steps from each lane's start to this step's observation
    closed: torch.Tensor     #: bool [N, n]: transitions finished at this step
    returns: torch.Tensor    #: float32 [N, n]: their discounted reward sums
    discount: torch.Tensor   #: float32 [N, n]: gamma^age, 0 where the episode terminated
    episode_start: torch.Tensor  #: bool [N]: this step's observation is a new episode's first


class NStepWriter:
    def __init__(self, num_envs: int, n: int, gamma: float, device: torch.device):
        if n < 1:
            raise ValueError(f"n_step must be >= 1, got {n}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        self.n, self.gamma = n, gamma
        self.open = torch.zeros(num_envs, n, dtype=torch.bool, device=device)
        self.partial = torch.zeros(num_envs, n, dtype=torch.float32, device=device)
        self.prev_done = torch.zeros(num_envs, dtype=torch.bool, device=device)
        # Row r = (step - 1) % n: age of lane c is 1 + (r - c) % n.
        r = torch.arange(n)[:, None]
        c = torch.arange(n)[None, :]
        age = 1 + torch.remainder(r - c, n)
        self._age = age.to(device)
        self._reward_scale = torch.pow(torch.tensor(gamma, dtype=torch.float64), age - 1).float().to(device)
        self._discount = torch.pow(torch.tensor(gamma, dtype=torch.float64), age).float().to(device)
        self._full = (age == n).to(device)
        self._all_start = torch.ones(num_envs, dtype=torch.bool, device=device)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reward scale, discount, age, full) [n, n]: per row (step - 1) % n, per lane, the constants a step
        applies (what the CPU engine's kernel takes as arrays)."""
        return self._reward_scale, self._discount, self._age, self._full

    @staticmethod
    def bytes_needed(num_envs: int, n: int) -> int:
        return num_envs * n * (1 + 4) + num_envs  # open, partial, prev_done

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.open, self.partial, self.prev_done))

    def restart(self, step: int) -> Finished:
        """Every stream was reset: pending transitions are dropped and each stream's obs opens a new one."""
        self.open.zero_()
        self.prev_done.zero_()
        self._open_lane(step, self.prev_done)
        nothing = torch.zeros_like(self.partial)
        return Finished(self._age[(step - 1) % self.n], torch.zeros_like(self.open), nothing, nothing,
                        self._all_start)

    def step(self, step: int, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> Finished:
        """Account for env step number ``step`` (>= 1) of every stream, as the env returned it.

        Streams whose previous step was done are at their autoreset step: their reward and flags belong to
        no transition and are ignored, and their observation starts a new episode.
        """
        row = (step - 1) % self.n
        starting = self.prev_done
        live = ~starting
        terminated = terminated & live
        done = (terminated | truncated) & live
        self.partial += torch.where(self.open, self._reward_scale[row] * reward[:, None], 0.0)
        closed = self.open & (self._full[row] | done[:, None])
        discount = torch.where(terminated[:, None], 0.0, self._discount[row].expand_as(self.partial))
        returns = self.partial.clone()
        self.open &= ~closed
        self._open_lane(step, done)
        self.prev_done = done
        return Finished(self._age[row], closed, returns, discount, starting)

    def _open_lane(self, step: int, done: torch.Tensor) -> None:
        """The observation of ``step`` starts a pending transition in every stream where it is not terminal."""
        lane = step % self.n
        self.open[:, lane] = ~done
        self.partial[:, lane] = 0.0

    def state(self) -> dict[str, torch.Tensor]:
        return {"nstep_open": self.open, "nstep_partial": self.partial, "nstep_prev_done": self.prev_done}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.open.copy_(tensors["nstep_open"])
        self.partial.copy_(tensors["nstep_partial"])
        self.prev_done.copy_(tensors["nstep_prev_done"])
