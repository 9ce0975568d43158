"""frame_stack_gather in plain torch: the specification of the op.

Stack ``b`` ends at ring slot ``indices[b]`` and holds, oldest first, the frames of slots
``indices[b] - stack + 1 .. indices[b]`` (modulo ``capacity``). Walking back from the newest frame, a slot
whose ``first_frame_mask`` is set is the last one included: every older position is zero. So position ``j``
(0 = oldest, ``stack - 1`` = newest) is kept exactly when no *newer* position of the same stack is marked.

Kept positions read ``frames``; zeroed ones do not depend on it. Slots are computed with Python's modulo, so
an index outside ``[0, capacity)`` names the slot it is congruent to (the public op rejects such indices
unless told not to check; the kernels follow the same rule so that they never read outside ``frames``).
"""

from __future__ import annotations

import torch


def stack_slots(indices: torch.Tensor, capacity: int, stack: int) -> torch.Tensor:
    """[B, stack] int64: the ring slot of each stack position, oldest first."""
    back = torch.arange(stack - 1, -1, -1, device=indices.device, dtype=torch.int64)
    return torch.remainder(indices[:, None] - back, capacity)


def kept_positions(slots: torch.Tensor, first_frame_mask: torch.Tensor) -> torch.Tensor:
    """[B, stack] bool: True where a position holds its frame, False where it is zero-filled."""
    starts = first_frame_mask[slots].to(torch.int32)
    # starts at this position or newer, minus this position's own mark = marks strictly newer than it
    newer_starts = starts.flip(1).cumsum(1).flip(1) - starts
    return newer_starts == 0


def frame_stack_gather(frames: torch.Tensor, indices: torch.Tensor, first_frame_mask: torch.Tensor,
                       stack: int = 4, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 [B, stack, *frame_shape]: the stacks ending at ``indices`` (see the module docstring)."""
    capacity, frame_shape = frames.shape[0], frames.shape[1:]
    slots = stack_slots(indices, capacity, stack)
    kept = kept_positions(slots, first_frame_mask).view(-1, 1)
    # Rows of flat frames: on the CPU, index_select over [capacity, H, W] uint8 takes a far slower path than
    # over [capacity, H*W], and masked_fill_ with a broadcast mask is far slower than mul_ (the reference's
    # time: ``fastrl profile ops --op frame_stack_gather``, profiles/*/ops.json).
    rows = frames.reshape(capacity, -1)
    if out is None:
        return rows.index_select(0, slots.view(-1)).mul_(kept).view(indices.shape[0], stack, *frame_shape)
    torch.index_select(rows, 0, slots.view(-1), out=out.view(-1, rows.shape[1])).mul_(kept)
    return out
