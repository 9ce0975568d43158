"""Which stored transitions a batch holds: uniformly over the valid ones, or in proportion to priority.

Both samplers draw slots of the buffer's flat slot space and see only transitions the buffer marked valid
(finished n-step transitions whose stacks are intact; see ``buffer.py``).

- ``UniformSampler``: rejection sampling, done by the buffer's engine. Candidates are drawn uniformly over
  the slots written so far; the first ``batch`` valid ones are kept, which is exactly uniform over the valid
  transitions (with replacement). Invalid slots are rare (an episode's terminal observation, transitions
  whose n steps are not complete yet, the oldest ``stack - 1`` positions), so one round nearly always
  suffices; counting the accepted candidates is a device sync on CUDA.
- ``PrioritizedSampler``: Schaul et al.'s proportional prioritization through ``ops.sumtree``. A leaf holds
  the priority that ``priorities.py`` makes of the learner's |TD error| (0 for slots that are not valid
  transitions; new transitions enter at the running maximum); importance weights
  ``w_i = (N P(i)) ** -beta / max_j w_j``, where the maximum weight is that of the smallest priority in the
  tree, so ``w_i = (p_min / p_i) ** beta`` (N and the total cancel). beta goes linearly from ``beta_start``
  to ``beta_end`` over ``beta_steps`` batches. Sampling and the buffer's writes wait for nothing on CUDA.
"""

from __future__ import annotations

import numpy as np
import torch

from fastrl.ops import _registry
from fastrl.ops.sumtree import SumTree
from fastrl.replay.priorities import (
    check_abs_td_torch,
    entry_priorities,
    entry_priorities_torch,
    priorities_from_td,
    priorities_from_td_torch,
    raise_bad_entry,
    raise_max_torch,
    update_tree,
)
from fastrl.replay.storage import advise_huge_pages


class UniformSampler:
    """No state: the buffer's engine draws uniformly over the valid slots (rejection, see above)."""

    kind = "uniform"
    nbytes = 0

    def written(self, slots: torch.Tensor, fresh: torch.Tensor) -> None:
        """The buffer rewrote ``slots``; nothing to do without priorities."""

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {}, {}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        pass


class PrioritizedSampler:
    kind = "prioritized"

    def __init__(self, valid: torch.Tensor, num_slots: int, alpha: float, beta_start: float, beta_end: float,
                 beta_steps: int, eps: float, backend: str | None = None):
        """``valid``: the buffer's flags of which slots hold valid transitions (read by every update; a slot
        that stopped being valid keeps priority 0); ``num_slots``: the slots a priority can be set for."""
        device = self.device = valid.device
        self.valid = valid
        self.alpha, self.eps = alpha, eps
        self.beta_start, self.beta_end, self.beta_steps = beta_start, beta_end, beta_steps
        self.tree = SumTree(num_slots, device=device, backend=backend)
        if device.type == "cpu":  # a draw's path ends in tens of MB of nodes: fewer TLB misses on huge pages
            advise_huge_pages(self.tree.sums, collapse=True)
        #: the largest priority set so far (already raised to alpha): what new transitions enter with
        self.max_priority = torch.ones((), dtype=torch.float64, device=device)
        self.batches = 0  #: batches drawn so far (beta's schedule)
        self._cpu = self._check = device.type == "cpu"  # validating costs a device sync on CUDA
        if self._cpu:  # numpy views for the numba form (priorities.py), made once
            self._max_host = self.max_priority.reshape(1).numpy()
            self._valid_host = valid.numpy()
            tree = self.tree.storage
            #: update_tree's arguments before the update's own, where the tree runs on its numba backend
            self._fused = ((tree.host_nodes, tree.capacity, tree.leaf_offset, tree.levels)
                           if self.tree.backend == "numba" else None)
            self._scratch = np.empty(0, dtype=np.float64)  # the priorities of one call, grown to the largest

    @staticmethod
    def bytes_needed(num_slots: int) -> int:
        leaves = 1 << max(0, (num_slots - 1).bit_length())
        return 2 * leaves * 2 * 8 + num_slots * 4  # (sum, min) float64 per node + the owner claims

    @property
    def nbytes(self) -> int:
        return self.bytes_needed(self.tree.capacity)

    @property
    def beta(self) -> float:
        if self.beta_steps <= 0:
            return self.beta_end
        frac = min(1.0, self.batches / self.beta_steps)
        return self.beta_start + frac * (self.beta_end - self.beta_start)

    def numba_tree(self) -> tuple | None:
        """(nodes, leaf_offset, levels) of the sum tree as numpy, for the CPU engine's fused kernels, where the
        tree runs on its numba backend (None otherwise: the kernels would bypass the chosen backend)."""
        if self.tree.backend != "numba":
            return None
        storage = self.tree.storage
        return storage.host_nodes, storage.leaf_offset, storage.levels

    def ran_numba_tree(self, fn: str) -> None:
        """Record in the op registry that the sum tree's numba ``fn`` ran (inside a fused kernel)."""
        _registry.dispatch("sumtree", fn, self.device, "numba")

    def written(self, slots: torch.Tensor, fresh: torch.Tensor) -> None:
        """Slots the buffer rewrote: fresh transitions enter at the maximum priority, the rest at 0."""
        if self._cpu:
            priorities = self._scratch_for(slots.shape[0])
            entry_priorities(fresh.numpy(), float(self.max_priority), priorities)
            self.tree.update(slots, torch.from_numpy(priorities))
            return
        self.tree.update(slots, entry_priorities_torch(fresh, self.max_priority), check=False)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(slots [batch], importance weights float32 [batch], the largest possible weight being 1)."""
        slots, priorities = self.tree.sample(batch, generator, check=self._check)
        beta = self.beta
        self.batches += 1
        if self._cpu:  # numpy: a few microseconds less per op than torch on the CPU
            weights = (self.tree.min().numpy() / priorities.numpy()) ** beta
            return slots, torch.from_numpy(weights.astype(np.float32))
        return slots, torch.pow(self.tree.min() / priorities, beta).to(torch.float32)

    def update(self, slots: torch.Tensor, abs_td: torch.Tensor, check: bool) -> None:
        """Set the priorities of ``slots`` from the learner's |TD errors| (one call for the whole batch).

        Slots that stopped being valid transitions since they were drawn (overwritten) keep priority 0.
        ``check`` verifies that every |TD| is finite and >= 0 (a device sync on CUDA; always on the CPU).
        """
        if not self._cpu:
            if check:
                check_abs_td_torch(slots, abs_td, self.tree.capacity)
            priorities = priorities_from_td_torch(slots, abs_td, self.valid, self.eps, self.alpha)
            self.tree.update(slots, priorities, check=False)
            raise_max_torch(self.max_priority, priorities)
            return
        count = slots.shape[0]
        priorities = self._scratch_for(count)
        if self._fused is not None:  # the rule and the tree's numba update in one call
            bad = update_tree(*self._fused, slots.numpy(), abs_td.numpy(), self._valid_host, self.eps, self.alpha,
                              self._max_host, priorities)
            self.ran_numba_tree("update")
            if bad < count:
                raise_bad_entry(bad, slots, abs_td, self.tree.capacity)
            return
        bad, largest = priorities_from_td(slots.numpy(), abs_td.numpy(), self._valid_host, self.tree.capacity,
                                          self.eps, self.alpha, priorities)
        if bad < count:
            raise_bad_entry(bad, slots, abs_td, self.tree.capacity)
        self.tree.update(slots, torch.from_numpy(priorities))
        if largest > float(self.max_priority):
            self.max_priority.fill_(largest)

    def _scratch_for(self, count: int) -> np.ndarray:
        """The first ``count`` of the CPU scratch priorities (reallocated only when a call is the largest yet)."""
        if self._scratch.shape[0] < count:
            self._scratch = np.empty(count, dtype=np.float64)
        return self._scratch[:count]

    def leaf_priorities(self) -> torch.Tensor:
        """float64 [num_slots] view of every slot's priority."""
        offset = self.tree.leaf_offset
        return self.tree.sums[offset: offset + self.tree.capacity]

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        return ({"priorities": self.leaf_priorities(), "max_priority": self.max_priority.reshape(1)},
                {"batches": self.batches, "alpha": self.alpha, "eps": self.eps})

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        priorities = tensors["priorities"].to(self.device, torch.float64)
        slots = torch.arange(priorities.numel(), dtype=torch.int64, device=self.device)
        self.tree.update(slots, priorities)
        self.max_priority.copy_(tensors["max_priority"].reshape(()))
        self.batches = int(meta["batches"])
