"""The sum tree in plain torch: the specification every backend must reproduce bit for bit.

Layout (shared by every backend). ``P`` is the next power of two >= capacity and the tree is an implicit
binary heap of ``2P`` nodes: node 1 is the root, node ``n`` has children ``2n`` and ``2n + 1``, and leaf ``i``
is node ``P + i``. ``nodes`` is float64 ``[2P, 2]``: column 0 the sum of the priorities below a node, column
1 their minimum over the *positive* priorities (``inf`` where there are none). Keeping a node's sum and min
side by side puts both children of a node (4 doubles, 32 bytes) in one cache line / memory sector, so a
descent or a path update costs one miss per level for both trees. Leaves ``>= capacity`` stay 0 / inf.

Invariant: after every update, each inner node is exactly ``left + right`` (and ``min(left, right)``) of
its children as stored. Updates recompute touched parents from their children (idempotent) instead of
adding deltas (which drift in floating point), so all backends hold the same bits and the tree never
drifts from a rebuild of its leaves. Sums are float64: with float32 sums the round-off at segment ends
is large enough to send draws into zero-priority leaves.

Backend interface (this module, ``numba``, ``triton`` and ``cuda`` each provide):

- ``update(storage, indices, priorities) -> verdict``: indices int64 [K], priorities float32/float64 [K],
  both contiguous on the tree's device. The last occurrence of a duplicated index wins. If any entry is
  invalid (index outside [0, capacity), priority negative, NaN or infinite) the tree is left unchanged.
  The verdict is the position of the first invalid entry, or K when all are valid: an ``int``, or a
  one-element device tensor (GPU backends, so that reading it, which waits for the device, is the
  caller's choice).
- ``sample(storage, uniforms, indices_out, priorities_out)``: for uniforms r [B] in [0, 1), the stratified
  draw ``u_b = (b + r_b) * (total / B)`` descends from the root (left when ``u < left sum``, else right with
  ``u -= left sum``; never into a subtree whose sum is 0, which guards the round-off at segment ends), and
  writes the leaf index and its priority. Needs total > 0 (checked by the caller).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class Storage(NamedTuple):
    """The tensors and sizes of one sum tree (see the module docstring for the layout)."""

    nodes: torch.Tensor    #: float64 [2P, 2]: (sum, min over positive leaves) per node
    owner: torch.Tensor    #: int32 [capacity], all 0 between calls: GPU backends' "last write" claims
    verdict: torch.Tensor  #: int64 [1]: GPU backends' verdict of the last update
    capacity: int
    leaf_offset: int       #: P: leaf i is node P + i
    levels: int            #: log2(P): edges from the root to a leaf
    host_nodes: object     #: ``nodes.numpy()`` on the CPU (made once: numba calls skip re-wrapping), else None


def allocate(capacity: int, device: torch.device) -> Storage:
    """An empty tree (all priorities 0) for ``capacity`` leaves on ``device``."""
    leaf_offset = 1 << max(0, (capacity - 1).bit_length())
    nodes = torch.zeros(2 * leaf_offset, 2, dtype=torch.float64, device=device)
    nodes[:, 1] = math.inf
    owner = torch.zeros(capacity, dtype=torch.int32, device=device)
    verdict = torch.zeros(1, dtype=torch.int64, device=device)
    host_nodes = nodes.numpy() if nodes.device.type == "cpu" else None
    return Storage(nodes, owner, verdict, capacity, leaf_offset, leaf_offset.bit_length() - 1, host_nodes)


def first_invalid(capacity: int, indices: torch.Tensor, priorities: torch.Tensor) -> int:
    """The first position whose index or priority is invalid, or K when all are valid."""
    valid = (indices >= 0) & (indices < capacity) & (priorities >= 0) & (priorities < math.inf)
    bad = torch.nonzero(~valid)
    return int(bad[0, 0]) if bad.numel() else indices.numel()


def update(storage: Storage, indices: torch.Tensor, priorities: torch.Tensor) -> int:
    verdict = first_invalid(storage.capacity, indices, priorities)
    if verdict < indices.numel() or indices.numel() == 0:
        return verdict
    # The last write of each index wins: a stable sort keeps equal indices in call order, so the last
    # element of each run of equal indices is the last write.
    order = torch.argsort(indices, stable=True)
    ordered = indices[order]
    last_of_run = torch.ones_like(ordered, dtype=torch.bool)
    last_of_run[:-1] = ordered[1:] != ordered[:-1]
    leaves = ordered[last_of_run] + storage.leaf_offset        # sorted, unique
    values = priorities[order[last_of_run]].to(torch.float64)
    nodes = storage.nodes
    nodes[leaves, 0] = values
    nodes[leaves, 1] = torch.where(values > 0, values, math.inf)
    children = nodes.view(-1, 2, 2)  # children[q] = rows 2q, 2q + 1
    touched = leaves
    for _ in range(storage.levels):
        touched = torch.unique_consecutive(touched >> 1)
        pair = children[touched]
        nodes[touched, 0] = pair[:, 0, 0] + pair[:, 1, 0]
        nodes[touched, 1] = torch.minimum(pair[:, 0, 1], pair[:, 1, 1])
    return verdict


def sample(storage: Storage, uniforms: torch.Tensor, indices_out: torch.Tensor,
           priorities_out: torch.Tensor) -> None:
    batch = uniforms.numel()
    nodes = storage.nodes
    segment = nodes[1, 0] / batch
    u = (torch.arange(batch, dtype=torch.float64, device=uniforms.device) + uniforms) * segment
    node = torch.ones(batch, dtype=torch.int64, device=uniforms.device)
    children = nodes.view(-1, 2, 2)
    for _ in range(storage.levels):
        pair = children[node]
        left, right = pair[:, 0, 0], pair[:, 1, 0]
        go_right = (u >= left) & (right > 0)
        u = torch.where(go_right, u - left, u)
        node = 2 * node + go_right
    indices_out.copy_(node - storage.leaf_offset)
    priorities_out.copy_(nodes[node, 0])


def round_trip(storage: Storage, uniforms: torch.Tensor, new_priorities: torch.Tensor) -> torch.Tensor:
    """One prioritized-replay round: draw ``len(uniforms)`` leaves, then set their new priorities.

    The profile's reference for a round (what ``fastrl profile ops`` times against the backends).
    """
    indices = torch.empty(uniforms.numel(), dtype=torch.int64, device=uniforms.device)
    drawn = torch.empty(uniforms.numel(), dtype=torch.float64, device=uniforms.device)
    sample(storage, uniforms, indices, drawn)
    update(storage, indices, new_priorities)
    return indices
