"""A scripted vectorized env for replay tests, with the VecEnv conventions (next-step autoreset), and a naive
reference of what a replay buffer must hold: every observation the env returned, kept whole.

Every frame is unique: it encodes (env, call) so a test can tell which step a stored stack came from.
Episode lengths and how each episode ends (terminated or truncated) are scripted per env.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def frame(env: int, call: int, hw: int) -> np.ndarray:
    """A frame that names its env and call: bytes 0-1 the call, byte 2 the env, the rest a hash of both."""
    f = np.full((hw, hw), (call * 7 + env * 13 + 1) % 251, dtype=np.uint8)
    f.flat[0], f.flat[1], f.flat[2] = call % 256, call // 256, env
    return f


@dataclass
class ScriptedEnvs:
    """N envs; env i's episodes have lengths ``lengths[i][e % len]`` and end as ``ends[i][e % len]``."""

    lengths: list[list[int]]
    ends: list[list[str]]               # "term" or "trunc"
    stack: int = 4                      # 0: flat float observations [3] = (env, call, episode step)
    hw: int = 6
    seed: int = 0
    calls: int = 0
    history: list[list[np.ndarray]] = field(default_factory=list)   # [env][call] -> obs as returned
    done: list[list[str]] = field(default_factory=list)              # [env][call] -> "", "term", "trunc"
    rewards: list[list[float]] = field(default_factory=list)         # [env][call]
    actions: list[list[int]] = field(default_factory=list)           # [env][call]: the action sent at call
    resets: set[int] = field(default_factory=set)                    # calls that were reset() calls

    def __post_init__(self):
        self.num_envs = len(self.lengths)
        self.rng = np.random.default_rng(self.seed)
        self.episode = [0] * self.num_envs
        self.t = [0] * self.num_envs
        self.pending = [False] * self.num_envs
        self.stacks: list[list[np.ndarray]] = [[] for _ in range(self.num_envs)]
        self.history = [[] for _ in range(self.num_envs)]
        self.done = [[] for _ in range(self.num_envs)]
        self.rewards = [[] for _ in range(self.num_envs)]
        self.actions = [[] for _ in range(self.num_envs)]

    def _obs(self, i: int, start: bool) -> np.ndarray:
        if not self.stack:
            return np.array([i, self.calls, self.t[i]], dtype=np.float32)
        f = frame(i, self.calls, self.hw)
        self.stacks[i] = [f] * self.stack if start else self.stacks[i][1:] + [f]
        return np.stack(self.stacks[i])

    def reset(self) -> torch.Tensor:
        self.resets.add(self.calls)
        obs = []
        for i in range(self.num_envs):
            self.t[i], self.pending[i] = 0, False
            obs.append(self._obs(i, True))
            self._record(i, obs[-1], "", 0.0, -1)
        self.calls += 1
        return torch.from_numpy(np.stack(obs))

    def step(self, actions: np.ndarray):
        obs, rew, term, trunc = [], [], [], []
        for i in range(self.num_envs):
            if self.pending[i]:  # next-step autoreset: the action is ignored
                self.pending[i], self.t[i] = False, 0
                self.episode[i] += 1
                o, r, end = self._obs(i, True), 0.0, ""
            else:
                self.t[i] += 1
                r = float(self.rng.normal())
                o = self._obs(i, False)
                e = self.episode[i] % len(self.lengths[i])
                end = self.ends[i][e] if self.t[i] >= self.lengths[i][e] else ""
                self.pending[i] = bool(end)
            obs.append(o)
            rew.append(r)
            term.append(end == "term")
            trunc.append(end == "trunc")
            self._record(i, o, end, r, int(actions[i]))
        self.calls += 1
        return (torch.from_numpy(np.stack(obs)), torch.tensor(rew, dtype=torch.float32), torch.tensor(term),
                torch.tensor(trunc))

    def _record(self, i, obs, end, reward, action):
        self.history[i].append(obs)
        self.done[i].append(end)
        self.rewards[i].append(reward)
        self.actions[i].append(action)


def expected_transition(envs: ScriptedEnvs, i: int, k: int, n: int, gamma: float):
    """The n-step transition starting at env i's call k, or None where there is none (yet).

    Returns (next_call, reward, discount, action).
    """
    last = envs.calls - 1
    if envs.done[i][k] or k >= last:
        return None
    reward, horizon = 0.0, 0
    for j in range(1, n + 1):
        c = k + j
        if c > last or c in envs.resets:
            return None  # still pending, or cut off by a reset() of every env
        reward += gamma ** (j - 1) * envs.rewards[i][c]
        horizon = j
        if envs.done[i][c]:
            break
    discount = 0.0 if envs.done[i][k + horizon] == "term" else gamma ** horizon
    return k + horizon, reward, discount, envs.actions[i][k + 1]


def zero_before_start(envs: ScriptedEnvs, i: int, k: int) -> np.ndarray:
    """The env's stack at (i, k) with positions older than the episode's first frame set to 0."""
    obs = envs.history[i][k].copy()
    distance = 0  # steps back to the episode's first frame, capped at stack - 1
    while distance < envs.stack - 1 and not _is_reset(envs, i, k - distance):
        distance += 1
    obs[: envs.stack - 1 - distance] = 0
    return obs


def _is_reset(envs: ScriptedEnvs, i: int, k: int) -> bool:
    return k in envs.resets or bool(envs.done[i][k - 1])
