"""NFQ's growing batch D: every transition of every env since the run began, never sampled, never overwritten.

Row k of the ``[steps, N]`` tensors is the k-th step of the N envs: (s, a, r, s', terminated) of each env.
With next-step autoreset (``fastrl.envs.base``) the observation returned on the step that ends an episode is
its final one, so s' is right at terminations and truncations alike; the step after an end is the autoreset
step, which ignores its action and is no transition: ``valid`` is False there and it never enters a pattern set.
Preallocated for the run's whole budget, so the loop neither grows nor syncs; NFQ is meant for small tasks,
where that is small too.
"""

from __future__ import annotations

import torch


class Transitions:
    """All the transitions of ``num_envs`` envs over ``capacity`` steps of them, on ``device``."""

    def __init__(self, capacity: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 device: torch.device):
        shape = (capacity, num_envs)
        self.obs = torch.zeros((*shape, *obs_shape), dtype=obs_dtype, device=device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(shape, dtype=torch.int64, device=device)
        self.rewards = torch.zeros(shape, dtype=torch.float32, device=device)
        self.terminated = torch.zeros(shape, dtype=torch.bool, device=device)
        self.valid = torch.zeros(shape, dtype=torch.bool, device=device)
        #: env i's last step ended its episode: its next step is an autoreset
        self.pending = torch.zeros(num_envs, dtype=torch.bool, device=device)
        #: episodes ended since the last ``take_episodes``
        self.episodes = torch.zeros((), dtype=torch.int64, device=device)
        self.steps = 0

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One step of every env."""
        k = self.steps
        if k == self.obs.shape[0]:
            raise RuntimeError(f"NFQ's transitions are full at {k} steps of the envs: the run's total_env_steps "
                               f"sized them")
        self.obs[k], self.next_obs[k], self.actions[k] = obs, next_obs, action
        self.rewards[k], self.terminated[k] = reward, terminated
        torch.logical_not(self.pending, out=self.valid[k])
        self.pending = (terminated | truncated) & self.valid[k]
        self.episodes += self.pending.sum()
        self.steps += 1

    def episodes_ended(self) -> int:
        """Episodes ended since the last call (one host read), and reset the count."""
        count = int(self.episodes)
        self.episodes.zero_()
        return count

    def patterns(self) -> tuple[torch.Tensor, ...]:
        """Every transition so far, flat: (s, a, r, s', terminated), each [M, ...]."""
        valid = self.valid[:self.steps]
        return tuple(x[:self.steps][valid] for x in (self.obs, self.actions, self.rewards, self.next_obs,
                                                       self.terminated))

    def state_dict(self) -> dict:
        rows = slice(0, self.steps)
        return {"obs": self.obs[rows], "next_obs": self.next_obs[rows], "actions": self.actions[rows],
                "rewards": self.rewards[rows], "terminated": self.terminated[rows], "valid": self.valid[rows],
                "pending": self.pending, "episodes": self.episodes, "steps": self.steps}

    def load_state_dict(self, state: dict, envs_continue: bool) -> None:
        """The saved transitions; the envs' pending autoresets too where they continue their episodes."""
        self.steps = int(state["steps"])
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "valid"):
            getattr(self, name)[:self.steps].copy_(state[name])
        self.episodes.copy_(state["episodes"])
        if envs_continue:
            self.pending.copy_(state["pending"])
