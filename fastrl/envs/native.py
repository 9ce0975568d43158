"""The ``native`` backend: games written in torch that live on the chosen device, all envs in one batch.

A game (``Catch``, ``CartPole``) owns its state and its batched step; ``NativeVecEnv`` adds what every game
shares and what ``base.VecEnv`` promises: action checks, seeding, next-step autoreset, the step counter in
error messages and the ``episode_*`` statistics in ``info``. Nothing in a step loops over envs in Python,
allocates a tensor the size of the batch, or syncs the device (except the optional action check, which
reads one bool; switch it off with ``check_actions=False``).

**Returned tensors are the env's own buffers.** Two sets are kept and used in turn, so the tensors from one
step stay valid through the next step (a learner may keep ``obs`` while it steps to ``next_obs``) and are
overwritten by the step after that. Copy them to keep them longer. Writing into them does not touch the
games' state.

**Randomness.** One ``torch.Generator`` on the env's device serves the whole batch; it is seeded with
``seed`` at construction and re-seeded by ``reset(seed=...)``. Each step draws a fresh start state for every
env, used or not (one batched draw costs less than a sync to find which envs restart), so a trajectory
depends only on the seed, ``num_envs``, the device and the actions: same seed, same batch, same actions ->
identical trajectories, and env i's randomness does not depend on when the other envs restart. The streams
of different envs come from disjoint positions of the generator's sequence (CPU: Mersenne Twister; CUDA:
Philox with per-element offsets), which is independent enough for a toy env's start states.
"""

from __future__ import annotations

import difflib
import inspect
import math

import numpy as np
import torch

from fastrl.devices import with_index
from fastrl.envs.base import Step, VecEnv, take_options, torch_dtype
from fastrl.envs.cartpole import CartPole
from fastrl.envs.catch import Catch
from fastrl.envs.checks import check_action_batch
from fastrl.envs.connect_four import ConnectFour
from fastrl.envs.minatar import MINATAR_ENVS

#: env id -> game class (its keyword-only ``__init__`` arguments are the env's options).
NATIVE_ENVS: dict[str, type] = {Catch.id: Catch, CartPole.id: CartPole, ConnectFour.id: ConnectFour, **MINATAR_ENVS}

#: options that every native env takes, beside its game's own, with their defaults.
COMMON_OPTIONS = {"check_actions": True}


def default_options(env_id: str) -> dict:
    """The options ``make_native`` accepts for ``env_id`` (the game's keyword-only arguments), with defaults."""
    params = inspect.signature(NATIVE_ENVS[env_id]).parameters.values()
    return {**COMMON_OPTIONS, **{p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}}


def make_native(env_id: str, num_envs: int, *, device: str | torch.device = "cpu", seed: int = 0,
                **options) -> VecEnv:
    """A ``NativeVecEnv`` of ``num_envs`` copies of ``env_id`` on ``device``.

    Options: ``check_actions`` (default True) and the game's own (Catch: ``rows``, ``columns``; CartPole:
    ``max_episode_steps``). Unknown ids and options raise ``ValueError`` listing the valid ones.
    """
    if env_id not in NATIVE_ENVS:
        close = difflib.get_close_matches(env_id, NATIVE_ENVS, n=3, cutoff=0.4)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown native env {env_id!r}{hint}; native envs: {', '.join(NATIVE_ENVS)}")
    options = take_options(options, default_options(env_id), f"{env_id} (native)")
    return NativeVecEnv(NATIVE_ENVS[env_id], num_envs, device=device, seed=seed, **options)


class _Outputs:
    """One step's worth of returned tensors, preallocated."""

    def __init__(self, game, num_envs: int, device: torch.device):
        space = game.single_observation_space
        self.obs = torch.zeros((num_envs, *space.shape), dtype=torch_dtype(space), device=device)
        self.reward = torch.zeros(num_envs, dtype=torch.float32, device=device)
        self.terminated = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self.truncated = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self.episode_end = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self.episode_return = torch.zeros(num_envs, dtype=torch.float32, device=device)
        self.episode_length = torch.zeros(num_envs, dtype=torch.int32, device=device)


class NativeVecEnv(VecEnv):
    """A ``VecEnv`` around one batched torch game (sync only: a whole batch steps in one call)."""

    backend = "native"

    def __init__(self, game_cls: type, num_envs: int, *, device: str | torch.device = "cpu", seed: int = 0,
                 check_actions: bool = True, **options):
        self.env_id = game_cls.id
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs <= 0:
            raise ValueError(f"{self.env_id} (native): num_envs={num_envs!r}; expected a positive integer")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"{self.env_id} (native): seed={seed!r}; expected an integer")
        self.device = _resolve_device(device, self.env_id)
        self.num_envs = self.batch_size = num_envs
        self.check_actions = bool(check_actions)
        self.game = game_cls(num_envs, self.device, **options)
        self.single_observation_space = self.game.single_observation_space
        self.single_action_space = self.game.single_action_space

        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._actions = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._restart = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # last step ended a game
        self._returns = torch.zeros(num_envs, dtype=torch.float32, device=self.device)
        self._lengths = torch.zeros(num_envs, dtype=torch.int32, device=self.device)
        self._outputs = (_Outputs(self.game, num_envs, self.device), _Outputs(self.game, num_envs, self.device))
        self._turn = 0
        self._steps = 0  # steps taken since the env was made; named in error messages
        self._was_reset = False

    def reset(self, seed: int | None = None) -> torch.Tensor:
        """Start a new episode in every env (re-seeding the generator first when ``seed`` is given)."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise TypeError(f"{self.env_id} (native): seed={seed!r}; expected an integer or None")
            self.generator.manual_seed(seed)
        out = self._next_outputs()
        self.game.reset(self.generator, out.obs)
        self._restart.zero_()
        self._returns.zero_()
        self._lengths.zero_()
        self._was_reset = True
        return out.obs

    def step(self, actions: torch.Tensor | np.ndarray) -> Step:
        if not self._was_reset:
            raise RuntimeError(f"{self.env_id} (native): step() before reset(); call reset() first")
        self._load_actions(actions)
        out = self._next_outputs()
        self.game.step(self._actions, self._restart, self.generator,
                       out.obs, out.reward, out.terminated, out.truncated)
        # Episode statistics: a restarting env's counters start again at its first observation (reward 0).
        self._returns.masked_fill_(self._restart, 0.0).add_(out.reward)
        self._lengths.add_(1).masked_fill_(self._restart, 0)
        torch.logical_or(out.terminated, out.truncated, out=out.episode_end)
        out.episode_return.copy_(self._returns)
        out.episode_length.copy_(self._lengths)
        self._restart.copy_(out.episode_end)
        self._steps += 1
        info = {"episode_end": out.episode_end, "episode_return": out.episode_return,
                "episode_length": out.episode_length}
        return Step(out.obs, out.reward, out.terminated, out.truncated, info)

    def state_dict(self) -> dict:
        """What a checkpoint needs to continue these envs exactly: every state tensor, the generator's state
        (a uint8 tensor) and the step counters."""
        return {"game": {k: v for k, v in vars(self.game).items() if isinstance(v, torch.Tensor)},
                "env": {k: v for k, v in vars(self).items() if isinstance(v, torch.Tensor)},
                "generator": self.generator.get_state(), "steps": self._steps, "was_reset": self._was_reset}

    def load_state_dict(self, state: dict) -> None:
        for owner, tensors in ((self.game, state["game"]), (self, state["env"])):
            for name, value in tensors.items():
                getattr(owner, name).copy_(value)
        self.generator.set_state(state["generator"])
        self._steps, self._was_reset = int(state["steps"]), bool(state["was_reset"])

    def _next_outputs(self) -> _Outputs:
        self._turn ^= 1
        return self._outputs[self._turn]

    def _load_actions(self, actions) -> None:
        """Check ``actions`` (unless switched off) and copy them into the int64 action buffer."""
        if not isinstance(actions, (torch.Tensor, np.ndarray)):
            raise TypeError(f"{self.env_id}, step {self._steps}: actions are a {type(actions).__name__}; "
                            f"expected a torch tensor or numpy array of {self.num_envs} integers")
        if self.check_actions:
            check_action_batch(actions, self.single_action_space, self.num_envs, None, self.env_id, self._steps)
        elif math.prod(actions.shape) != self.num_envs:
            raise ValueError(f"{self.env_id}, step {self._steps}: actions have shape {tuple(actions.shape)}, "
                             f"expected ({self.num_envs},)")
        if isinstance(actions, np.ndarray):
            actions = torch.from_numpy(np.ascontiguousarray(actions))
        self._actions.copy_(actions.reshape(self.num_envs))


def _resolve_device(device: str | torch.device, env_id: str) -> torch.device:
    """``device`` as a ``torch.device`` with an index for CUDA, so the generator and all tensors agree."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{env_id} (native): device {device} requested, but torch.cuda.is_available() "
                         f"is False here")
    return with_index(device)
