"""Sum tree on the CPU with numba: the reference's algorithms as compiled loops over numpy views.

Both loops run level by level across the whole batch (all draws one level down, then the next) rather
than one path at a time: the loads within a level are independent, so their cache misses overlap, where a
single root-to-leaf path is a chain of dependent misses. The descent is branch-free (a select, not an
unpredictable branch per level).

A node's children sit side by side, so the line that holds node n's grandchildren (rows 4n..4n+3, 64
bytes) is the one the next level reads whichever child is taken. The descent prefetches it while it reads
n's children: the next level's misses are under way while this level is computed, instead of each level
waiting for its own (it pays on a tree far larger than the caches: profiles/*/design-measurements.md;
``fastrl profile ops --op sumtree`` measures the round, recorded in ``profiles/*/ops.json``).

The kernels index a flat view of the ``[2P, 2]`` nodes (node n's sum at ``2n``, its min at ``2n + 1``): an
address from the node number alone, without the 2-d view's runtime strides.

``update_nodes`` and ``sample_nodes`` are the public numba entry points: compiled functions over a tree's
arrays (``SumTree.storage``), which other numba code calls directly, as the replay's fused kernels do
(``replay.priorities.update_tree``, ``replay.cpu.sample_prioritized``). ``update`` and ``sample`` below are
the backend interface ``SumTree`` dispatches to (``reference.py``).
"""

from __future__ import annotations

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from fastrl.ops.sumtree.reference import Storage


@intrinsic
def _prefetch(typingctx, flat, at):
    """Hint the CPU to bring in the cache line of ``flat[at]`` (LLVM's prefetch intrinsic: for a read, to
    every cache level). numba offers no prefetch of its own; the intrinsic's name is mangled by llvmlite
    for the LLVM it was built with."""
    sig = types.void(flat, at)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        address = builder.bitcast(builder.gep(array.data, [args[1]]), cgutils.voidptr_t)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        prefetch = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(prefetch, [address, i32(0), i32(3), i32(1)])  # read, highest locality, data cache
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def update_nodes(nodes, capacity, leaf_offset, levels, indices, priorities):
    """Set leaf ``indices[k]`` to ``priorities[k]`` (the last of a repeated index wins) and recompute the
    touched inner nodes. Returns the first invalid entry (index outside [0, capacity), priority negative,
    NaN or infinite), or len(indices) when all are valid; nothing is written when one is invalid."""
    flat = nodes.reshape(-1)
    count = indices.shape[0]
    for k in range(count):  # validate everything before writing anything
        p = priorities[k]
        if indices[k] < 0 or indices[k] >= capacity or not (p >= 0.0) or p == np.inf:
            return k
    for k in range(count):  # in call order, so the last write of a repeated index wins
        at = 2 * (leaf_offset + indices[k])
        p = np.float64(priorities[k])
        flat[at] = p
        flat[at + 1] = p if p > 0.0 else np.inf
    for level in range(1, levels + 1):  # recompute touched parents from their children, bottom up
        width = leaf_offset >> level  # nodes on this level: [width, 2 * width)
        if width <= count:  # near the root the paths share nodes: redo the whole level, once each
            for parent in range(width, 2 * width):
                _recompute(flat, parent)
        else:
            for k in range(count):
                _recompute(flat, (leaf_offset + indices[k]) >> level)
    return count


@njit(inline="always")
def _recompute(flat, parent):
    """Node ``parent``'s (sum, min) from its children's, which sit side by side at ``4 * parent``."""
    at = 4 * parent
    left_min, right_min = flat[at + 1], flat[at + 3]
    flat[2 * parent] = flat[at] + flat[at + 2]
    flat[2 * parent + 1] = min(left_min, right_min)


@njit(cache=True, nogil=True)
def sample_nodes(nodes, leaf_offset, levels, uniforms, indices_out, priorities_out):
    """The stratified descent for uniforms r [B]: draw b's leaf and its priority into ``indices_out[b]`` and
    ``priorities_out[b]`` (both are the descent's working storage until then). Needs a positive total."""
    flat = nodes.reshape(-1)
    batch = uniforms.shape[0]
    segment = flat[2] / batch  # the root's sum / batch
    node = indices_out      # working storage: the current node of each draw ...
    target = priorities_out  # ... and its remaining target mass; both overwritten with the results
    for b in range(batch):
        node[b] = 1
        target[b] = (b + uniforms[b]) * segment
    for level in range(levels):
        ahead = level + 1 < levels  # on the last level n's children are leaves: nothing below them
        for b in range(batch):
            n, t = node[b], target[b]
            at = 4 * n  # the children's (sum, min): [4n, 4n + 4)
            if ahead:
                _prefetch(flat, 2 * at)  # the grandchildren's: [8n, 8n + 8), one line (torch aligns to 64)
            left = flat[at]
            go_right = (t >= left) & (flat[at + 2] > 0.0)
            target[b] = t - left if go_right else t
            node[b] = 2 * n + go_right
    for b in range(batch):
        priorities_out[b] = flat[2 * node[b]]
        indices_out[b] = node[b] - leaf_offset


def update(storage: Storage, indices: torch.Tensor, priorities: torch.Tensor) -> int:
    return update_nodes(storage.host_nodes, storage.capacity, storage.leaf_offset, storage.levels,
                   indices.numpy(), priorities.numpy())


def sample(storage: Storage, uniforms: torch.Tensor, indices_out: torch.Tensor,
           priorities_out: torch.Tensor) -> None:
    sample_nodes(storage.host_nodes, storage.leaf_offset, storage.levels, uniforms.numpy(),
            indices_out.numpy(), priorities_out.numpy())
