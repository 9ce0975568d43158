"""Frame stacks rebuilt at sample time from uint8 frames stored once (the Atari replay's observation path).

A replay buffer that stores every frame once needs, for each sampled index, the last ``stack`` frames up to
it, without ever mixing two episodes. ``frame_stack_gather`` does that in one pass: frames are copied with
wide (16-byte) loads where the frame size allows, and positions cut off by an episode start are zero-filled
without being read.

The mask contract: ``first_frame_mask[s]`` set means *the frame in slot s - 1 (mod capacity) must never be
stacked with the frame in slot s*. Walking back from the newest frame, a marked slot is the last one
included. A replay ring expresses every boundary through it:

- the first observation after a reset is marked (the episode boundary);
- the oldest slot the ring still holds is marked, because its predecessor in the ring is the newest frame,
  written long after it. One rule keeps this true: when writing slot ``h``, set ``mask[h]`` to whether the
  frame starts an episode and ``mask[(h + 1) % capacity] = True``. Before the ring is full that slot is
  unwritten and will be re-marked when it is written; after, it is the oldest frame, whose predecessor was
  just overwritten. A stack therefore never holds frames from both sides of an overwrite.

Backends: ``reference`` (torch, the specification and the CPU path), ``triton`` and ``cuda`` (CUDA C in
``kernels/frame_stack_gather.cu``). See ``fastrl.ops._registry`` for how one is chosen.
"""

from __future__ import annotations

import torch

from fastrl.ops import _registry

OP = "frame_stack_gather"

_registry.declare(
    OP,
    {
        "reference": "fastrl.ops.frame_stack_gather.reference",
        "triton": "fastrl.ops.frame_stack_gather.triton",
        "cuda": "fastrl.ops.frame_stack_gather.cuda",
    },
    cpu_order=("reference",),
    cuda_order=("cuda", "triton", "reference"),
)


def frame_stack_gather(frames: torch.Tensor, indices: torch.Tensor, first_frame_mask: torch.Tensor,
                       stack: int = 4, out: torch.Tensor | None = None, backend: str | None = None,
                       check_indices: bool = True) -> torch.Tensor:
    """The frame stacks ending at ``indices``: uint8 [B, stack, H, W], oldest frame first.

    Args:
        frames: uint8 [capacity, H, W], contiguous: the ring of frames, each stored once.
        indices: int64 [B]: the slot of each stack's newest frame, in ``[0, capacity)``.
        first_frame_mask: bool or uint8 [capacity]: nonzero where a slot's predecessor must not be stacked
            with it (see the module docstring for the contract).
        stack: frames per stack (1 <= stack <= capacity).
        out: optional contiguous uint8 [B, stack, H, W] to write into (and return), so that a hot loop
            allocates nothing.
        backend: force a backend (``reference``, ``triton``, ``cuda``); never falls back silently.
        check_indices: verify that every index lies in ``[0, capacity)``. The check is a min/max over the
            indices, which waits for the device on CUDA; a caller that draws the indices itself (the replay
            sampler) can turn it off. Unchecked, an out-of-range index names the slot it is congruent to.
    """
    starts = _validate(frames, indices, first_frame_mask, stack, out, check_indices)
    impl = _registry.dispatch(OP, "frame_stack_gather", frames.device, backend)
    if out is None:
        out = torch.empty((indices.shape[0], stack, *frames.shape[1:]), dtype=torch.uint8, device=frames.device)
    if indices.shape[0] == 0:
        return out
    return impl(frames, indices, starts, stack, out)


def _validate(frames, indices, first_frame_mask, stack, out, check_indices) -> torch.Tensor:
    """Check every argument; return the mask as a uint8 view (what the kernels read)."""
    for name, t in (("frames", frames), ("indices", indices), ("first_frame_mask", first_frame_mask)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{OP}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if frames.dtype != torch.uint8:
        raise TypeError(f"{OP}: frames have dtype {frames.dtype}, expected torch.uint8")
    if frames.dim() != 3 or frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"{OP}: frames have shape {tuple(frames.shape)}, expected [capacity, H, W] "
                         f"with every size >= 1")
    if not frames.is_contiguous():
        raise ValueError(f"{OP}: frames (shape {tuple(frames.shape)}, strides {frames.stride()}) must be "
                         f"contiguous; copying the ring on every call would defeat storing frames once")
    capacity = frames.shape[0]
    if isinstance(stack, bool) or not isinstance(stack, int) or not 1 <= stack <= capacity:
        raise ValueError(f"{OP}: stack={stack!r}, expected an int in [1, capacity={capacity}]")
    if indices.dtype != torch.int64 or indices.dim() != 1:
        raise TypeError(f"{OP}: indices have dtype {indices.dtype} and shape {tuple(indices.shape)}, "
                        f"expected int64 [B]")
    if first_frame_mask.dtype not in (torch.bool, torch.uint8) or tuple(first_frame_mask.shape) != (capacity,):
        raise ValueError(f"{OP}: first_frame_mask has dtype {first_frame_mask.dtype} and shape "
                         f"{tuple(first_frame_mask.shape)}, expected bool or uint8 [capacity={capacity}]")
    if not first_frame_mask.is_contiguous():
        raise ValueError(f"{OP}: first_frame_mask must be contiguous (stride {first_frame_mask.stride()})")
    for name, t in (("indices", indices), ("first_frame_mask", first_frame_mask), ("out", out)):
        if t is not None and t.device != frames.device:
            raise ValueError(f"{OP}: {name} is on {t.device}, frames on {frames.device}; expected one device")
    if out is not None:
        want = (indices.shape[0], stack, *frames.shape[1:])
        if out.dtype != torch.uint8 or tuple(out.shape) != want or not out.is_contiguous():
            raise ValueError(f"{OP}: out has dtype {out.dtype}, shape {tuple(out.shape)} (contiguous: "
                             f"{out.is_contiguous()}), expected a contiguous uint8 tensor of shape {want}")
    if check_indices and indices.numel():
        low, high = torch.stack(torch.aminmax(indices)).tolist()  # one device sync for both
        if low < 0 or high >= capacity:
            bad = ((indices < 0) | (indices >= capacity)).nonzero()[0, 0].item()
            raise IndexError(f"{OP}: indices[{bad}] = {indices[bad].item()} is outside the ring "
                             f"[0, capacity={capacity})")
    return first_frame_mask.view(torch.uint8) if first_frame_mask.dtype == torch.bool else first_frame_mask
