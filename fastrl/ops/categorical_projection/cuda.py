"""C51 / D4PG projection in CUDA C (``kernels/categorical_projection.cu``): a warp per row, gather form.

Tensors go to the kernel as raw device pointers (``data_ptr()``), which CuPy passes as 64-bit values; that
skips per-call DLPack conversions, which would cost about as much as the kernel at B = 512
(``fastrl profile ops --op categorical_projection`` on a GPU times the kernel). Integer arguments are Python
ints (64-bit in the kernel), float arguments numpy.float32.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from fastrl.devices import cuda_index
from fastrl.ops import _cuda

DTYPE_CODES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
THREADS = 256  # 8 warps, 8 rows a block


@functools.cache
def _kernel(device_index: int):
    return _cuda.kernel("categorical_projection", "categorical_projection_forward",
                        torch.device("cuda", device_index))


def categorical_projection(next_probs, rewards, discounts, v_min, v_max, atoms):
    batch = next_probs.shape[0]
    device = next_probs.device
    out = torch.empty(batch, atoms, device=device, dtype=torch.float32)
    args = (
        next_probs.data_ptr(), next_probs.stride(0), next_probs.stride(1), DTYPE_CODES[next_probs.dtype],
        rewards.data_ptr(), rewards.stride(0), DTYPE_CODES[rewards.dtype],
        discounts.data_ptr(), discounts.stride(0), DTYPE_CODES[discounts.dtype],
        batch, atoms, np.float32(v_min), np.float32((v_max - v_min) / (atoms - 1)), out.data_ptr(),
    )
    _cuda.launch(_kernel(cuda_index(device)), _cuda.blocks(batch * 32, THREADS), THREADS, args, device)
    return out
