"""``make_env``: one batched interface (``VecEnv``, see ``base``) over envpool, ale-py, gymnasium and native envs.

    env = make_env("Pong-v5", 16)                          # envpool, sync, standard Atari protocol
    env = make_env("Pong-v5", 16, batch_size=8)            # async: send(actions, env_ids) / recv()
    env = make_env("HalfCheetah-v5", 8, device="cuda")     # tensors on the GPU through pinned buffers
    env = make_env("Pong-v5", 8, backend="ale", episodic_life=True, reward_clip=True)
    env = make_env("Catch-v0", 4096, backend="native")     # torch env living on the device

``backend="auto"`` takes the native env where there is one (Catch-v0, CartPole-v1: batched in torch, on the
device, faster than any engine at many envs: profiles/*/envs-native.json), else envpool where envpool has the
id, else gymnasium's.
Options per backend are in each adapter's docstring (``envpool``, ``ale``, ``gymnasium``, ``native``); the
Atari ones (``atari.ATARI_DEFAULTS``) are named alike on every backend. Every error names the env, and for
actions the env index and the step.
"""

from __future__ import annotations

import difflib

import torch

from fastrl.envs import native
from fastrl.envs.atari import atari_game, atari_ids
from fastrl.envs.base import AsyncStep, Step, VecEnv

__all__ = ["BACKENDS", "AsyncStep", "Step", "VecEnv", "make_env"]

BACKENDS = ("auto", "envpool", "ale", "gymnasium", "native")


def make_env(env_id: str, num_envs: int, *, backend: str = "auto", device: str | torch.device = "cpu",
             seed: int = 0, **options) -> VecEnv:
    """``num_envs`` copies of ``env_id`` as one ``VecEnv`` on ``device``, seeded ``seed, seed + 1, ...``."""
    if not isinstance(env_id, str):
        raise TypeError(f"env_id={env_id!r}; expected a string such as 'Pong-v5'")
    if backend not in BACKENDS:
        raise ValueError(f"{env_id}: unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs <= 0:
        raise ValueError(f"{env_id}: num_envs={num_envs!r}; expected a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{env_id}: seed={seed!r}; expected an integer")
    device = _device(device, env_id)
    if backend == "auto":
        backend = _auto_backend(env_id)
    if backend == "native":
        return native.make_native(env_id, num_envs, device=device, seed=seed, **options)
    if backend == "envpool":
        from fastrl.envs.envpool import EnvpoolVecEnv, envpool_ids

        _known(env_id, "envpool", envpool_ids())
        return EnvpoolVecEnv(env_id, num_envs, device=device, seed=seed, **options)
    if backend == "ale":
        from fastrl.envs.ale import AleVecEnv

        if atari_game(env_id) is None:
            _unknown(env_id, "ale", atari_ids())
        return AleVecEnv(env_id, num_envs, device=device, seed=seed, **options)
    from fastrl.envs.gymnasium import GymnasiumVecEnv, gymnasium_ids

    if atari_game(env_id) is None:
        _known(env_id, "gymnasium", gymnasium_ids())
    return GymnasiumVecEnv(env_id, num_envs, device=device, seed=seed, **options)


def _auto_backend(env_id: str) -> str:
    from fastrl.envs.envpool import envpool_ids
    from fastrl.envs.gymnasium import gymnasium_ids

    if env_id in native.NATIVE_ENVS:
        return "native"
    if env_id in envpool_ids():
        return "envpool"
    if env_id in gymnasium_ids():
        return "gymnasium"
    known = [*native.NATIVE_ENVS, *envpool_ids(), *gymnasium_ids()]
    _unknown(env_id, "any backend", known)


def _known(env_id: str, backend: str, ids: list[str]) -> None:
    if env_id not in ids:
        _unknown(env_id, backend, ids)


def _unknown(env_id: str, backend: str, ids) -> None:
    """Raise ``ValueError`` naming the known ids closest to ``env_id`` (case-insensitive)."""
    by_lower = {}
    for known in ids:
        by_lower.setdefault(known.lower(), known)
    close = [by_lower[k] for k in difflib.get_close_matches(env_id.lower(), by_lower, n=5, cutoff=0.6)]
    hint = f"; closest known ids: {', '.join(close)}" if close else ""
    raise ValueError(f"unknown env id {env_id!r} for {backend}{hint}")


def _device(device: str | torch.device, env_id: str) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{env_id}: device={device!r} is not a torch device") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{env_id}: device {device} requested, but torch.cuda.is_available() is False here")
    return device
