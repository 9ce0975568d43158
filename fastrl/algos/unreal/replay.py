"""Each UNREAL worker's own small replay of its latest frames (the paper's 2000), and the two ways the auxiliary
tasks sample it: sequences within one episode (pixel control, value replay) and the rebalanced reward-prediction
samples."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch


@dataclass
class Sequence:
    """Consecutive transitions of one episode: ``frames`` [n+1, ...] s_0 … s_n, ``actions`` and ``rewards`` [n],
    and whether s_n is terminal (no bootstrap from it)."""

    frames: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminal: bool


class FrameReplay:
    """A ring of the last ``capacity`` transitions (s_t, a_t, r_t, s_{t+1}, done, terminated), in the order they
    were played. s_{t+1} is kept beside s_t: where an episode ends, the next slot's frame is the next episode's."""

    def __init__(self, capacity: int, observation_shape: tuple[int, ...], dtype: torch.dtype):
        self.capacity, self.size, self.head = capacity, 0, 0
        self.obs = torch.zeros((capacity, *observation_shape), dtype=dtype)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.rewards = torch.zeros(capacity)
        self.done = torch.zeros(capacity, dtype=torch.bool)
        self.terminated = torch.zeros(capacity, dtype=torch.bool)

    @property
    def full(self) -> bool:
        return self.size == self.capacity

    def add(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, next_obs: torch.Tensor,
            done: bool, terminated: bool) -> None:
        """Append a rollout of n transitions (``obs``, ``next_obs`` [n, ...]); only its last may end an episode:
        ``done`` (terminal or truncated) and ``terminated`` are the last one's."""
        for i in range(obs.shape[0]):
            slot = self.head
            self.obs[slot].copy_(obs[i])
            self.next_obs[slot].copy_(next_obs[i])
            self.actions[slot] = actions[i]
            self.rewards[slot] = rewards[i]
            last = i == obs.shape[0] - 1
            self.done[slot] = done and last
            self.terminated[slot] = terminated and last
            self.head = (slot + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def _slots(self, start: int, length: int) -> torch.Tensor:
        """The ring slots of positions start … start+length−1, position 0 being the oldest transition."""
        return (self.head - self.size + start + torch.arange(length)) % self.capacity

    def sample_sequence(self, draws: random.Random, longest: int) -> Sequence:
        """From a uniformly drawn position, up to ``longest`` transitions that stay in its episode (the sequence
        stops at the first that ends one, or at the newest)."""
        start = draws.randrange(self.size)
        done = self.done[self._slots(start, min(longest, self.size - start))]
        length = int(done.nonzero()[0, 0]) + 1 if bool(done.any()) else done.shape[0]
        slots = self._slots(start, length)
        last = slots[-1]
        frames = torch.cat([self.obs[slots], self.next_obs[last][None]])
        return Sequence(frames, self.actions[slots], self.rewards[slots], bool(self.terminated[last]))

    def sample_reward_frames(self, draws: random.Random, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``k`` consecutive frames of one episode s_{τ−k+1} … s_τ [k, ...] and the reward r_τ that followed,
        drawn with P(r_τ ≠ 0) = 1/2: a rewarding τ or not with even odds, then τ uniformly among those of
        its kind (a kind the replay does not hold yields to the other)."""
        slots = self._slots(0, self.size)
        done = self.done[slots]
        eligible = torch.ones(self.size, dtype=torch.bool)
        eligible[:k - 1] = False
        for back in range(1, k):  # no episode ends among s_{τ−k+1} … s_{τ−1}
            eligible[back:] &= ~done[:self.size - back]
        rewarding = self.rewards[slots] != 0
        kinds = [(eligible & rewarding).nonzero().flatten(), (eligible & ~rewarding).nonzero().flatten()]
        first = 0 if draws.random() < 0.5 else 1
        chosen = kinds[first] if kinds[first].numel() else kinds[1 - first]
        tau = int(chosen[draws.randrange(chosen.numel())])
        return self.obs[slots[tau - k + 1:tau + 1]], self.rewards[slots[tau]]
