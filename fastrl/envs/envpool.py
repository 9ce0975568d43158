"""The ``envpool`` backend: Atari, MuJoCo, classic control and the rest of envpool's C++ thread pool.

Sync (``batch_size == num_envs``: ``step``) or async (``batch_size < num_envs``: ``send``/``recv``, envpool's
own batching). Options: ``num_threads`` (default one per env, at most one per core), ``batch_size``,
``check_actions`` (default True), ``render_mode`` (default None; ``"rgb_array"``: the engine's ``render``
gives the full-colour frames, as ``fastrl eval --video`` records them), and for Atari the protocol options of
``fastrl.envs.atari``.

- envpool does not bound-check discrete actions: an out-of-range Atari action reads outside its action table
  (a huge one kills the process with SIGSEGV). ``check_actions`` stops them here.
- Continuous actions reach the engine as they are, also out of bounds (only NaN and inf are refused): MuJoCo
  clamps each control to its range in the dynamics, while the control cost in the reward sees the unclipped
  action, as in gymnasium. Clipping is the policy's business.
- envpool fixes its seeds when the pool is made (env i gets ``seed + i``) and cannot reset envs that are in
  flight, so ``reset(seed=s)`` (other than the first reset with make_env's seed), and any ``reset()`` of an
  async env after its first, makes a new pool (slow for Atari: every env is built anew); an async re-reset
  without a seed moves on to ``seed + num_envs``, so the envs do not replay their first episodes.
- Full-game statistics for Atari use envpool's raw reward (``info["reward"]``) and its game-over flag
  (``info["terminated"]``), so they hold with ``reward_clip`` and ``episodic_life``.
"""

from __future__ import annotations

import warnings

import envpool
import gymnasium
import torch

from fastrl.envs.atari import ATARI_DEFAULTS, AtariOptions, atari_game, envpool_kwargs
from fastrl.envs.base import AsyncStep, HostEngineVecEnv, Step, take_options, threads_and_batch


def envpool_ids() -> list[str]:
    return list(envpool.list_all_envs())


class EnvpoolVecEnv(HostEngineVecEnv):
    backend = "envpool"

    def __init__(self, env_id: str, num_envs: int, *, device: torch.device, seed: int = 0, **options):
        where = f"{env_id} (envpool)"
        self._atari = atari_game(env_id) is not None
        defaults = {"num_threads": None, "batch_size": None, "check_actions": True, "render_mode": None}
        if self._atari:
            defaults |= ATARI_DEFAULTS
        opts = take_options(options, defaults, where)
        num_threads, batch_size = threads_and_batch(num_envs, opts.pop("num_threads"), opts.pop("batch_size"),
                                                    where)
        self.check_actions = bool(opts.pop("check_actions"))
        self._make_kwargs = {"env_type": "gymnasium", "num_envs": num_envs, "batch_size": batch_size,
                             "num_threads": num_threads}
        render_mode = opts.pop("render_mode")
        if render_mode is not None:
            self._make_kwargs["render_mode"] = render_mode
        if self._atari:
            self._make_kwargs |= envpool_kwargs(AtariOptions(**opts).validate(where))
        self.env_id, self.num_envs, self.batch_size, self.device = env_id, num_envs, batch_size, device
        self._seed = seed
        self._pool = self._make_pool(seed)
        self.single_observation_space = self._pool.observation_space
        self.single_action_space = self._pool.action_space
        if not isinstance(self.single_action_space, (gymnasium.spaces.Discrete, gymnasium.spaces.Box)):
            raise ValueError(f"{where}: action space {self.single_action_space} is not supported "
                             f"(Discrete and Box are)")
        self.action_dtype = self._pool.spec.action_array_spec["action"].dtype
        self._setup(lives=self._atari)  # envpool resets after every done, a life loss too

    def _make_pool(self, seed: int):
        with warnings.catch_warnings():  # envpool's float64 bounds cast to a float32 Box: harmless, noisy
            warnings.filterwarnings("ignore", message=".*precision lowered by casting.*")
            pool = envpool.make(self.env_id, seed=seed, **self._make_kwargs)
            pool.observation_space, pool.action_space  # noqa: B018  (built, and cached, here)
        return pool

    def reset(self, seed: int | None = None) -> torch.Tensor | None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{self._where}: seed={seed!r}; expected an integer or None")
        if self.is_async and self._started and seed is None:
            seed = self._seed + self.num_envs
        if seed is not None and (self._started or seed != self._seed):  # a fresh pool is seeded already
            self._pool.close()
            self._pool = self._make_pool(seed)
            self._seed = seed
        self._mark_reset()
        if self.is_async:
            self._pool.async_reset()
            return None
        obs, _ = self._pool.reset()
        return self._reset_obs(obs)

    def step(self, actions) -> Step:
        self._require_started("step")
        self._require_sync()
        actions = self._host_actions(actions, None)
        obs, reward, terminated, truncated, info = self._pool.step(actions)
        self._steps += 1
        return self._out(obs, reward, terminated, truncated, info, None)

    def send(self, actions, env_ids) -> None:
        self._require_started("send")
        ids = self._take_env_ids(env_ids)
        try:
            actions = self._host_actions(actions, ids)
        except (TypeError, ValueError):
            self._unclaim(ids)
            raise
        self._pool.send(actions, ids)
        self._steps += 1

    def recv(self) -> AsyncStep:
        self._require_started("recv")
        if self._num_in_flight < self.batch_size:  # envpool would wait forever
            raise RuntimeError(f"{self._where}: recv() with {self._num_in_flight} env(s) stepping, fewer than "
                               f"batch_size={self.batch_size}; send() actions for the last batch first")
        obs, reward, terminated, truncated, info = self._pool.recv()
        env_ids = info["env_id"]
        return self._out(obs, reward, terminated, truncated, info, env_ids)

    def _out(self, obs, reward, terminated, truncated, info, env_ids):
        if self._atari:  # the game's own end, not a life loss; the raw reward, not the clipped one
            return self._deliver(obs, reward, terminated, truncated, info["reward"], info["terminated"],
                                 info["lives"], env_ids)
        return self._deliver(obs, reward, terminated, truncated, reward, terminated, None, env_ids)

    @property
    def engine(self):
        """The engine below this adapter (envpool's pool), configured as this env is: the raw baseline of
        ``fastrl bench envs``, stepped with numpy actions and no wrapper."""
        return self._pool

    def close(self) -> None:
        self._pool.close()
