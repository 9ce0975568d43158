"""The one batched environment interface: ``VecEnv``, on torch tensors, sync and async.

Conventions (shared by every backend, so a learner is written once):

- ``reset() -> obs`` and ``step(actions) -> (obs, reward, terminated, truncated, info)`` act on all
  ``num_envs`` envs. Async backends also offer ``send(actions, env_ids)`` / ``recv() -> (obs, reward,
  terminated, truncated, env_ids, info)``, acting on ``batch_size`` envs at a time (``batch_size <
  num_envs``): the envs in ``env_ids`` step in the background while the caller works on another batch.
  In async mode ``reset()`` starts a reset of every env and returns None; each env's first observation
  then arrives through ``recv()`` like any other step (reward 0, both flags False), ``batch_size`` at a time.
  ``step()`` is for sync mode only; where a backend has ``send``/``recv`` (envpool, ale) they also work in
  sync mode, all envs in one batch.
- Tensors live on ``device``: ``obs`` keeps the observation space's dtype, except that float64 becomes
  float32 (uint8 frames stay uint8); ``reward`` float32; ``terminated`` and ``truncated`` bool; ``env_ids``
  int64. Actions are accepted as torch tensors (any device) or numpy arrays.
- **Returned tensors stay valid through the next step** (a learner may keep ``obs`` while it steps to
  ``next_obs``); an adapter may hand out its own preallocated buffers in turn (native envs, and every
  backend on CUDA), so copy a tensor to keep it longer. The host engines hand out their ``info`` dicts in
  turn too: read them, do not add to them.
- **Autoreset is next-step** (envpool's and gymnasium's default): after a step that returns
  ``terminated | truncated`` for env i, the *next* step of env i ignores its action and returns the first
  observation of a new episode, with reward 0 and both flags False. A learner that stores transitions skips
  the one that starts at a done step. One exception, from the engine: with ``episodic_life=True`` on the
  ``ale`` and ``gymnasium`` backends a life loss sets ``terminated`` but the game goes on, so the next step
  applies its action (envpool, instead, spends that step on its life-loss reset).
- ``info`` holds per-env episode statistics of the *full game*, also when episodic life is on:
  ``episode_end`` (bool: a full game ended at this step), ``episode_return`` (float32: its undiscounted,
  unclipped return) and ``episode_length`` (int32: its length in agent steps, autoreset steps not counted);
  the last two are valid where ``episode_end`` is True. Backends may add more keys (``lives`` for Atari).
"""

from __future__ import annotations

import difflib
import functools
import os
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import torch

from fastrl.envs._transfer import ToDevice, actions_to_host, numpy_dtype
from fastrl.envs.checks import check_action_batch


class Step(NamedTuple):
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict[str, Any]


class AsyncStep(NamedTuple):
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    env_ids: torch.Tensor
    info: dict[str, Any]


class VecEnv:
    """Base class of every backend adapter. Subclasses set the attributes below in ``__init__``."""

    env_id: str
    backend: str
    num_envs: int
    batch_size: int
    device: torch.device
    single_observation_space: gymnasium.Space
    single_action_space: gymnasium.Space
    #: where True (the default), actions are checked before they reach the engine; see envs.checks.
    check_actions: bool = True

    @property
    def is_async(self) -> bool:
        return self.batch_size < self.num_envs

    @property
    def observation_space(self) -> gymnasium.Space:
        return gymnasium.vector.utils.batch_space(self.single_observation_space, self.num_envs)

    @property
    def action_space(self) -> gymnasium.Space:
        return gymnasium.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def reset(self, seed: int | None = None) -> torch.Tensor | None:
        """Start a new episode in every env; ``seed`` re-seeds (env i gets ``seed + i``), None goes on."""
        raise NotImplementedError

    def step(self, actions: torch.Tensor | np.ndarray) -> Step:
        raise NotImplementedError

    def send(self, actions: torch.Tensor | np.ndarray, env_ids: torch.Tensor | np.ndarray) -> None:
        raise NotImplementedError(
            f"{self.backend} backend for {self.env_id} has no async mode (send/recv); use step()")

    def recv(self) -> AsyncStep:
        raise NotImplementedError(
            f"{self.backend} backend for {self.env_id} has no async mode (send/recv); use step()")

    def close(self) -> None:
        self._closed = True

    def __init_subclass__(cls, **kwargs):
        """Every backend's ``reset``/``step``/``send``/``recv`` refuse a closed env (the engines would crash or
        go on silently), and its ``close`` runs once however often it is called."""
        super().__init_subclass__(**kwargs)
        for name in ("reset", "step", "send", "recv"):
            if name in cls.__dict__:
                setattr(cls, name, _refuse_when_closed(cls.__dict__[name]))
        if "close" in cls.__dict__:
            cls.close = _close_once(cls.__dict__["close"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        mode = f"async batch {self.batch_size}" if self.is_async else "sync"
        return f"{type(self).__name__}({self.env_id!r}, num_envs={self.num_envs}, {mode}, device={self.device})"


def _refuse_when_closed(method):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if getattr(self, "_closed", False):
            raise RuntimeError(f"{self.backend} env {self.env_id}: {method.__name__}() after close()")
        return method(self, *args, **kwargs)

    return guarded


def _close_once(method):
    @functools.wraps(method)
    def close(self) -> None:
        if not getattr(self, "_closed", False):
            self._closed = True
            method(self)

    return close


def torch_dtype(space: gymnasium.Space) -> torch.dtype:
    """The tensor dtype for observations of ``space`` (float64 is delivered as float32)."""
    dtype = np.dtype(space.dtype)
    if dtype == np.float64:
        return torch.float32
    return torch.from_numpy(np.zeros((), dtype=dtype)).dtype


def cpu_cores() -> int:
    """Cores this process may run on (the default thread count of the C++ engines)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def take_options(options: dict[str, Any], defaults: dict[str, Any], where: str) -> dict[str, Any]:
    """``defaults`` updated with ``options``; an unknown name raises ``ValueError`` listing the valid ones."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
            name, defaults, n=1)) else repr(name) for name in unknown]
        raise ValueError(f"{where}: unknown option(s) {', '.join(hints)}; valid options: "
                         f"{', '.join(sorted(defaults))}")
    return {**defaults, **options}


def threads_and_batch(num_envs: int, num_threads: int | None, batch_size: int | None,
                      where: str) -> tuple[int, int]:
    """Resolve the C++ engines' ``num_threads`` (default: one per env, at most one per core) and
    ``batch_size`` (default ``num_envs``: sync), raising ``ValueError`` on values they would misuse."""
    num_threads = min(num_envs, cpu_cores()) if num_threads is None else num_threads
    batch_size = num_envs if batch_size is None else batch_size
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"{where}: num_threads={num_threads!r}; expected a positive integer")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= num_envs:
        raise ValueError(f"{where}: batch_size={batch_size!r}; expected an integer in [1, num_envs={num_envs}] "
                         f"(batch_size < num_envs makes the env async)")
    return num_threads, batch_size


#: how an adapter learns of life losses, for ``episodic_life`` (see ``EpisodeTracker``)
NO_LIVES, LIFE_LOSS_IN_TERMINATED, LIFE_LOSS_ADDED = 0, 1, 2


class HostEngineVecEnv(VecEnv):
    """What the adapters over host engines (envpool, ale-py, gymnasium) share: the actions' way in (checks,
    conversion to the engine's dtype), the async bookkeeping of which envs are in flight, the step counter
    named in errors, and each step's way out (flags, full-game statistics, tensors on ``device``).

    A subclass sets the ``VecEnv`` attributes and ``action_dtype`` (the engine's), then calls ``_setup``.
    The hot path is a handful of calls: right after an engine step the caches are cold and each distinct
    torch or numpy call is costly next to the step, so checks, conversions and statistics run in compiled
    kernels: one for the actions, one for all the outputs of a step. ``fastrl bench envs`` measures what the
    interface costs beside the raw engine (profiles/*/envs.json).
    """

    action_dtype: np.dtype

    def _setup(self, *, lives: bool, life_rule: int = NO_LIVES, resets_on_done: bool = True,
               clip: bool = False) -> None:
        """``lives``: the engine reports Atari lives; ``life_rule``, ``resets_on_done``, ``clip``: see
        ``EpisodeTracker``."""
        self._where = f"{self.env_id} ({self.backend})"
        self._steps = 0  # step()/send() calls so far; named in error messages
        self._started = False  # reset() was called
        self._tracker = EpisodeTracker(self.num_envs, life_rule=life_rule, resets_on_done=resets_on_done,
                                       clip=clip)
        self._in_flight = np.zeros(self.num_envs, dtype=bool)  # sent and not yet received
        self._num_in_flight = 0
        self._recv_ids = (None, None)  # the env_ids tensor of the last recv() and its host array
        space = self.single_action_space
        self._discrete = isinstance(space, gymnasium.spaces.Discrete)
        if self._discrete:
            self._action_range = (int(space.start), int(space.start + space.n - 1))
        self._action_shape = tuple(space.shape)
        self._action_size = int(np.prod(self._action_shape, dtype=np.int64))
        self._action_buffers = [np.zeros((self.batch_size, *self._action_shape), dtype=self.action_dtype)
                                for _ in range(2)]  # used in turn: the one sent stays intact a step longer
        self._action_turn = 0
        obs_shape = tuple(self.single_observation_space.shape)
        self._obs_dtype = torch_dtype(self.single_observation_space)
        self._reset_out = ToDevice(self.device, {"obs": ((self.num_envs, *obs_shape), self._obs_dtype)})
        self._fields = {"obs": (obs_shape, self._obs_dtype), "reward": ((), torch.float32),
                        "terminated": ((), torch.bool), "truncated": ((), torch.bool),
                        "episode_end": ((), torch.bool), "episode_return": ((), torch.float32),
                        "episode_length": ((), torch.int32), "env_ids": ((), torch.int64)}
        self._has_lives = lives
        if lives:
            self._fields["lives"] = ((), torch.int32)
        self._step_out = self._recv_out = None  # made on first use: on CUDA each holds pinned buffers
        # the observations' dtype that the CPU slots hold: an engine array of it is handed over uncopied
        self._zero_copy_dtype = numpy_dtype(self._obs_dtype) if self.device.type == "cpu" else None

    def _outputs(self, n: int) -> ToDevice:
        return ToDevice(self.device, {name: ((n, *shape), dtype) for name, (shape, dtype) in self._fields.items()})

    # ---- actions in -------------------------------------------------------------------------------------

    def _host_actions(self, actions, env_ids: np.ndarray | None) -> np.ndarray:
        """Checked (unless ``check_actions`` is off) actions for ``env_ids``, in the engine's dtype, in one of
        two preallocated buffers. The shape and dtype are checked here, the values by a compiled kernel; the
        error itself comes from ``checks.check_action_batch``."""
        expected = self.num_envs if env_ids is None else len(env_ids)
        host = actions_to_host(actions, self._where)
        self._action_turn ^= 1
        out = self._action_buffers[self._action_turn]
        if not self.check_actions:
            if host.size != expected * self._action_size:  # the one check that keeps the engine's memory safe
                raise ValueError(f"{self._where}, step {self._steps}: actions have shape {host.shape}, expected "
                                 f"{(expected, *self._action_shape)}")
            np.copyto(out, host.reshape(out.shape), casting="unsafe")
            return out
        kind = host.dtype.kind
        if self._discrete:
            if host.shape == (expected, 1):
                host = host[:, 0]
            if host.shape == out.shape and kind in "iu":
                bad = _load_discrete_kernel()(host, out, *self._action_range)
            else:
                bad = 0  # the shape or dtype is wrong: let the full check say so
        elif host.shape == out.shape and kind == "f" and host.ndim == 2 and host.dtype.itemsize >= 4:
            bad = _load_box_kernel()(host, out)
        elif host.shape == out.shape and kind == "f":  # a Box of more than one axis: the numpy way
            bad = -1 if np.isfinite(host).all() else 0
            np.copyto(out, host, casting="unsafe")
        else:
            bad = 0
        if bad >= 0:
            check_action_batch(host, self.single_action_space, expected, env_ids, self._where, self._steps)
            raise AssertionError(f"{self._where}: the action kernel refused row {bad}, the check did not")
        return out

    def _take_env_ids(self, env_ids) -> np.ndarray:
        """``env_ids`` of a ``send``, after checking that each names an env that is not in flight."""
        if env_ids is self._recv_ids[0]:  # the tensor the last recv() returned: its host array is at hand
            ids = self._recv_ids[1]
        else:
            ids = actions_to_host(env_ids, self._where)
        if ids.shape != (self.batch_size,) or ids.dtype.kind not in "iu":
            raise ValueError(f"{self._where}, step {self._steps}: env_ids have shape {ids.shape} and dtype "
                             f"{ids.dtype}; expected {self.batch_size} integers (the env_ids of a recv())")
        status = _claim_kernel()(ids, self._in_flight)  # checks and marks in one compiled pass
        if status == _OUT_OF_RANGE:
            raise ValueError(f"{self._where}, step {self._steps}: env_ids {ids.tolist()} are out of range; "
                             f"expected integers in [0, {self.num_envs - 1}]")
        if status == _IN_FLIGHT:
            busy = ids[self._in_flight[ids]].tolist()
            raise ValueError(f"{self._where}, step {self._steps}: env(s) {busy} are still stepping (sent and not "
                             f"yet received); send actions only for the env_ids that recv() returned")
        if status == _REPEATED:
            raise ValueError(f"{self._where}, step {self._steps}: env_ids {ids.tolist()} repeat an env; "
                             f"expected each env once")
        self._num_in_flight += len(ids)
        return ids

    def _unclaim(self, env_ids: np.ndarray) -> None:
        """A refused ``send``: its envs are not in flight after all."""
        _release_kernel()(env_ids, self._in_flight)
        self._num_in_flight -= len(env_ids)

    def _require_started(self, call: str) -> None:
        if not self._started:
            raise RuntimeError(f"{self._where}: {call}() before reset(); call reset() first")

    def _require_sync(self) -> None:
        if self.is_async:
            raise RuntimeError(f"{self._where}: step() on an async env (batch_size={self.batch_size} < "
                               f"num_envs={self.num_envs}); use send(actions, env_ids) and recv()")

    def _mark_reset(self) -> None:
        """Bookkeeping of a ``reset()``: in async mode every env is now in flight, its first observation due."""
        self._started = True
        self._tracker.restart(first_step_is_reset=self.is_async)
        self._in_flight[:] = self.is_async
        self._num_in_flight = self.num_envs if self.is_async else 0

    # ---- outputs out ------------------------------------------------------------------------------------

    def _reset_obs(self, obs: np.ndarray) -> torch.Tensor:
        slot = self._reset_out.next()
        np.copyto(slot.host["obs"], obs, casting="same_kind")
        self._reset_out.ship(slot)
        return (slot.shipped if self._reset_out.elsewhere else slot.tensors)["obs"]

    def _deliver(self, obs, reward, terminated, truncated, raw_reward, game_flag, lives, env_ids):
        """The tensors of one step (``env_ids`` None: all envs in order): see ``EpisodeTracker.finish`` for
        ``raw_reward`` and ``game_flag``. Each slot's result (its tensors, the info dict) is built once, when
        the slot is made, and returned again each time the slot comes round: after an engine step every
        distinct Python-level call is slow (cold caches), so this path makes as few as it can."""
        if env_ids is None:
            out = self._step_out or self._make_outputs(False)
        else:
            out = self._recv_out or self._make_outputs(True)
        slot = out.next()
        # the engine's fresh array, handed over as it is (not `obs.dtype == None`: numpy reads None as float64)
        zero_copy = self._zero_copy_dtype is not None and obs.dtype == self._zero_copy_dtype
        if env_ids is None:
            self._tracker.finish(self._tracker.all_ids, obs, not zero_copy, reward, raw_reward, terminated,
                                 truncated, game_flag, lives, None, slot.host)
        else:  # these envs have landed: no longer in flight
            self._tracker.finish(env_ids, obs, not zero_copy, reward, raw_reward, terminated, truncated,
                                 game_flag, lives, self._in_flight, slot.host)
            self._num_in_flight -= len(env_ids)
        out.ship(slot)
        result = self._result(slot.shipped, env_ids is not None) if out.elsewhere else slot.result
        if env_ids is not None:
            self._recv_ids = (result.env_ids, env_ids)
        if zero_copy:
            return result._replace(obs=torch.from_numpy(obs))
        return result

    def _result(self, tensors: dict[str, torch.Tensor], with_env_ids: bool) -> Step | AsyncStep:
        info = {"episode_end": tensors["episode_end"], "episode_return": tensors["episode_return"],
                "episode_length": tensors["episode_length"]}
        if self._has_lives:
            info["lives"] = tensors["lives"]
        if with_env_ids:
            return AsyncStep(tensors["obs"], tensors["reward"], tensors["terminated"], tensors["truncated"],
                             tensors["env_ids"], info)
        return Step(tensors["obs"], tensors["reward"], tensors["terminated"], tensors["truncated"], info)

    def _make_outputs(self, with_env_ids: bool) -> ToDevice:
        out = self._outputs(self.batch_size if with_env_ids else self.num_envs)
        for slot in out.slots:
            slot.result = self._result(slot.tensors, with_env_ids)
        if with_env_ids:
            self._recv_out = out
        else:
            self._step_out = out
        return out


class EpisodeTracker:
    """Turns one step's engine arrays into the returned fields, with the full-game statistics.

    Per stepped env: the reward (clipped to [-1, 1] where ``clip``), the flags, the lives, and whether a full
    game ended (``episode_end``) with its return (of the raw, unclipped reward) and its length. Autoreset steps
    add nothing to the length (the agent's action is ignored there), and a game's counters start again at the
    step after it ended. How a game's end is told apart from a life loss (``life_rule``):

    - ``NO_LIVES``: ``game_flag`` marks a game's own end (envpool Atari: its ``info["terminated"]``, also
      with episodic life; else ``terminated``); truncation ends a game too.
    - ``LIFE_LOSS_IN_TERMINATED`` (ale-py's ``life_loss_info``): ``terminated`` also marks life losses; a life
      is lost where the lives drop and some remain (ale-py's own rule), and that is no game over.
    - ``LIFE_LOSS_ADDED`` (gymnasium): the engine knows no episodic life; a life loss found the same way is
      added to ``terminated`` here.

    ``resets_on_done``: the engine spends the step after any ``terminated | truncated`` on an autoreset
    (envpool); else only the step after a game over (ale-py, gymnasium: a life loss does not reset).
    One compiled call per step, writing straight into the output slot.
    """

    def __init__(self, num_envs: int, *, life_rule: int = NO_LIVES, resets_on_done: bool = True,
                 clip: bool = False):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.resetting = np.zeros(num_envs, dtype=np.bool_)  # the env's next step is an autoreset
        self.new_game = np.zeros(num_envs, dtype=np.bool_)  # the env's next step starts a new game
        self.lives = np.zeros(num_envs, dtype=np.int64)  # after each env's last step
        self.all_ids = np.arange(num_envs, dtype=np.int32)
        self.life_rule, self.resets_on_done, self.clip = life_rule, resets_on_done, clip
        self._no_lives = np.zeros(0, dtype=np.int32)
        self._none = np.zeros(0, dtype=np.bool_)
        self._kernel = _finish_kernel()

    def restart(self, first_step_is_reset: bool) -> None:
        """A ``reset()`` of every env. ``first_step_is_reset``: the reset observations will come through
        ``finish`` (async engines deliver them with ``recv``), so that step is not counted."""
        self.returns[:] = 0.0
        self.lengths[:] = 0
        self.resetting[:] = first_step_is_reset
        self.new_game[:] = False
        self.lives[:] = 0

    def finish(self, ids, obs, copy_obs, reward, raw_reward, terminated, truncated, game_flag, lives, in_flight,
               out) -> None:
        """Fill the output slot ``out`` (host arrays by field name) for the envs ``ids``; ``copy_obs``: the
        observations too (converted to the slot's dtype), else the caller hands ``obs`` over as it is;
        ``in_flight`` (async): the envs' in-flight marks, cleared here."""
        no_lives = lives is None
        self._kernel(ids, obs, out["obs"], copy_obs, self._none if in_flight is None else in_flight, reward,
                     raw_reward, terminated, truncated, game_flag,
                     self._no_lives if no_lives else lives, self.life_rule, self.resets_on_done, self.clip,
                     self.returns, self.lengths, self.resetting, self.new_game, self.lives,
                     out["reward"], out["terminated"], out["truncated"], out["episode_end"], out["episode_return"],
                     out["episode_length"], self._no_lives if no_lives else out["lives"], out["env_ids"])


# ---- compiled kernels (numba, compiled on first use and cached on disk) ---------------------------------------


def _finish(ids, obs, o_obs, copy_obs, in_flight, reward, raw_reward, terminated, truncated, game_flag, lives,
            life_rule, resets_on_done, clip, returns, lengths, resetting, new_game, last_lives,
            o_reward, o_terminated, o_truncated, o_end, o_return, o_length, o_lives, o_ids):
    """The body of ``EpisodeTracker.finish`` (``obs`` and ``o_obs`` are C-contiguous, of the same shape)."""
    if in_flight.shape[0] > 0:
        for row in range(ids.shape[0]):
            in_flight[ids[row]] = False
    if copy_obs:
        flat_in, flat_out = obs.ravel(), o_obs.reshape(-1)  # ravel: any layout
        for k in range(flat_in.shape[0]):
            flat_out[k] = flat_in[k]
    has_lives = lives.shape[0] > 0
    for row in range(ids.shape[0]):
        env = ids[row]
        term = terminated[row]
        trunc = truncated[row]
        if life_rule == NO_LIVES:
            over = game_flag[row] != 0 or trunc
        else:
            lost = lives[row] < last_lives[env] and lives[row] > 0
            if life_rule == LIFE_LOSS_IN_TERMINATED:
                over = (term and not lost) or trunc
            else:  # LIFE_LOSS_ADDED
                over = term or trunc
                term = term or lost
        if has_lives:
            last_lives[env] = lives[row]
            o_lives[row] = lives[row]
        r = reward[row]
        if clip:
            r = min(max(r, -1), 1)
        o_reward[row] = r
        o_terminated[row] = term
        o_truncated[row] = trunc
        o_ids[row] = env
        if new_game[env]:
            returns[env] = 0.0
            lengths[env] = 0
        returns[env] += raw_reward[row]
        if not resetting[env]:
            lengths[env] += 1
        resetting[env] = (term or trunc) if resets_on_done else over
        new_game[env] = over
        o_end[row] = over
        o_return[row] = returns[env]
        o_length[row] = lengths[env]


def _load_discrete(actions, out, low, high):
    """Copy integer actions into ``out``; the first row out of [low, high], or -1."""
    for row in range(actions.shape[0]):
        value = actions[row]
        if value < low or value > high:
            return row
        out[row] = value
    return -1


def _load_box(actions, out):
    """Copy (rows, dims) float actions into ``out``; the first row with a NaN or an inf, or -1."""
    for row in range(actions.shape[0]):
        for col in range(actions.shape[1]):
            value = actions[row, col]
            if not np.isfinite(value):
                return row
            out[row, col] = value
    return -1


_OUT_OF_RANGE, _IN_FLIGHT, _REPEATED = 1, 2, 3


def _claim(ids, in_flight):
    """Mark the envs ``ids`` of a ``send`` as in flight; 0 if all could be, else why not (nothing marked)."""
    n = in_flight.shape[0]
    for k in range(ids.shape[0]):
        if ids[k] < 0 or ids[k] >= n:
            return _OUT_OF_RANGE
        if in_flight[ids[k]]:
            return _IN_FLIGHT
    for k in range(ids.shape[0]):
        if in_flight[ids[k]]:  # marked a moment ago: the same env twice
            for j in range(k):
                in_flight[ids[j]] = False
            return _REPEATED
        in_flight[ids[k]] = True
    return 0


def _release(ids, in_flight):
    for k in range(ids.shape[0]):
        in_flight[ids[k]] = False


def _compiled(function):
    import numba  # imported on first use: the native backend, which needs none of this, stays light

    return numba.njit(cache=True, nogil=True)(function)


_finish_kernel = functools.cache(lambda: _compiled(_finish))
_load_discrete_kernel = functools.cache(lambda: _compiled(_load_discrete))
_load_box_kernel = functools.cache(lambda: _compiled(_load_box))
_claim_kernel = functools.cache(lambda: _compiled(_claim))
_release_kernel = functools.cache(lambda: _compiled(_release))
