"""Prioritized replay's sum tree: stratified sampling in proportion to priority, path-only updates.

``SumTree(capacity, device, backend)`` holds the tree on ``device`` (layout and exact semantics in
``reference.py``) and picks its backend once, at construction, through ``fastrl.ops._registry``:
numba on the CPU, the CUDA C kernels (then Triton) on a GPU, the torch reference where nothing faster
runs. Every call still goes through ``_registry.dispatch`` so that ``last_backend("sumtree")`` says what
ran.

Validation is one pass over the K entries that the backend's update makes anyway; it reports the first
invalid entry, and an update with any invalid entry changes nothing. ``check=False`` (for GPU hot loops)
skips only the raise, and with it the wait for the device that reading the verdict needs: the rejected
update is still not applied.
"""

from __future__ import annotations

import torch

from fastrl.devices import with_index
from fastrl.ops import _registry
from fastrl.ops.sumtree import reference

OP = "sumtree"

_registry.declare(
    OP,
    {
        "reference": "fastrl.ops.sumtree.reference",
        "numba": "fastrl.ops.sumtree.numba",
        "triton": "fastrl.ops.sumtree.triton",
        "cuda": "fastrl.ops.sumtree.cuda",
    },
    cpu_order=("numba", "reference"),
    cuda_order=("cuda", "triton", "reference"),
)

_KERNEL_PRIORITY_DTYPES = (torch.float32, torch.float64)
_MAX_UPDATE = 2**31 - 2  # GPU backends claim leaves with the int32 position k + 1


class SumTree:
    """A sum tree (and min tree) over ``capacity`` priorities, all 0 at first.

    - ``update(indices, priorities)`` sets leaves; the last write of a repeated index wins.
    - ``sample(batch)`` draws ``batch`` leaves with probability proportional to priority, one per stratum
      ``[b, b + 1) * total / batch``; leaves of priority 0 are never drawn.
    - ``total()`` is the sum of all priorities; ``min()`` the smallest *positive* priority (``inf`` when
      none is positive): the one that gives the largest importance weight among leaves that can be drawn.
    """

    def __init__(self, capacity: int, device: torch.device | str = "cpu", backend: str | None = None):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        device = with_index(device)
        self.capacity = capacity
        self.device = device
        self.backend = _registry.choose(OP, device, backend)
        #: the tree's tensors and sizes (``reference.Storage``): what numba code of other modules hands to
        #: ``numba.update_nodes`` / ``sample_nodes`` (where ``backend`` is numba)
        self.storage = reference.allocate(capacity, device)
        # 0-d views of the root's (sum, min): reading them later costs no indexing.
        self._total, self._min = self.storage.nodes[1, 0], self.storage.nodes[1, 1]
        self._uniforms = torch.empty(0, dtype=torch.float64, device=device)

    def __repr__(self) -> str:
        return f"SumTree(capacity={self.capacity}, device={str(self.device)!r}, backend={self.backend!r})"

    # ------------------------------------------------------------------ views
    @property
    def sums(self) -> torch.Tensor:
        """float64 [2P] view of every node's sum (node 1 the root, leaf i at node P + i)."""
        return self.storage.nodes[:, 0]

    @property
    def mins(self) -> torch.Tensor:
        """float64 [2P] view of every node's minimum positive priority below it (inf where none)."""
        return self.storage.nodes[:, 1]

    @property
    def leaf_offset(self) -> int:
        """P, the node number of leaf 0 (the next power of two >= capacity)."""
        return self.storage.leaf_offset

    def total(self) -> torch.Tensor:
        """The sum of all priorities, a float64 0-d tensor on the tree's device (a copy)."""
        return self._total.clone()

    def min(self) -> torch.Tensor:
        """The smallest positive priority (inf when none), a float64 0-d tensor on the tree's device."""
        return self._min.clone()

    def priorities(self, indices: torch.Tensor) -> torch.Tensor:
        """The current priorities (float64) of leaves ``indices``."""
        indices = self._checked_indices(indices)
        if indices.numel():
            low, high = (int(v) for v in torch.aminmax(indices))
            if low < 0 or high >= self.capacity:
                k = int(torch.nonzero((indices < 0) | (indices >= self.capacity))[0, 0])
                raise ValueError(f"indices[{k}] = {int(indices[k])} is outside [0, capacity={self.capacity})")
        return self.storage.nodes[indices + self.storage.leaf_offset, 0]

    # ------------------------------------------------------------------ update
    def update(self, indices: torch.Tensor, priorities: torch.Tensor, *, check: bool = True) -> None:
        """Set ``priorities[k]`` at leaf ``indices[k]`` for every k; the last of repeated indices wins.

        Raises ``ValueError`` naming the first entry whose index is outside [0, capacity) or whose
        priority is negative, NaN or infinite; the tree is then unchanged. ``check=False`` skips the raise
        (and, on CUDA, the device sync that reading the verdict takes); an invalid update is still dropped.
        """
        indices = self._checked_indices(indices)
        priorities = self._checked_priorities(priorities, indices.numel())
        if indices.numel() > _MAX_UPDATE:
            raise ValueError(f"at most {_MAX_UPDATE} entries per update, got {indices.numel()}")
        impl = _registry.dispatch(OP, "update", self.device, self.backend)
        verdict = impl(self.storage, indices, priorities)
        if check:
            bad = int(verdict)
            if bad < indices.numel():
                raise ValueError(_describe_invalid(bad, indices, priorities, self.capacity))

    # ------------------------------------------------------------------ sample
    def sample(self, batch: int, generator: torch.Generator | None = None, *,
               out: tuple[torch.Tensor, torch.Tensor] | None = None,
               check: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch`` leaves: (indices int64 [batch], priorities float64 [batch]).

        Stratified: draw b is uniform in ``[b, b + 1) * total / batch`` (random numbers from ``generator``,
        which must be on the tree's device), so a batch covers the whole range. ``out`` reuses caller
        buffers. Raises ``ValueError`` when the total is 0 (nothing to draw) unless ``check=False`` (which
        saves a device sync on CUDA; an empty tree then yields index 0 with priority 0).
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        uniforms = self._uniforms
        if uniforms.numel() != batch:  # the random numbers' buffer is reused while the batch size stays
            uniforms = self._uniforms = torch.empty(batch, dtype=torch.float64, device=self.device)
        uniforms.uniform_(generator=generator)
        return self._descend(uniforms, out, check)

    def sample_from_uniforms(self, uniforms: torch.Tensor, *,
                             out: tuple[torch.Tensor, torch.Tensor] | None = None,
                             check: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The stratified descent for given uniforms r [B] in [0, 1): draw b targets ``(b + r_b) * total / B``.

        ``sample`` is this with fresh random numbers; given the same uniforms every backend returns the
        same indices (the descent is exact float64 arithmetic in the same order everywhere).
        """
        if not isinstance(uniforms, torch.Tensor) or uniforms.dtype != torch.float64 or uniforms.dim() != 1:
            raise ValueError(f"uniforms must be a 1-d float64 tensor, got {_describe_tensor(uniforms)}")
        self._check_device("uniforms", uniforms)
        if uniforms.numel() < 1:
            raise ValueError("uniforms must hold at least one number")
        return self._descend(uniforms.contiguous(), out, check)

    def _descend(self, uniforms: torch.Tensor, out, check: bool) -> tuple[torch.Tensor, torch.Tensor]:
        batch = uniforms.numel()
        if check:
            total = float(self._total)
            if not total > 0:
                raise ValueError(f"cannot sample: the total priority is {total} (no leaf has a positive priority)")
        if out is None:
            indices = torch.empty(batch, dtype=torch.int64, device=self.device)
            drawn = torch.empty(batch, dtype=torch.float64, device=self.device)
        else:
            indices, drawn = out
            _check_out(indices, drawn, batch, self.device)
        impl = _registry.dispatch(OP, "sample", self.device, self.backend)
        impl(self.storage, uniforms, indices, drawn)
        return indices, drawn

    # ------------------------------------------------------------------ argument checks
    def _check_device(self, name: str, t: torch.Tensor) -> None:
        if t.device != self.device:
            raise ValueError(f"{name} is on {t.device}, the tree is on {self.device}")

    def _checked_indices(self, indices) -> torch.Tensor:
        if not isinstance(indices, torch.Tensor) or indices.dtype != torch.int64 or indices.dim() != 1:
            raise ValueError(f"indices must be a 1-d int64 tensor, got {_describe_tensor(indices)}")
        self._check_device("indices", indices)
        return indices.contiguous()

    def _checked_priorities(self, priorities, count: int) -> torch.Tensor:
        if (not isinstance(priorities, torch.Tensor) or not priorities.dtype.is_floating_point
                or priorities.dim() != 1 or priorities.numel() != count):
            raise ValueError(f"priorities must be a 1-d floating tensor of {count} values (one per index), "
                             f"got {_describe_tensor(priorities)}")
        self._check_device("priorities", priorities)
        if priorities.dtype not in _KERNEL_PRIORITY_DTYPES:
            priorities = priorities.to(torch.float64)
        return priorities.contiguous()


def _describe_tensor(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of dtype {x.dtype} and shape {tuple(x.shape)}"
    return f"{type(x).__name__}"


def _describe_invalid(k: int, indices: torch.Tensor, priorities: torch.Tensor, capacity: int) -> str:
    index = int(indices[k])
    if not 0 <= index < capacity:
        return f"indices[{k}] = {index} is outside [0, capacity={capacity})"
    return f"priorities[{k}] = {float(priorities[k])} (for index {index}): a priority must be finite and >= 0"


def _check_out(indices: torch.Tensor, drawn: torch.Tensor, batch: int, device: torch.device) -> None:
    for name, t, dtype in (("out[0] (indices)", indices, torch.int64), ("out[1] (priorities)", drawn, torch.float64)):
        if t.dtype != dtype or t.shape != (batch,) or t.device != device or not t.is_contiguous():
            raise ValueError(f"{name} must be a contiguous {dtype} tensor of shape ({batch},) on {device}, "
                             f"got {_describe_tensor(t)} on {t.device}")


__all__ = ["SumTree"]
