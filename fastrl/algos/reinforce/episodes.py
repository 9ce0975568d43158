"""Whole episodes of batched envs: each env's steps kept until its episode ends, and their Monte-Carlo returns.

REINFORCE needs G_t = Σ_k γ^k r_{t+k} to the end of the episode, so a step can be learned from only once its
episode has ended. With N envs stepping together the episodes end at different times: column i of the
``[horizon, N]`` tensors holds env i's steps since the oldest episode not learned from yet, ``fill[i]`` rows
of them. ``take()`` hands over the rows of every complete episode (a prefix of each column) with their returns
and moves each column's unfinished episode up to row 0, where it goes on growing.

With next-step autoreset (``fastrl.envs.base``) the step after an episode's end ignores the action and returns
the next episode's first observation: it is no step of either episode, and ``add`` does not keep it.
"""

from __future__ import annotations

import torch

from fastrl.ops.returns import gae


def monte_carlo_returns(rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                        gamma: float) -> torch.Tensor:
    """G_t = r_t + γ G_{t+1}, cut where a step ended its episode (either flag), for [T, N] tensors.

    This is GAE with λ = 1 and V ≡ 0 (``fastrl.ops.returns.gae``, the tested op): δ_t = r_t, and
    A_t = δ_t + γ A_{t+1} within an episode. A truncated episode's return is the sum of the rewards it saw
    (bootstrapped from V = 0): REINFORCE has no value to bootstrap from. Rows after a column's last episode end
    (an unfinished episode) get returns that mean nothing; the caller leaves them out.
    """
    zeros = torch.zeros_like(rewards)
    return gae(rewards, zeros, terminated, truncated, zeros[0], gamma=gamma, lam=1.0).advantages


class EpisodeBuffer:
    """Each env's steps until its episodes end, on ``device``: ``add`` one step of all envs, ``take`` the
    complete episodes."""

    def __init__(self, horizon: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 device: torch.device):
        H, N = horizon, num_envs
        self.horizon = H
        self.obs = torch.zeros((H, N, *obs_shape), dtype=obs_dtype, device=device)
        self.actions = torch.zeros((H, N), dtype=torch.int64, device=device)
        self.rewards = torch.zeros((H, N), dtype=torch.float32, device=device)
        self.terminated = torch.zeros((H, N), dtype=torch.bool, device=device)
        self.truncated = torch.zeros((H, N), dtype=torch.bool, device=device)
        #: rows of env i's column in use
        self.fill = torch.zeros(N, dtype=torch.int64, device=device)
        #: env i's last step ended its episode: its next step is an autoreset, not kept
        self.pending = torch.zeros(N, dtype=torch.bool, device=device)
        #: complete episodes held
        self.complete = torch.zeros((), dtype=torch.int64, device=device)
        self._envs = torch.arange(N, device=device)
        self._rows = torch.arange(H, device=device)[:, None]

    def add(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor,
            truncated: torch.Tensor) -> None:
        """One step of every env: what it saw and did, and what the step returned."""
        kept = ~self.pending
        row = self.fill  # an autoreset step is written past the column's end, and overwritten by the next step
        self.obs[row, self._envs] = obs
        self.actions[row, self._envs] = action
        self.rewards[row, self._envs] = reward
        self.terminated[row, self._envs] = terminated
        self.truncated[row, self._envs] = truncated
        self.pending = (terminated | truncated) & kept
        self.fill += kept
        self.complete += self.pending.sum()

    def ready(self, episodes: int) -> bool:
        """Whether ``episodes`` episodes are complete, or a column is full (one host read)."""
        return bool((self.complete >= episodes) | (self.fill.max() >= self.horizon))

    def take(self, gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """The complete episodes' steps, flat: (observations [M, ...], actions [M], returns [M], episodes), and
        each column's unfinished episode moved up to row 0. ``RuntimeError`` where an unfinished episode fills
        its whole column."""
        ended = (self.terminated | self.truncated) & (self._rows < self.fill)
        complete_rows = ((self._rows + 1) * ended).amax(dim=0)  # [N]: up to the column's last episode end
        mask = self._rows < complete_rows
        returns = monte_carlo_returns(self.rewards, self.terminated, self.truncated, gamma)
        batch = self.obs[mask], self.actions[mask], returns[mask], int(self.complete)
        self._shift(complete_rows)
        full = self.fill >= self.horizon
        if bool(full.any()):
            env = int(full.nonzero()[0])
            raise RuntimeError(f"env {env}'s episode reached --horizon {self.horizon} steps without ending: "
                               f"REINFORCE learns from whole episodes; raise --horizon above the env's longest")
        return batch

    def _shift(self, rows: torch.Tensor) -> None:
        """Column i's rows from ``rows[i]`` on move up to row 0."""
        index = (self._rows + rows).clamp(max=self.horizon - 1)
        for name in ("obs", "actions", "rewards", "terminated", "truncated"):
            store = getattr(self, name)
            at = index.view(*index.shape, *([1] * (store.dim() - 2))).expand_as(store)
            setattr(self, name, store.gather(0, at))
        self.fill -= rows
        self.complete.zero_()

    def state_dict(self) -> dict:
        return {name: getattr(self, name) for name in ("obs", "actions", "rewards", "terminated", "truncated",
                                                       "fill", "pending", "complete")}

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            getattr(self, name).copy_(value)
