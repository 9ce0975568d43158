"""Action checks that run before anything reaches an engine.

envpool does not bound-check Atari actions (an out-of-range index reads past its action table and can kill
the process), and a NaN torque silently poisons a MuJoCo state. Every adapter runs these checks on the actions
it is given, unless it was made with ``check_actions=False``. Errors name the env, the step, the value and
what was expected.

Costs: one min/max (or isfinite) reduction over the batch; ``bench envs`` measures it against the step time.
"""

from __future__ import annotations

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
    is_tensor = isinstance(actions, torch.Tensor)
    shape = tuple(actions.shape)
    where = _where(env_id, step)
    if isinstance(space, gymnasium.spaces.Discrete):
        want = (expected,)
        if shape != want and not (shape == (expected, 1)):
            raise ValueError(f"{where}: actions have shape {shape}, expected {want} "
                             f"(one integer per env, {space})")
        floating = actions.is_floating_point() if is_tensor else np.issubdtype(actions.dtype, np.floating)
        if floating or actions.dtype in (torch.bool, np.bool_):
            raise TypeError(f"{where}: actions have dtype {actions.dtype}, expected an integer dtype "
                            f"for {space}")
        lo, hi = int(space.start), int(space.start + space.n - 1)
        flat = actions.reshape(-1)
        if is_tensor:
            bad = (flat < lo) | (flat > hi)
            if bool(bad.any()):
                row = int(bad.nonzero()[0, 0])
                _raise_range(where, row, int(flat[row]), lo, hi, env_ids, space)
        else:
            if flat.size and (flat.min() < lo or flat.max() > hi):
                row = int(np.flatnonzero((flat < lo) | (flat > hi))[0])
                _raise_range(where, row, int(flat[row]), lo, hi, env_ids, space)
    elif isinstance(space, gymnasium.spaces.Box):
        want = (expected, *space.shape)
        if shape != want:
            raise ValueError(f"{where}: actions have shape {shape}, expected {want} ({space})")
        floating = actions.is_floating_point() if is_tensor else np.issubdtype(actions.dtype, np.floating)
        if not floating:
            raise TypeError(f"{where}: actions have dtype {actions.dtype}, expected a float dtype for {space}")
        finite = torch.isfinite(actions) if is_tensor else np.isfinite(actions)
        if not bool(finite.all()):
            bad = ~finite.reshape(expected, -1)
            rows = bad.any(dim=1).nonzero()[:, 0] if is_tensor else np.flatnonzero(bad.any(axis=1))
            row = int(rows[0])
            env = row if env_ids is None else int(env_ids[row])
            raise ValueError(f"{where}: action for env {env} is not finite: {actions[row].tolist()}; expected "
                             f"finite values (the env's bounds are low={space.low.tolist()}, "
                             f"high={space.high.tolist()})")
    else:
        raise TypeError(f"{where}: action space {space} is not supported by the action checks")


def _raise_range(where, row, value, lo, hi, env_ids, space):
    env = row if env_ids is None else int(env_ids[row])
    raise ValueError(f"{where}: action {value} for env {env} is out of range; expected an integer in "
                     f"[{lo}, {hi}] ({space})")
