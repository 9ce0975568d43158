"""frame_stack_gather in Triton: one program per (sample, stack position), one frame copied per program.

The frame is moved as one block of ``BLOCK`` bytes (the frame size rounded up to a power of two, 8192 for
84x84), so each thread moves several 16-byte vectors: Triton vectorizes because it specializes
``frame_bytes`` on divisibility by 16, which makes every row start provably aligned. A position cut off by an
episode start is written as zeros with its loads masked off, so it reads nothing.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

#: Largest block of bytes one program moves per step; bigger frames take several steps.
MAX_BLOCK = 8192


@triton.jit
def _frame_stack_gather_kernel(frames_ptr, indices_ptr, starts_ptr, out_ptr, capacity, frame_bytes,
                               STACK: tl.constexpr, BLOCK: tl.constexpr):
    position = tl.program_id(0).to(tl.int64)  # b * STACK + j, j = 0 the oldest
    b = position // STACK
    back = STACK - 1 - position % STACK  # steps back from the newest frame

    # Python's modulo, as the reference: no index can address memory outside the frames.
    newest = tl.load(indices_ptr + b) % capacity
    newest = tl.where(newest < 0, newest + capacity, newest)
    kept = back >= 0  # True, as a tensor
    for k in tl.static_range(STACK - 1):  # a mark on any newer position cuts this one off
        slot = newest - k
        slot = tl.where(slot < 0, slot + capacity, slot)
        start = tl.load(starts_ptr + slot, mask=k < back, other=0)
        kept = kept & (start == 0)
    slot = newest - back
    slot = tl.where(slot < 0, slot + capacity, slot)

    src = frames_ptr + slot * frame_bytes
    dst = out_ptr + position * frame_bytes
    for first in range(0, frame_bytes, BLOCK):
        offsets = first + tl.arange(0, BLOCK)
        inside = offsets < frame_bytes
        # where(), not `inside & kept`: Triton 3.9's interpreter turns a block & scalar int1 into int32/int64
        read = tl.where(inside, kept, False)
        values = tl.load(src + offsets, mask=read, other=0)
        tl.store(dst + offsets, values, mask=inside)


def frame_stack_gather(frames: torch.Tensor, indices: torch.Tensor, starts: torch.Tensor, stack: int,
                       out: torch.Tensor) -> torch.Tensor:
    frame_bytes = frames[0].numel()
    block = min(triton.next_power_of_2(frame_bytes), MAX_BLOCK)
    guard = torch.cuda.device(frames.device) if frames.device.type == "cuda" else contextlib.nullcontext()
    with guard:
        _frame_stack_gather_kernel[(indices.shape[0] * stack,)](
            frames, indices, starts, out, frames.shape[0], frame_bytes, STACK=stack, BLOCK=block)
    return out
