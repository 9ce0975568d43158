"""frame_stack_gather in CUDA C (``kernels/frame_stack_gather.cu``), launched through CuPy on torch's stream.

The kernel comes in four load widths; the widest one that divides the frame size and both base addresses is
used (16 bytes for 84x84 frames), so odd frame sizes stay correct, only slower.
"""

from __future__ import annotations

import numpy as np
import torch

from fastrl.ops import _cuda

THREADS = 128
_WIDTHS = (16, 8, 4, 1)


def vector_width(frame_bytes: int, *tensors: torch.Tensor) -> int:
    """The widest load (bytes) that divides the frame size and every tensor's base address."""
    return next(w for w in _WIDTHS if frame_bytes % w == 0 and all(t.data_ptr() % w == 0 for t in tensors))


def frame_stack_gather(frames: torch.Tensor, indices: torch.Tensor, starts: torch.Tensor, stack: int,
                       out: torch.Tensor) -> torch.Tensor:
    capacity = frames.shape[0]
    frame_bytes = frames[0].numel()
    width = vector_width(frame_bytes, frames, out)
    fn = _cuda.kernel("frame_stack_gather", f"frame_stack_gather_v{width}", frames.device)
    args = (frames, indices, starts, out, np.int64(capacity), np.int32(stack), np.int64(frame_bytes // width))
    _cuda.launch(fn, indices.shape[0] * stack, THREADS, args, frames.device)
    return out
