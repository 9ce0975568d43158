"""The ``ale`` backend: ale-py's C++ vector env (``ale_py.vector_env.AtariVectorEnv``), Atari only.

Ids as for envpool (``Pong-v5`` -> ROM ``pong``). Sync or async (``batch_size < num_envs``: ``send``/``recv``);
options as envpool's: ``num_threads``, ``batch_size``, ``check_actions`` and the protocol options of
``fastrl.envs.atari`` (same names, same defaults).

- ale-py throws on an out-of-range action inside a worker thread, and its ``recv`` then waits forever:
  ``check_actions`` stops such actions here.
- ale-py steps the envs of the last ``recv`` (by position); ``send`` takes their ids in any order and
  refuses others.
- Episodic life is ale-py's ``life_loss_info`` (terminated on a life loss, the game goes on; ale-py's own
  ``episodic_life`` resets the whole game): the step after a life loss applies its action, no autoreset.
  A game over is told from a life loss as ale-py does: a life is lost when the lives drop and some remain.
- Seeds: env i gets ``seed + i`` at the first reset (ale-py seeds at reset, not at construction); a later
  ``reset()`` without a seed goes on with each env's own generator. An async env cannot be reset while
  envs are in flight, so a re-reset makes a new vector env (seeded ``seed + num_envs`` when none is given).
- Rewards come as ints; reward clipping is done here, the raw reward feeds the full-game return.
"""

from __future__ import annotations

import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv

from fastrl.envs.atari import ATARI_DEFAULTS, AtariOptions, ale_kwargs, atari_game, rom_name
from fastrl.envs.base import (
    LIFE_LOSS_IN_TERMINATED,
    NO_LIVES,
    AsyncStep,
    HostEngineVecEnv,
    Step,
    take_options,
    threads_and_batch,
)


class AleVecEnv(HostEngineVecEnv):
    backend = "ale"

    def __init__(self, env_id: str, num_envs: int, *, device: torch.device, seed: int = 0, **options):
        where = f"{env_id} (ale)"
        game = atari_game(env_id)
        if game is None:
            raise ValueError(f"{where}: not an Atari id; the ale backend takes ids like 'Pong-v5'")
        defaults = {"num_threads": None, "batch_size": None, "check_actions": True} | ATARI_DEFAULTS
        opts = take_options(options, defaults, where)
        num_threads, batch_size = threads_and_batch(num_envs, opts.pop("num_threads"), opts.pop("batch_size"),
                                                    where)
        self.check_actions = bool(opts.pop("check_actions"))
        atari = AtariOptions(**opts).validate(where)
        self._make_kwargs = {"num_envs": num_envs, "batch_size": batch_size, "num_threads": num_threads,
                             "autoreset_mode": "NextStep", **ale_kwargs(atari)}
        self._rom = rom_name(env_id)
        self.env_id, self.num_envs, self.batch_size, self.device = env_id, num_envs, batch_size, device
        self._seed = seed
        self._vec = AtariVectorEnv(self._rom, **self._make_kwargs)
        self.single_observation_space = self._vec.single_observation_space
        self.single_action_space = self._vec.single_action_space
        self.action_dtype = np.dtype(np.int32)
        self._paddle = np.ones(batch_size, dtype=np.float32)  # full strength: ale-py's own for discrete actions
        self._last_ids = np.arange(num_envs, dtype=np.int32)  # the envs of the last recv(), by position
        self._pending = None  # the first batch of an async reset, handed out by the next recv()
        self._setup(lives=True, life_rule=LIFE_LOSS_IN_TERMINATED if atari.episodic_life else NO_LIVES,
                    resets_on_done=False, clip=atari.reward_clip)

    def reset(self, seed: int | None = None) -> torch.Tensor | None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{self._where}: seed={seed!r}; expected an integer or None")
        if self.is_async and self._started:
            self._vec.close()
            self._vec = AtariVectorEnv(self._rom, **self._make_kwargs)
            seed = self._seed + self.num_envs if seed is None else seed
        elif not self._started and seed is None:
            seed = self._seed
        if seed is not None:
            self._seed = seed
        obs, info = self._vec.reset(seed=seed)
        self._mark_reset()
        self._last_ids = info["env_id"]
        if self.is_async:  # ale-py hands out the first batch now: keep it for recv()
            self._pending = (obs, info)
            return None
        return self._reset_obs(obs)

    def step(self, actions) -> Step:
        self._require_started("step")
        self._require_sync()
        actions = self._host_actions(actions, None)
        self._vec.ale.send(actions, self._paddle)
        obs, reward, terminated, truncated, info = self._vec.ale.recv()
        self._steps += 1
        return self._out(obs, reward, terminated, truncated, info, None)

    def send(self, actions, env_ids) -> None:
        self._require_started("send")
        ids = self._take_env_ids(env_ids)
        try:
            actions = self._host_actions(actions, ids)
            if ids is not self._last_ids and not np.array_equal(ids, self._last_ids):
                actions = actions[self._positions(ids)]
        except (TypeError, ValueError):
            self._unclaim(ids)
            raise
        self._vec.ale.send(actions, self._paddle)
        self._steps += 1

    def recv(self) -> AsyncStep:
        self._require_started("recv")
        if self._pending is not None:
            (obs, info), self._pending = self._pending, None
            n = len(obs)
            zeros = np.zeros(n, dtype=bool)
            out = (obs, np.zeros(n, dtype=np.int32), zeros, zeros.copy(), info)
        else:
            if self._num_in_flight < self.batch_size:  # ale-py would wait forever
                raise RuntimeError(f"{self._where}: recv() with {self._num_in_flight} env(s) stepping, fewer "
                                   f"than batch_size={self.batch_size}; send() actions for the last batch first")
            out = self._vec.ale.recv()
        env_ids = out[4]["env_id"]
        self._last_ids = env_ids
        return self._out(*out, env_ids)

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Row of ``ids`` for each env of the last recv(); refuses a different set of envs."""
        if not np.array_equal(np.sort(ids), np.sort(self._last_ids)):
            raise ValueError(f"{self._where}, step {self._steps}: ale-py steps the envs of the last recv() "
                             f"({self._last_ids.tolist()}); got env_ids {ids.tolist()}")
        rows = np.empty(self.num_envs, dtype=np.int64)
        rows[ids] = np.arange(len(ids))
        return rows[self._last_ids]

    def _out(self, obs, raw_reward, terminated, truncated, info, env_ids):
        return self._deliver(obs, raw_reward, terminated, truncated, raw_reward, terminated, info["lives"],
                             env_ids)

    @property
    def engine(self):
        """The engine below this adapter (ale-py's AtariVectorEnv), configured as this env is: the raw baseline of
        ``fastrl bench envs``, stepped with numpy actions and no wrapper."""
        return self._vec

    def close(self) -> None:
        self._vec.close()
