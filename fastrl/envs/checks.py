"""Action checks that run before anything reaches an engine.

envpool does not bound-check Atari actions (an out-of-range index reads past its action table and can kill
the process), and a NaN torque silently poisons a MuJoCo state. Every adapter runs these checks on the actions
it is given, unless it was made with ``check_actions=False``. Errors name the env, the step, the value and
what was expected.

Costs: one reduction over the batch. The host-engine adapters check the values in the compiled pass that
also converts the actions to the engine's dtype (``base.HostEngineVecEnv``) and call ``check_action_batch``
only to word the error; the native envs call it on their tensors. ``bench envs --check-cost`` measures the
cost against the step time (``check_actions=False`` switches it off; profiles/*/envs.json, envs-native.json).
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch


def _where(env_id: str, step: int | None) -> str:
    return f"{env_id}" + (f", step {step}" if step is not None else "")


def check_action_batch(actions, space: gymnasium.Space, expected: int, env_ids, env_id: str,
                       step: int | None = None) -> None:
    """Validate a batch of actions (numpy array or torch tensor) for envs ``env_ids`` against ``space``.

    ``expected`` is the batch length; ``env_ids`` maps batch rows to env indices (None: row i is env i).
    Raises ``ValueError`` (``TypeError`` for a wrong dtype) saying what, where and what was expected.
    """
    if not isinstance(actions, torch.Tensor):
        _check_numpy(actions, space, expected, env_ids, env_id, step)
        return
    shape = tuple(actions.shape)
    where = _where(env_id, step)
    if isinstance(space, gymnasium.spaces.Discrete):
        want = (expected,)
        if shape != want and not (shape == (expected, 1)):
            raise ValueError(f"{where}: actions have shape {shape}, expected {want} "
                             f"(one integer per env, {space})")
        if actions.is_floating_point() or actions.is_complex() or actions.dtype == torch.bool:
            raise TypeError(f"{where}: actions have dtype {actions.dtype}, expected an integer dtype "
                            f"for {space}")
        lo, hi = int(space.start), int(space.start + space.n - 1)
        flat = actions.reshape(-1)
        bad = (flat < lo) | (flat > hi)
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            _raise_range(where, row, int(flat[row]), lo, hi, env_ids, space)
    elif isinstance(space, gymnasium.spaces.Box):
        want = (expected, *space.shape)
        if shape != want:
            raise ValueError(f"{where}: actions have shape {shape}, expected {want} ({space})")
        if not actions.is_floating_point():
            raise TypeError(f"{where}: actions have dtype {actions.dtype}, expected a float dtype for {space}")
        finite = torch.isfinite(actions)
        if not bool(finite.all()):
            rows = (~finite.reshape(expected, -1)).any(dim=1).nonzero()[:, 0]
            _raise_not_finite(where, int(rows[0]), actions, env_ids, space)
    else:
        raise TypeError(f"{where}: action space {space} is not supported by the action checks")


def _check_numpy(actions: np.ndarray, space, expected, env_ids, env_id, step) -> None:
    """The numpy path, on every step of the host engines: a few plain comparisons and one reduction."""
    shape = actions.shape
    kind = actions.dtype.kind
    if isinstance(space, gymnasium.spaces.Discrete):
        if shape != (expected,) and shape != (expected, 1):
            raise ValueError(f"{_where(env_id, step)}: actions have shape {shape}, expected {(expected,)} "
                             f"(one integer per env, {space})")
        if kind not in "iu":
            raise TypeError(f"{_where(env_id, step)}: actions have dtype {actions.dtype}, expected an integer "
                            f"dtype for {space}")
        lo, hi = int(space.start), int(space.start + space.n - 1)
        if lo == 0 and kind == "i":  # negatives wrap to huge unsigned values: one max() checks both ends
            bad = actions.view(actions.dtype.str.replace("i", "u")).max() > hi
        else:
            bad = actions.min() < lo or actions.max() > hi
        if bad:
            flat = actions.reshape(-1)
            row = int(np.flatnonzero((flat < lo) | (flat > hi))[0])
            _raise_range(_where(env_id, step), row, int(flat[row]), lo, hi, env_ids, space)
    elif isinstance(space, gymnasium.spaces.Box):
        if shape != (expected, *space.shape):
            raise ValueError(f"{_where(env_id, step)}: actions have shape {shape}, expected "
                             f"{(expected, *space.shape)} ({space})")
        if kind != "f":
            raise TypeError(f"{_where(env_id, step)}: actions have dtype {actions.dtype}, expected a float "
                            f"dtype for {space}")
        # A finite sum means finite entries; a sum that overflowed is told apart by the exact check.
        if not math.isfinite(actions.sum()):
            bad = ~np.isfinite(actions).reshape(expected, -1)
            rows = np.flatnonzero(bad.any(axis=1))
            if len(rows):
                _raise_not_finite(_where(env_id, step), int(rows[0]), actions, env_ids, space)
    else:
        raise TypeError(f"{_where(env_id, step)}: action space {space} is not supported by the action checks")


def _raise_not_finite(where, row, actions, env_ids, space):
    env = row if env_ids is None else int(env_ids[row])
    raise ValueError(f"{where}: action for env {env} is not finite: {actions[row].tolist()}; expected "
                     f"finite values (the env's bounds are low={space.low.tolist()}, "
                     f"high={space.high.tolist()})")


def _raise_range(where, row, value, lo, hi, env_ids, space):
    env = row if env_ids is None else int(env_ids[row])
    raise ValueError(f"{where}: action {value} for env {env} is out of range; expected an integer in "
                     f"[{lo}, {hi}] ({space})")
