"""Distributional (C51 / D4PG) target: project r + discount * z onto the fixed support z.

``categorical_projection(next_probs, rewards, discounts, (v_min, v_max, atoms))`` returns the [B, atoms]
float32 target distribution; ``reference.py`` defines it (Bellemare et al. 2017, Algorithm 1, with the mass
of a target landing exactly on an atom kept whole). It is a target: nothing is differentiated through it.

The fast backends (``triton``, ``cuda``) use the gather form, target atom j receives
sum_i p_i * max(0, 1 - |pos_i - j|): no atomics, the same bits on every run, one launch, one read of the
inputs. Inputs are checked for shape, device and dtype on every call (no device work); ``check_finite=True``
also checks values (a debugging aid that costs a device sync).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

from fastrl.ops import _registry

OP = "categorical_projection"
DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_SCALARS = (float, int)

_registry.declare(
    OP,
    {
        "reference": "fastrl.ops.categorical_projection.reference",
        "triton": "fastrl.ops.categorical_projection.triton",
        "cuda": "fastrl.ops.categorical_projection.cuda",
    },
    cpu_order=("reference",),
    cuda_order=("triton", "cuda", "reference"),
)


def categorical_projection(
    next_probs: torch.Tensor,
    rewards: torch.Tensor,
    discounts: torch.Tensor,
    support: tuple[float, float, int],
    *,
    check_finite: bool = False,
    backend: str | None = None,
) -> torch.Tensor:
    """Project the next-state distributions through the Bellman update onto the support.

    Args:
        next_probs: [B, atoms] probabilities of the next state's (chosen) return distribution.
        rewards: [B] (n-step) rewards.
        discounts: [B] gamma^n, 0 where the episode terminated (all mass then goes to the reward's atoms).
        support: (v_min, v_max, atoms): atoms evenly spaced values from v_min to v_max, v_min < v_max.
        check_finite: raise ValueError naming the first non-finite input element (costs a device sync).
        backend: "reference", "triton" or "cuda"; None chooses (see ``fastrl.ops._registry``).

    Returns:
        [B, atoms] float32 (inputs may be float32, bfloat16 or float16; the arithmetic is float32). Each row
        sums to the row of ``next_probs`` (to 1 for distributions).
    """
    v_min, v_max, atoms = _check(next_probs, rewards, discounts, support)
    if check_finite:
        _check_finite(next_probs=next_probs, rewards=rewards, discounts=discounts)
    impl = _registry.dispatch(OP, "categorical_projection", next_probs.device, backend)
    return impl(next_probs, rewards, discounts, v_min, v_max, atoms)


def _check(next_probs, rewards, discounts, support) -> tuple[float, float, int]:
    """(v_min, v_max, atoms), or raise on bad input. This runs on every call, and at B = 512 the kernel takes
    microseconds (``fastrl profile ops --op categorical_projection`` times it), so a single pass of cheap
    tests (plain Python numbers; no ABC isinstance, which costs as much as many plain tests) accepts the
    usual inputs; anything else goes through ``_check_fully``, which accepts or says what is wrong."""
    try:
        v_min, v_max, atoms = support
        batch, device = next_probs.shape[0], next_probs.device
        vector = (batch,)
        ok = (type(v_min) in _SCALARS and type(v_max) in _SCALARS and -math.inf < v_min < v_max < math.inf
              and type(atoms) is int and atoms >= 2 and type(support) is tuple
              and next_probs.shape == (batch, atoms) and batch > 0 and next_probs.dtype in DTYPES
              and rewards.shape == vector and rewards.dtype in DTYPES and rewards.device == device
              and discounts.shape == vector and discounts.dtype in DTYPES and discounts.device == device)
    except (AttributeError, IndexError, TypeError, ValueError):
        ok = False
    if not ok:
        _check_fully(next_probs, rewards, discounts, support)
    return float(v_min), float(v_max), int(atoms)


def _check_fully(next_probs, rewards, discounts, support) -> None:
    """Every check, one at a time, raising the error that says what is wrong (for what ``_check`` refused)."""
    if not (isinstance(support, tuple | list) and len(support) == 3):
        raise TypeError(f"categorical_projection: support must be (v_min, v_max, atoms), got {support!r}")
    v_min, v_max, atoms = support
    if not (isinstance(v_min, Real) and isinstance(v_max, Real) and math.isfinite(v_min)
            and math.isfinite(v_max) and v_min < v_max):
        raise ValueError(f"categorical_projection: support (v_min, v_max) = ({v_min!r}, {v_max!r}); expected "
                         "finite numbers with v_min < v_max")
    if not (isinstance(atoms, Integral) and atoms >= 2):
        raise ValueError(f"categorical_projection: support atoms = {atoms!r}; expected an integer >= 2")
    _check_tensor("next_probs", next_probs, 2)
    batch = next_probs.shape[0]
    if batch == 0:
        raise ValueError(f"categorical_projection: empty batch (next_probs has shape "
                         f"{tuple(next_probs.shape)}); expected at least one row")
    if next_probs.shape[1] != atoms:
        raise ValueError(f"categorical_projection: next_probs has shape {tuple(next_probs.shape)}; expected "
                         f"[B, atoms] = [{batch}, {atoms}] (atoms from support)")
    for name, t in (("rewards", rewards), ("discounts", discounts)):
        _check_tensor(name, t, 1)
        if t.shape[0] != batch:
            raise ValueError(f"categorical_projection: {name} has shape {tuple(t.shape)}; expected [B] = "
                             f"[{batch}] (B from next_probs)")
        if t.device != next_probs.device:
            raise ValueError(f"categorical_projection: {name} is on {t.device} but next_probs is on "
                             f"{next_probs.device}; expected all inputs on one device")


def _check_tensor(name: str, t, dim: int) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"categorical_projection: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != dim:
        raise ValueError(f"categorical_projection: {name} has shape {tuple(t.shape)}; expected {dim} "
                         "dimension(s)")
    if t.dtype not in DTYPES:
        raise TypeError(f"categorical_projection: {name} has dtype {t.dtype}; expected one of float32, "
                        "bfloat16, float16 (the arithmetic is float32)")


def _check_finite(**named: torch.Tensor) -> None:
    for name, t in named.items():
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            index = where[0] if len(where) == 1 else where
            raise ValueError(f"categorical_projection: {name}[{index}] is {t[where].item()}; expected "
                             "finite values (check_finite=True)")
