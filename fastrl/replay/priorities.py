"""What a learner's TD error becomes: the priority rule of proportional prioritized replay, in one place.

Schaul et al. 2016, proportional variant: slot i is drawn with probability ``P(i) = p_i / sum_k p_k``, where

    p_i = (|delta_i| + eps) ** alpha    if slot i still holds a valid transition
    p_i = 0                             if it stopped being one since it was drawn (overwritten)
    max_p = max(max_p, p_i)             the running maximum of every priority set so far

``eps`` keeps a transition whose error is 0 drawable; ``alpha`` sets how much the error matters (0: uniform).
The buffer's own writes use the same rule's other half: a transition that becomes valid enters at ``max_p``
(its error is not known yet, so it is drawn soon), a slot that stops being valid goes to 0. A learner hands
the replay its errors (``ReplayBuffer.update_priorities``); nothing else turns them into priorities.

Two forms of the rule, held to the same values by ``tests/replay/test_priorities.py``:

- numba, on the CPU: ``priorities_from_td`` and ``entry_priorities`` write into arrays the caller
  preallocated, and ``update_tree`` is a whole update in one compiled call: the rule, the sum tree's own
  update (``ops.sumtree.numba.update_nodes``) and the running maximum raised. Every entry is checked (slot
  in range, error finite and >= 0) before anything is written; the first bad one is reported.
- torch, on any device (the form on CUDA): ``priorities_from_td_torch``, ``entry_priorities_torch`` and
  ``raise_max_torch`` launch asynchronously and read no device value; ``check_abs_td_torch`` is the check,
  a device sync on CUDA, which the caller may skip.

The two agree to the bit but for ``pow``: torch's vectorized one and libm's round differently in the last
place now and then (one ulp).

A slot repeated in one update: the sum tree keeps the last write (``ops.sumtree``), but the running maximum
is raised by every entry, so a priority that a later entry of the same call overwrites still raises it.
Kept on purpose. Within one batch a repeated slot is the same transition drawn twice and scored by the same
network, so its entries carry the same error and the question does not arise; the reference implementation
(OpenAI Baselines' ``PrioritizedReplayBuffer.update_priorities``) raises its maximum in the same loop that
writes the tree, as here; and finding the last write of each slot would cost a sort, or a scratch array as
large as the tree, on every update. Only a caller that passes different errors for one slot in one call
sees the difference: the maximum then remembers the larger.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from fastrl.ops.sumtree.numba import update_nodes


@njit(cache=True, nogil=True)
def priorities_from_td(slots, abs_td, valid, num_slots, eps, alpha, out):
    """out[k] = (abs_td[k] + eps) ** alpha, or 0 where slot k is no longer a valid transition.

    Returns (first k whose slot is outside [0, num_slots) or whose |TD| is negative or not finite, or
    len(slots) when none; the largest priority written). Nothing is written when an entry is bad.
    """
    count = slots.shape[0]
    for k in range(count):
        x = abs_td[k]
        if slots[k] < 0 or slots[k] >= num_slots or not (x >= 0.0) or x == np.inf:
            return k, 0.0
    largest = 0.0
    for k in range(count):
        p = (np.float64(abs_td[k]) + eps) ** alpha if valid[slots[k]] else 0.0
        out[k] = p
        largest = max(largest, p)
    return count, largest


@njit(cache=True, nogil=True)
def update_tree(nodes, capacity, leaf_offset, levels, slots, abs_td, valid, eps, alpha, max_priority, out):
    """A whole update in one call: ``priorities_from_td`` into ``out``, the sum tree's update (its numba
    backend's kernel, on the tree's arrays) and the running maximum ``max_priority[0]`` raised. Returns the
    first bad entry, or len(slots); nothing changes when an entry is bad."""
    bad, largest = priorities_from_td(slots, abs_td, valid, capacity, eps, alpha, out)
    if bad < slots.shape[0]:
        return bad
    update_nodes(nodes, capacity, leaf_offset, levels, slots, out)
    if largest > max_priority[0]:
        max_priority[0] = largest
    return bad


@njit(cache=True, nogil=True)
def entry_priorities(fresh, top, out):
    """out[k] = top where the slot became a valid transition, else 0 (it stopped being one)."""
    for k in range(fresh.shape[0]):
        out[k] = top if fresh[k] else 0.0


def priorities_from_td_torch(slots: torch.Tensor, abs_td: torch.Tensor, valid: torch.Tensor, eps: float,
                             alpha: float) -> torch.Tensor:
    """float64 (abs_td + eps) ** alpha, or 0 where ``valid[slots]`` is False (unchecked: see
    ``check_abs_td_torch``)."""
    priorities = torch.pow(abs_td.to(torch.float64) + eps, alpha)
    return torch.where(valid[slots], priorities, 0.0)


def entry_priorities_torch(fresh: torch.Tensor, max_priority: torch.Tensor) -> torch.Tensor:
    """``max_priority`` where the slot became a valid transition, else 0."""
    return torch.where(fresh, max_priority, 0.0)


def raise_max_torch(max_priority: torch.Tensor, priorities: torch.Tensor) -> None:
    """max_priority = max(max_priority, every priority of the update), in place."""
    if priorities.numel():
        torch.maximum(max_priority, priorities.max(), out=max_priority)


def check_abs_td_torch(slots: torch.Tensor, abs_td: torch.Tensor, num_slots: int) -> None:
    """Raise ``ValueError`` naming the first |TD| that is negative or not finite (reads the device)."""
    bad = ~torch.isfinite(abs_td) | (abs_td < 0)
    if bool(bad.any()):
        raise_bad_entry(int(torch.nonzero(bad)[0, 0]), slots, abs_td, num_slots)


def raise_bad_entry(k: int, slots: torch.Tensor, abs_td: torch.Tensor, num_slots: int):
    """Raise the ``ValueError`` for entry ``k``, the first bad one of an update (its slot or its |TD|)."""
    slot = int(slots[k])
    if not 0 <= slot < num_slots:
        raise ValueError(f"update_priorities: indices[{k}] = {slot} is not a slot of this buffer [0, {num_slots})")
    raise ValueError(f"update_priorities: abs_td[{k}] = {float(abs_td[k])} (for slot {slot}) must be finite and >= 0")
