"""Sum tree on the CPU with numba: the reference's algorithms as compiled loops over numpy views.

Both loops run level by level across the whole batch (all draws one level down, then the next) rather
than one path at a time: the loads within a level are independent, so their cache misses overlap, where a
single root-to-leaf path is a chain of dependent misses. The descent is branch-free (a select, not an
unpredictable branch per level).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from fastrl.ops.sumtree.reference import Storage


@njit(cache=True, nogil=True)
def _update(nodes, capacity, leaf_offset, levels, indices, priorities):
    count = indices.shape[0]
    for k in range(count):  # validate everything before writing anything
        p = priorities[k]
        if indices[k] < 0 or indices[k] >= capacity or not (p >= 0.0) or p == np.inf:
            return k
    for k in range(count):  # in call order, so the last write of a repeated index wins
        node = leaf_offset + indices[k]
        p = np.float64(priorities[k])
        nodes[node, 0] = p
        nodes[node, 1] = p if p > 0.0 else np.inf
    for level in range(1, levels + 1):  # recompute touched parents from their children, bottom up
        width = leaf_offset >> level  # nodes on this level: [width, 2 * width)
        if width <= count:  # near the root the paths share nodes: redo the whole level, once each
            for parent in range(width, 2 * width):
                _recompute(nodes, parent)
        else:
            for k in range(count):
                _recompute(nodes, (leaf_offset + indices[k]) >> level)
    return count


@njit(inline="always")
def _recompute(nodes, parent):
    left = 2 * parent
    nodes[parent, 0] = nodes[left, 0] + nodes[left + 1, 0]
    nodes[parent, 1] = min(nodes[left, 1], nodes[left + 1, 1])


@njit(cache=True, nogil=True)
def _sample(nodes, leaf_offset, levels, uniforms, indices_out, priorities_out):
    batch = uniforms.shape[0]
    segment = nodes[1, 0] / batch
    node = indices_out      # working storage: the current node of each draw ...
    target = priorities_out  # ... and its remaining target mass; both overwritten with the results
    for b in range(batch):
        node[b] = 1
        target[b] = (b + uniforms[b]) * segment
    for _ in range(levels):
        for b in range(batch):
            left_child = 2 * node[b]
            left = nodes[left_child, 0]
            go_right = (target[b] >= left) & (nodes[left_child + 1, 0] > 0.0)
            target[b] -= left if go_right else 0.0
            node[b] = left_child + go_right
    for b in range(batch):
        priorities_out[b] = nodes[node[b], 0]
        indices_out[b] = node[b] - leaf_offset


def update(storage: Storage, indices: torch.Tensor, priorities: torch.Tensor) -> int:
    return _update(storage.host_nodes, storage.capacity, storage.leaf_offset, storage.levels,
                   indices.numpy(), priorities.numpy())


def sample(storage: Storage, uniforms: torch.Tensor, indices_out: torch.Tensor,
           priorities_out: torch.Tensor) -> None:
    _sample(storage.host_nodes, storage.leaf_offset, storage.levels, uniforms.numpy(),
            indices_out.numpy(), priorities_out.numpy())
