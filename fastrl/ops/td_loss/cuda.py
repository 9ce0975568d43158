"""Fused TD loss in CUDA C (``kernels/td_loss.cu``): one launch, a few row lanes per sample, no atomics.

Tensors go to the kernel as raw device pointers (``data_ptr()``, None for null), which CuPy passes as 64-bit
values: DLPack conversions of eight tensors per call would add about as much again as the kernel takes at
B = 512 (``fastrl profile ops --op td_loss`` on a GPU times the kernel). Integer arguments are Python ints
(64-bit in the kernel), float arguments numpy.float32.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from fastrl.devices import cuda_index
from fastrl.ops import _cuda
from fastrl.ops.td_loss import run_fused

DTYPE_CODES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
#: Threads per block when the batch needs more than one block.
THREADS = 256
MAX_THREADS = 1024
#: A row's lanes each scan at most this many actions (fewer lanes per row: fewer shuffles).
ACTIONS_PER_LANE = 16


@functools.cache
def _kernel(device_index: int):
    return _cuda.kernel("td_loss", "td_loss_forward", torch.device("cuda", device_index))


def lanes_per_row(actions: int) -> int:
    """The smallest power of two (<= 32) of lanes such that each scans <= ACTIONS_PER_LANE actions."""
    lanes = 1
    while lanes < 32 and lanes * ACTIONS_PER_LANE < actions:
        lanes *= 2
    return lanes


def launch_shape(batch: int, lanes: int) -> tuple[int, int]:
    """(blocks, threads per block): one block, whole warps, when it holds the batch; else THREADS a block."""
    threads = batch * lanes
    if threads <= MAX_THREADS:
        return 1, max(32, (threads + 31) // 32 * 32)
    return _cuda.blocks(threads, THREADS), THREADS


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _vector(t: torch.Tensor | None) -> tuple:
    """(pointer, stride, dtype code) of a [B] input, or (None, 0, 0) when absent."""
    if t is None:
        return None, 0, 0
    return t.data_ptr(), t.stride(0), DTYPE_CODES[t.dtype]


def forward(q_taken, q_next_target, q_next_online, rewards, discounts, weights, *, double, loss, huber_kappa,
            reduction, need_grad):
    """(loss, abs_td, dloss/dq or None) in one kernel launch (plus a sum over partials for large B)."""
    batch, actions = q_next_target.shape
    device = q_taken.device
    lanes = lanes_per_row(actions)
    blocks, threads = launch_shape(batch, lanes)
    abs_td = torch.empty(batch, device=device, dtype=torch.float32)
    grad = torch.empty(batch, device=device, dtype=torch.float32) if need_grad else None
    per_sample = torch.empty(batch, device=device, dtype=torch.float32) if reduction == "none" else None
    partials = None
    if per_sample is None:
        partials = torch.empty((blocks,) if blocks > 1 else (), device=device, dtype=torch.float32)
    online = q_next_online if double else None
    args = (
        *_vector(q_taken),
        q_next_target.data_ptr(), q_next_target.stride(0), q_next_target.stride(1), DTYPE_CODES[q_next_target.dtype],
        _ptr(online), online.stride(0) if double else 0, online.stride(1) if double else 0,
        DTYPE_CODES[online.dtype] if double else 0,
        *_vector(rewards), *_vector(discounts), *_vector(weights),
        batch, actions, lanes, int(loss == "huber"),
        np.float32(huber_kappa), np.float32(1.0 / batch if reduction == "mean" else 1.0),
        abs_td.data_ptr(), _ptr(grad), _ptr(per_sample), _ptr(partials),
    )
    _cuda.launch(_kernel(cuda_index(device)), blocks, threads, args, device)
    if per_sample is not None:
        return per_sample, abs_td, grad
    return (partials.sum() if blocks > 1 else partials), abs_td, grad


def td_loss(q_taken, q_next_target, q_next_online, rewards, discounts, weights=None, *, double=True,
            loss="huber", huber_kappa=1.0, reduction="mean"):
    return run_fused(forward, q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                     double=double, loss=loss, huber_kappa=huber_kappa, reduction=reduction)
