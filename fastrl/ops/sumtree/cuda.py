"""Sum tree in CUDA C (``kernels/sumtree.cu``): a thin launcher.

Kernel arguments are device addresses (``data_ptr()``) and 64-bit integers rather than tensors: a round
launches two kernels, and converting each tensor argument through DLPack on every launch would cost more
host time than the kernels take on the device. The tensors all belong to the tree (or were checked to be on
its device by ``SumTree``), so the addresses are valid for the launch on torch's current stream.
"""

from __future__ import annotations

import functools

import torch

from fastrl.ops import _cuda
from fastrl.ops.sumtree.reference import Storage

#: Largest update done by a single block (one launch); above it, a grid launch per phase and per level.
ONE_BLOCK_MAX = 16384
_SAMPLE_THREADS = 128
_GRID_THREADS = 256
_SUFFIX = {torch.float32: "_f32", torch.float64: "_f64"}


@functools.cache
def _kernel(name: str, device: torch.device):
    return _cuda.kernel("sumtree", name, device)


def update(storage: Storage, indices: torch.Tensor, priorities: torch.Tensor) -> torch.Tensor:
    device = storage.nodes.device
    count = indices.numel()
    suffix = _SUFFIX[priorities.dtype]
    nodes, owner, verdict = storage.nodes.data_ptr(), storage.owner.data_ptr(), storage.verdict.data_ptr()
    idx, pri = indices.data_ptr(), priorities.data_ptr()
    if count <= ONE_BLOCK_MAX:
        threads = min(1024, max(32, -(-count // 32) * 32))
        _cuda.launch(_kernel("sumtree_update_block" + suffix, device), 1, threads,
                     (nodes, owner, verdict, idx, pri, count, storage.capacity, storage.leaf_offset,
                      storage.levels), device)
        return storage.verdict
    storage.verdict.fill_(count)
    grid = _cuda.blocks(count, _GRID_THREADS)
    _cuda.launch(_kernel("sumtree_claim" + suffix, device), grid, _GRID_THREADS,
                 (owner, verdict, idx, pri, count, storage.capacity), device)
    _cuda.launch(_kernel("sumtree_write_leaves" + suffix, device), grid, _GRID_THREADS,
                 (nodes, owner, verdict, idx, pri, count, storage.capacity, storage.leaf_offset), device)
    recompute = _kernel("sumtree_recompute_level", device)
    for level in range(1, storage.levels + 1):
        _cuda.launch(recompute, grid, _GRID_THREADS, (nodes, verdict, idx, count, storage.leaf_offset, level),
                     device)
    return storage.verdict


def sample(storage: Storage, uniforms: torch.Tensor, indices_out: torch.Tensor,
           priorities_out: torch.Tensor) -> None:
    device = storage.nodes.device
    batch = uniforms.numel()
    _cuda.launch(_kernel("sumtree_sample", device), _cuda.blocks(batch, _SAMPLE_THREADS), _SAMPLE_THREADS,
                 (storage.nodes.data_ptr(), uniforms.data_ptr(), indices_out.data_ptr(),
                  priorities_out.data_ptr(), batch, storage.leaf_offset, storage.levels), device)
