"""On-policy rollouts: storage on the device, and collection from a ``VecEnv``, sync or async in two halves.

**Storage.** Row t of every ``[T, N]`` tensor is one step of the N envs (time first, env index fastest, as
``fastrl.ops.returns`` expects): what the policy saw and did, ``obs[t]``, ``actions[t]``, ``logprobs[t]``,
``values[t]``, and what that step returned, ``rewards[t]``, ``terminated[t]``, ``truncated[t]``. ``next_obs``
is the observation after the last step: the learner bootstraps from it, and the next rollout acts on it first.

**The autoreset row.** With next-step autoreset (``fastrl.envs.base``), the step after one that ended env i's
episode ignores env i's action and returns the first observation of a new episode, reward 0, no flags. That
row (final observation -> first observation) is no transition of the policy: ``valid[t, i]`` is False there,
and the learner leaves it out of every loss and statistic. GAE needs nothing more: the done step cuts the
trace, and on truncation it bootstraps from ``values[t + 1]``, which is the final observation's value.
Whether env i's previous step ended its episode carries over from one rollout to the next (``pending``).

**Collection.** ``Collector.collect(act)`` fills the rollout, ``act(obs, t, env_ids) -> (stored action, env
action, logprob, value)`` being the policy for step t of the envs ``env_ids`` (None: all, in order). Two modes:

- sync: each step acts on all N envs, then steps them all (``VecEnv.step``);
- async (an env made with ``batch_size = N / 2``: envpool's or ale-py's async mode): the envs form two fixed
  halves, and the policy acts for one half while the other steps. Only one half is in flight when
  ``recv`` is called, so it returns exactly that half (in any order: rows are written by env id), and each
  half takes exactly T steps per rollout with the same policy. So the transitions are those of sync
  collection, given a policy whose draws depend only on (t, env) (``act`` gets both).

Per-stage host timers go to the ``clock`` (a ``fastrl.run.stopwatch.Stopwatch``): ``env`` (step, or send + recv),
``act`` (the policy), ``store`` (rollout writes and episode statistics). In async mode ``env`` is the time
spent waiting for the half in flight, which the policy's work on the other half hides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

#: act(obs, t, env_ids) -> (action to store, action for the env, log-probability, value)
Policy = Callable[[torch.Tensor, int, torch.Tensor | None],
                  tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]


class Rollout:
    """T steps of N envs, preallocated on ``device``."""

    def __init__(self, num_steps: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 action_shape: tuple[int, ...], action_dtype: torch.dtype, device: torch.device):
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs, self.device = T, N, device
        self.obs = torch.zeros((T, N, *obs_shape), dtype=obs_dtype, device=device)
        self.actions = torch.zeros((T, N, *action_shape), dtype=action_dtype, device=device)
        self.logprobs = torch.zeros((T, N), dtype=torch.float32, device=device)
        self.values = torch.zeros((T, N), dtype=torch.float32, device=device)
        self.rewards = torch.zeros((T, N), dtype=torch.float32, device=device)
        self.terminated = torch.zeros((T, N), dtype=torch.bool, device=device)
        self.truncated = torch.zeros((T, N), dtype=torch.bool, device=device)
        self.valid = torch.zeros((T, N), dtype=torch.bool, device=device)
        self.next_obs = torch.zeros((N, *obs_shape), dtype=obs_dtype, device=device)
        #: env i's last step ended its episode: its next step is an autoreset (carried across rollouts)
        self.pending = torch.zeros(N, dtype=torch.bool, device=device)

    def write_policy(self, t: int, env_ids: torch.Tensor | None, obs, action, logprob, value) -> None:
        """What the policy saw and did at step t, for all envs (``env_ids`` None) or those in ``env_ids``."""
        for store, x in ((self.obs, obs), (self.actions, action), (self.logprobs, logprob), (self.values, value)):
            if env_ids is None:
                store[t].copy_(x)
            else:
                store[t].index_copy_(0, env_ids, x)

    def write_step(self, t: int, env_ids: torch.Tensor | None, reward, terminated, truncated) -> None:
        """What step t returned; marks the row valid unless it was the env's autoreset step."""
        if env_ids is None:
            self.rewards[t].copy_(reward)
            self.terminated[t].copy_(terminated)
            self.truncated[t].copy_(truncated)
            torch.logical_not(self.pending, out=self.valid[t])
            torch.logical_or(terminated, truncated, out=self.pending)
        else:
            self.rewards[t].index_copy_(0, env_ids, reward)
            self.terminated[t].index_copy_(0, env_ids, terminated)
            self.truncated[t].index_copy_(0, env_ids, truncated)
            self.valid[t].index_copy_(0, env_ids, self.pending.index_select(0, env_ids).logical_not_())
            self.pending.index_copy_(0, env_ids, terminated | truncated)


def collect_sync(envs, rollout: Rollout, act: Policy, clock, on_step: Callable[[int, dict[str, Any]], None]) -> None:
    """Fill ``rollout`` by stepping all of ``envs`` together: act, store, step, store, then ``on_step(t, info)``
    with step t's ``info`` (timed as ``store``); ``clock`` times the stages."""
    obs = rollout.next_obs
    for t in range(rollout.num_steps):
        with clock("act"):
            stored, env_action, logprob, value = act(obs, t, None)
        with clock("store"):
            rollout.write_policy(t, None, obs, stored, logprob, value)
        with clock("env"):
            obs, reward, terminated, truncated, info = envs.step(env_action)
        with clock("store"):
            rollout.write_step(t, None, reward, terminated, truncated)
            on_step(t, info)
    rollout.next_obs.copy_(obs)


class Collector:
    """Fills a ``Rollout`` from ``envs`` (async where ``envs.is_async``); ``after_step(info)`` is called for
    every step (sync) or batch (async) the envs return, ``clock`` times the stages."""

    def __init__(self, envs, rollout: Rollout, after_step: Callable[[dict[str, Any]], None], clock):
        if envs.is_async and envs.num_envs != 2 * envs.batch_size:
            raise ValueError(f"{envs.env_id}: async collection steps two halves in turn; expected batch_size = "
                             f"num_envs / 2, got batch_size={envs.batch_size} with num_envs={envs.num_envs}")
        self.envs, self.rollout, self.after_step, self.clock = envs, rollout, after_step, clock
        self._halves = None  # async: [(host env ids, device env ids)] of the two halves, fixed at reset
        self._env_actions = None  # async: [N, ...] env actions by env id (made at the first act, of its dtype)
        self._send = [None, None]  # async: per half, the actions in the half's fixed order, as sent

    def begin(self, obs: torch.Tensor | None) -> None:
        """Start from the envs' reset: ``obs`` (sync) or None (async: the first observations come by recv)."""
        self.rollout.pending.zero_()
        if obs is not None:
            self.rollout.next_obs.copy_(obs)
        elif not self.envs.is_async:
            raise ValueError(f"{self.envs.env_id}: a sync env's reset gave no observation")
        self._halves = None

    def collect(self, act: Policy) -> None:
        """Fill every row of the rollout; afterwards ``rollout.next_obs`` holds the envs' current observations."""
        if self.envs.is_async:
            self._collect_async(act)
        else:
            self._collect_sync(act)

    # ---- sync -------------------------------------------------------------------------------------------

    def _collect_sync(self, act: Policy) -> None:
        collect_sync(self.envs, self.rollout, act, self.clock, lambda t, info: self.after_step(info))

    # ---- async ------------------------------------------------------------------------------------------

    def _collect_async(self, act: Policy) -> None:
        """Half A steps while the policy acts for half B, then the other way round; T steps each."""
        r = self.rollout
        if self._halves is None:
            self._first_observations()
        (host_a, ids_a), (host_b, ids_b) = self._halves
        obs_a, obs_b = r.next_obs.index_select(0, ids_a), r.next_obs.index_select(0, ids_b)
        last = r.num_steps - 1
        self._send_half(0, self._act(act, obs_a, 0, ids_a, 0), host_a)
        for t in range(r.num_steps):
            actions_b = self._act(act, obs_b, t, ids_b, 1)        # while half A steps
            obs_a, ids_a = self._receive(t)
            self._send_half(1, actions_b, host_b)
            if t < last:
                actions_a = self._act(act, obs_a, t + 1, ids_a, 0)  # while half B steps
            obs_b, ids_b = self._receive(t)
            if t < last:
                self._send_half(0, actions_a, host_a)
        r.next_obs.index_copy_(0, ids_a, obs_a)
        r.next_obs.index_copy_(0, ids_b, obs_b)

    def _first_observations(self) -> None:
        """After an async reset: the two batches of first observations, which fix the two halves."""
        halves = []
        for _ in range(2):
            with self.clock("env"):
                out = self.envs.recv()
            ids = out.env_ids.clone()
            self.rollout.next_obs.index_copy_(0, ids, out.obs)
            halves.append((ids.cpu().numpy().astype(np.int64), ids))
        self._halves = halves

    def _act(self, act: Policy, obs, t: int, env_ids, half: int) -> torch.Tensor:
        """The policy for the envs ``env_ids`` (in any order) at step t; their env actions in the half's order."""
        with self.clock("act"):
            stored, env_action, logprob, value = act(obs, t, env_ids)
        with self.clock("store"):
            self.rollout.write_policy(t, env_ids, obs, stored, logprob, value)
            if self._env_actions is None:
                self._env_actions = torch.zeros((self.envs.num_envs, *env_action.shape[1:]),
                                                dtype=env_action.dtype, device=env_action.device)
                self._send = [torch.empty_like(self._env_actions[:self.envs.batch_size]) for _ in range(2)]
            self._env_actions.index_copy_(0, env_ids, env_action)
            torch.index_select(self._env_actions, 0, self._halves[half][1], out=self._send[half])
        return self._send[half]

    def _send_half(self, half: int, actions: torch.Tensor, host_ids: np.ndarray) -> None:
        with self.clock("env"):
            self.envs.send(actions, host_ids)

    def _receive(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The half in flight lands: its step-t results go into the rollout; (its observations, its env ids)."""
        with self.clock("env"):
            out = self.envs.recv()
        with self.clock("store"):
            self.rollout.write_step(t, out.env_ids, out.reward, out.terminated, out.truncated)
            self.after_step(out.info)
        return out.obs, out.env_ids

    # ---- checkpoints ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What continues these envs' episodes (with their own state): which envs are due an autoreset."""
        return {"pending": self.rollout.pending}

    def load_state_dict(self, state: dict[str, torch.Tensor], obs: torch.Tensor) -> None:
        """Continue from a checkpoint: the envs were restored and ``obs`` is their current observation."""
        self.rollout.pending.copy_(state["pending"])
        self.rollout.next_obs.copy_(obs)
        self._halves = None
