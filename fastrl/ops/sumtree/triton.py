"""Sum tree in Triton: a descent per lane for sampling, a level-by-level parent recompute for updates.

Update of K entries:

1. claim: each valid-looking entry atomically maxes ``k + 1`` into ``owner[index]``, so the last
   occurrence of a repeated index owns its leaf; the first invalid position is reduced into the verdict.
2. leaves: owners write their leaf (only if the whole call is valid) and reset their claim to 0 (a
   non-owner compares the claim with its own ``k + 1``, which neither the owner's value nor 0 equals, so
   the reset cannot confuse it).
3. levels: for each level bottom up, every entry recomputes the parent of its path from both children.
   Entries that share a parent store the same value (recomputing from children is idempotent), so
   concurrent writes need no atomics and nothing drifts.

Up to ``ONE_PROGRAM_MAX`` entries run in one program, the phases separated by barriers (one launch);
larger updates use a grid per phase and one launch per level.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fastrl.ops.sumtree.reference import Storage

#: Largest update done by a single program (one launch); above it, a launch per phase and level.
ONE_PROGRAM_MAX = 16384
_BLOCK = 1024
_SAMPLE_BLOCK = 128


@triton.jit
def _claim(owner_ptr, idx_ptr, pri_ptr, k, mask, K, capacity):
    """Claim the leaves of entries ``k``; return the first invalid position among them (K if none)."""
    index = tl.load(idx_ptr + k, mask=mask, other=0)
    priority = tl.load(pri_ptr + k, mask=mask, other=0.0).to(tl.float64)
    in_range = (index >= 0) & (index < capacity)
    valid = in_range & (priority >= 0.0) & (priority < float("inf"))
    tl.atomic_max(owner_ptr + index, (k + 1).to(tl.int32), mask=mask & in_range)
    return tl.min(tl.where(mask & ~valid, k, K), axis=0).to(tl.int64)


@triton.jit
def _write_leaves(nodes_ptr, owner_ptr, idx_ptr, pri_ptr, k, mask, capacity, leaf_offset, apply):
    index = tl.load(idx_ptr + k, mask=mask, other=0)
    in_range = mask & (index >= 0) & (index < capacity)
    claim = tl.load(owner_ptr + index, mask=in_range, other=0, volatile=True)
    owns = in_range & (claim == (k + 1).to(tl.int32))
    priority = tl.load(pri_ptr + k, mask=mask, other=0.0).to(tl.float64)
    row = 2 * (leaf_offset + index)
    write = tl.where(apply, owns, False)  # (not `owns & apply`: the interpreter mistypes vector & scalar)
    tl.store(nodes_ptr + row, priority, mask=write)
    tl.store(nodes_ptr + row + 1, tl.where(priority > 0.0, priority, float("inf")), mask=write)
    tl.store(owner_ptr + index, tl.zeros_like(claim), mask=owns)


@triton.jit
def _recompute_parents(nodes_ptr, idx_ptr, k, mask, leaf_offset, level):
    index = tl.load(idx_ptr + k, mask=mask, other=0)
    parent = (leaf_offset + index) >> level
    children = 4 * parent  # flat offset of (sum, min) of child 2 * parent, then of 2 * parent + 1
    left_sum = tl.load(nodes_ptr + children, mask=mask, other=0.0, volatile=True)
    left_min = tl.load(nodes_ptr + children + 1, mask=mask, other=0.0, volatile=True)
    right_sum = tl.load(nodes_ptr + children + 2, mask=mask, other=0.0, volatile=True)
    right_min = tl.load(nodes_ptr + children + 3, mask=mask, other=0.0, volatile=True)
    tl.store(nodes_ptr + 2 * parent, left_sum + right_sum, mask=mask)
    tl.store(nodes_ptr + 2 * parent + 1, tl.minimum(left_min, right_min), mask=mask)


# K is never specialized: Triton turns an int argument equal to 1 into a constant, which has no .to()
@triton.jit(do_not_specialize=["K"])
def _update_one_program(nodes_ptr, owner_ptr, verdict_ptr, idx_ptr, pri_ptr, K, capacity, leaf_offset,
                        levels, BLOCK: tl.constexpr):
    offsets = tl.arange(0, BLOCK)
    first_bad = K.to(tl.int64)
    for start in range(0, K, BLOCK):
        k = start + offsets
        first_bad = tl.minimum(first_bad, _claim(owner_ptr, idx_ptr, pri_ptr, k, k < K, K, capacity))
    tl.debug_barrier()
    apply = first_bad == K
    for start in range(0, K, BLOCK):
        k = start + offsets
        _write_leaves(nodes_ptr, owner_ptr, idx_ptr, pri_ptr, k, k < K, capacity, leaf_offset, apply)
    tl.debug_barrier()
    if apply:
        for level in range(1, levels + 1):
            for start in range(0, K, BLOCK):
                k = start + offsets
                _recompute_parents(nodes_ptr, idx_ptr, k, k < K, leaf_offset, level)
            tl.debug_barrier()
    tl.store(verdict_ptr, first_bad)


@triton.jit
def _claim_grid(nodes_ptr, owner_ptr, verdict_ptr, idx_ptr, pri_ptr, K, capacity, BLOCK: tl.constexpr):
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    first_bad = _claim(owner_ptr, idx_ptr, pri_ptr, k, k < K, K, capacity)
    tl.atomic_min(verdict_ptr, first_bad)


@triton.jit
def _write_leaves_grid(nodes_ptr, owner_ptr, verdict_ptr, idx_ptr, pri_ptr, K, capacity, leaf_offset,
                       BLOCK: tl.constexpr):
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    apply = tl.load(verdict_ptr) == K
    _write_leaves(nodes_ptr, owner_ptr, idx_ptr, pri_ptr, k, k < K, capacity, leaf_offset, apply)


@triton.jit
def _recompute_level_grid(nodes_ptr, verdict_ptr, idx_ptr, K, leaf_offset, level, BLOCK: tl.constexpr):
    if tl.load(verdict_ptr) == K:
        k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        _recompute_parents(nodes_ptr, idx_ptr, k, k < K, leaf_offset, level)


@triton.jit
def _sample_kernel(nodes_ptr, uniforms_ptr, indices_ptr, priorities_ptr, B, leaf_offset, levels,
                   BLOCK: tl.constexpr):
    b = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = b < B
    segment = tl.load(nodes_ptr + 2) / B  # the root's sum / B
    target = (b.to(tl.float64) + tl.load(uniforms_ptr + b, mask=mask, other=0.0)) * segment
    node = tl.full([BLOCK], 1, tl.int64)
    for _ in range(levels):
        left = tl.load(nodes_ptr + 4 * node, mask=mask, other=0.0)
        right = tl.load(nodes_ptr + 4 * node + 2, mask=mask, other=0.0)
        go_right = (target >= left) & (right > 0.0)
        target = tl.where(go_right, target - left, target)
        node = 2 * node + go_right.to(tl.int64)
    tl.store(indices_ptr + b, node - leaf_offset, mask=mask)
    tl.store(priorities_ptr + b, tl.load(nodes_ptr + 2 * node, mask=mask, other=0.0), mask=mask)


def update(storage: Storage, indices: torch.Tensor, priorities: torch.Tensor) -> torch.Tensor:
    count = indices.numel()
    nodes, owner, verdict = storage.nodes, storage.owner, storage.verdict
    if count <= ONE_PROGRAM_MAX:
        _update_one_program[(1,)](nodes, owner, verdict, indices, priorities, count, storage.capacity,
                                  storage.leaf_offset, storage.levels, BLOCK=_BLOCK, num_warps=8)
        return verdict
    verdict.fill_(count)
    grid = (triton.cdiv(count, _BLOCK),)
    _claim_grid[grid](nodes, owner, verdict, indices, priorities, count, storage.capacity, BLOCK=_BLOCK)
    _write_leaves_grid[grid](nodes, owner, verdict, indices, priorities, count, storage.capacity,
                             storage.leaf_offset, BLOCK=_BLOCK)
    for level in range(1, storage.levels + 1):
        _recompute_level_grid[grid](nodes, verdict, indices, count, storage.leaf_offset, level, BLOCK=_BLOCK)
    return verdict


def sample(storage: Storage, uniforms: torch.Tensor, indices_out: torch.Tensor,
           priorities_out: torch.Tensor) -> None:
    batch = uniforms.numel()
    # No fused multiply-add: the target's product must round as in the reference before the subtraction.
    _sample_kernel[(triton.cdiv(batch, _SAMPLE_BLOCK),)](
        storage.nodes, uniforms, indices_out, priorities_out, batch, storage.leaf_offset, storage.levels,
        BLOCK=_SAMPLE_BLOCK, enable_fp_fusion=False)
