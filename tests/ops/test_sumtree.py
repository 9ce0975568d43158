"""The sum tree: every backend against the torch reference, and the properties prioritized replay needs.

Trees are compared bit for bit: every backend recomputes each touched parent as left + right of its stored
children (and min), so after the same updates all hold the same float64 values. Draws are compared for
the same uniforms. Triton runs in its interpreter on the CPU (small trees); the ``gpu`` tests run the
cuda and triton backends on CUDA tensors, large trees included.
"""

from __future__ import annotations

import math

import pytest
import torch

from fastrl.ops import _registry
from fastrl.ops.sumtree import SumTree
from fastrl.ops.sumtree import cases as sumtree_cases

CPU_BACKENDS = ["reference", "numba", "triton"]
GPU_BACKENDS = ["cuda", "triton"]
P_VALUE_THRESHOLD = 1e-3


def make_tree(capacity: int, backend: str, device: str = "cpu") -> SumTree:
    reason = _registry.unavailable_reason("sumtree", backend, device)
    if reason:
        pytest.skip(f"sumtree backend {backend!r} unavailable on {device}: {reason}")
    return SumTree(capacity, device=device, backend=backend)


def random_updates(generator: torch.Generator, capacity: int, count: int, *, dtype=torch.float32,
                   zeros: float = 0.3, device="cpu"):
    """K random (index, priority) pairs with repeated indices and a share of zero priorities."""
    indices = torch.randint(0, capacity, (count,), generator=generator)
    priorities = torch.rand(count, generator=generator, dtype=torch.float64) * 10
    priorities[torch.rand(count, generator=generator) < zeros] = 0.0
    return indices.to(device), priorities.to(dtype).to(device)


def assert_consistent(tree: SumTree) -> None:
    """Each parent is exactly the sum (and min) of its children; padding leaves are empty."""
    sums, mins, offset = tree.sums.cpu(), tree.mins.cpu(), tree.leaf_offset
    parents = torch.arange(1, offset)
    assert torch.equal(sums[parents], sums[2 * parents] + sums[2 * parents + 1])
    assert torch.equal(mins[parents], torch.minimum(mins[2 * parents], mins[2 * parents + 1]))
    leaves = sums[offset:offset + tree.capacity]
    assert torch.equal(mins[offset:offset + tree.capacity], torch.where(leaves > 0, leaves, math.inf))
    assert not sums[offset + tree.capacity:].any()


def chi_square_p_value(counts: torch.Tensor, probabilities: torch.Tensor) -> float:
    """p-value of Pearson's chi-square test of ``counts`` against ``probabilities`` (all > 0)."""
    expected = probabilities / probabilities.sum() * counts.sum()
    statistic = ((counts - expected) ** 2 / expected).sum()
    dof = torch.tensor(float(counts.numel() - 1), dtype=torch.float64)
    return float(torch.special.gammaincc(dof / 2, statistic / 2))


# ---------------------------------------------------------------------------------------------- CPU


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("capacity", [1, 7, 100, 1000])
def test_matches_reference_after_random_updates(backend, capacity):
    tree = make_tree(capacity, backend)
    spec = SumTree(capacity, backend="reference")
    generator = torch.Generator().manual_seed(capacity)
    rounds, largest = (4, 40) if backend == "triton" else (12, 300)
    for step in range(rounds):
        count = int(torch.randint(1, largest, (1,), generator=generator))
        dtype = torch.float32 if step % 2 else torch.float64
        indices, priorities = random_updates(generator, capacity, count, dtype=dtype)
        tree.update(indices, priorities)
        assert _registry.last_backend("sumtree") == backend
        spec.update(indices, priorities)
    assert torch.equal(tree.sums, spec.sums)
    assert torch.equal(tree.mins, spec.mins)
    assert_consistent(tree)
    assert not tree.storage.owner.any(), "the claims scratch must be released after each update"


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("batch", [1, 37, 256])
def test_same_draws_as_reference_for_same_uniforms(backend, batch):
    capacity = 300
    tree, spec = make_tree(capacity, backend), SumTree(capacity, backend="reference")
    generator = torch.Generator().manual_seed(batch)
    indices, priorities = random_updates(generator, capacity, 500, dtype=torch.float64, zeros=0.5)
    tree.update(indices, priorities)
    spec.update(indices, priorities)
    uniforms = torch.rand(batch, generator=generator, dtype=torch.float64)
    uniforms[0] = 0.0
    uniforms[-1] = 1.0 - 2.0**-53  # the very end of the last stratum
    got_indices, got_priorities = tree.sample_from_uniforms(uniforms)
    assert _registry.last_backend("sumtree") == backend
    want_indices, want_priorities = spec.sample_from_uniforms(uniforms)
    assert torch.equal(got_indices, want_indices)
    assert torch.equal(got_priorities, want_priorities)
    assert torch.equal(got_priorities, tree.priorities(got_indices))
    assert (got_priorities > 0).all()


@pytest.mark.parametrize("capacity,batch", [(1, 1), (2, 5), (3, 3), (1000, 37), (300_007, 1), (300_007, 333),
                                            (2**20, 256)])
def test_prioritized_rounds_match_reference(capacity, batch):
    """The replay's round at scale: draw a batch, then give the drawn leaves new priorities, on numba and on
    the reference, from fresh random priorities. Draws and whole trees must be equal after every round.

    A few heavy leaves take several strata each, so a batch draws them more than once and its update holds
    duplicate indices (the last write wins). Trees of 1, 2 and 3 leaves have descents of 0, 1 and 2 levels
    (the numba descent's look-ahead stops above the leaves).
    """
    tree, spec = make_tree(capacity, "numba"), SumTree(capacity, backend="reference")
    generator = torch.Generator().manual_seed(capacity * 1000 + batch)
    leaves = torch.rand(capacity, generator=generator, dtype=torch.float64)
    leaves[torch.rand(capacity, generator=generator) < 0.2] = 0.0
    heavy = torch.randint(0, capacity, (3,), generator=generator)
    leaves[heavy] = float(leaves.sum()) / 4 + 1.0
    for t in (tree, spec):
        t.update(torch.arange(capacity), leaves)
    assert torch.equal(tree.storage.nodes, spec.storage.nodes)
    repeated = False
    for round_ in range(4):
        uniforms = torch.rand(batch, generator=generator, dtype=torch.float64)
        got_indices, got_priorities = tree.sample_from_uniforms(uniforms)
        assert _registry.last_backend("sumtree") == "numba"
        want_indices, want_priorities = spec.sample_from_uniforms(uniforms)
        assert torch.equal(got_indices, want_indices), f"round {round_}"
        assert torch.equal(got_priorities, want_priorities), f"round {round_}"
        assert (got_priorities > 0).all()
        repeated |= got_indices.unique().numel() < batch
        new = torch.rand(batch, generator=generator) * 3  # float32, like |TD| errors
        new[torch.rand(batch, generator=generator) < 0.1] = 0.0
        tree.update(got_indices, new)
        assert _registry.last_backend("sumtree") == "numba"
        spec.update(want_indices, new)
        assert torch.equal(tree.storage.nodes, spec.storage.nodes), f"round {round_}"
    assert repeated or batch == 1, "no batch drew a leaf twice: the duplicate-index update went untested"
    assert_consistent(tree)


def test_reference_descent_matches_a_cumulative_sum_search():
    """The reference itself: a stratified draw lands on the leaf whose cumulative-sum interval holds it."""
    capacity, batch = 500, 400
    tree = SumTree(capacity, backend="reference")
    generator = torch.Generator().manual_seed(1)
    leaves = torch.rand(capacity, generator=generator, dtype=torch.float64)
    leaves[leaves < 0.4] = 0.0
    tree.update(torch.arange(capacity), leaves)
    uniforms = torch.rand(batch, generator=generator, dtype=torch.float64)
    indices, _ = tree.sample_from_uniforms(uniforms)
    targets = (torch.arange(batch, dtype=torch.float64) + uniforms) * (leaves.sum() / batch)
    expected = torch.searchsorted(torch.cumsum(leaves, 0), targets, right=True)
    # Tree sums and a running sum round differently: allow a neighbouring leaf only where the target is
    # within round-off of a boundary.
    cumulative = torch.cumsum(leaves, 0)
    mismatched = indices != expected
    assert (leaves[indices] > 0).all()
    if mismatched.any():
        gap = (cumulative[torch.minimum(indices, expected)][mismatched] - targets[mismatched]).abs()
        assert (gap < 1e-12 * leaves.sum()).all()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_parents_equal_sum_of_children_after_random_updates(backend):
    capacity = 513  # P = 1024: a tree with a mostly empty right half
    tree = make_tree(capacity, backend)
    generator = torch.Generator().manual_seed(7)
    for _ in range(3 if backend == "triton" else 20):
        tree.update(*random_updates(generator, capacity, 64))
        assert_consistent(tree)
    assert math.isclose(float(tree.total()), float(tree.sums[tree.leaf_offset:].sum()), rel_tol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_sampling_frequencies_follow_priorities(backend):
    """Chi-square over 1e5 draws (1e4 in the Triton interpreter) against p_i / total."""
    capacity = 40
    tree = make_tree(capacity, backend)
    generator = torch.Generator().manual_seed(3)
    leaves = torch.rand(capacity, generator=generator, dtype=torch.float64) + 0.05
    leaves[::7] = 0.0
    tree.update(torch.arange(capacity), leaves)
    calls, batch = (10, 1000) if backend == "triton" else (100, 1000)
    counts = torch.zeros(capacity, dtype=torch.float64)
    for _ in range(calls):
        indices, priorities = tree.sample(batch, generator)
        counts += torch.bincount(indices, minlength=capacity).double()
        assert torch.equal(priorities, leaves[indices])
    assert _registry.last_backend("sumtree") == backend
    positive = leaves > 0
    assert not counts[~positive].any(), "zero-priority leaves were drawn"
    assert chi_square_p_value(counts[positive], leaves[positive]) > P_VALUE_THRESHOLD
    # The same test rejects a wrong distribution, so it can fail.
    assert chi_square_p_value(counts[positive], leaves[positive] ** 2) < P_VALUE_THRESHOLD


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("capacity", [64, 100])
def test_stratified_draws_cover_the_whole_range(backend, capacity):
    """Equal priorities and batch = capacity: stratum b is exactly leaf b, whatever the random numbers."""
    tree = make_tree(capacity, backend)
    tree.update(torch.arange(capacity), torch.ones(capacity))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        indices, _ = tree.sample(capacity, generator)
        assert torch.equal(indices, torch.arange(capacity))
    # Random priorities: draws come out in stratum order and the first and last strata are reached.
    leaves = torch.rand(capacity, generator=generator, dtype=torch.float64)
    tree.update(torch.arange(capacity), leaves)
    indices, _ = tree.sample(16, generator)
    assert (indices[1:] >= indices[:-1]).all()
    cumulative = torch.cumsum(leaves, 0)
    total = float(leaves.sum())
    assert float(cumulative[indices[0]] - leaves[indices[0]]) < total / 16
    assert float(cumulative[indices[-1]]) > total * 15 / 16


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_zero_priority_leaves_are_never_drawn(backend):
    capacity = 1000
    tree, spec = make_tree(capacity, backend), SumTree(capacity, backend="reference")
    tiny = torch.tensor([5e-324, 1e-300, 1e-30, 1e-12, 1e-3, 2.0], dtype=torch.float64)  # 5e-324: subnormal
    where = torch.tensor([3, 200, 511, 512, 640, 999])
    for t in (tree, spec):
        t.update(where, tiny)
    generator = torch.Generator().manual_seed(5)
    for batch in (1, 3, 7, 64):
        uniforms = torch.rand(batch, generator=generator, dtype=torch.float64)
        uniforms[-1] = 1.0 - 2.0**-53
        uniforms[0] = 0.0
        indices, priorities = tree.sample_from_uniforms(uniforms)
        assert (priorities > 0).all() and torch.isin(indices, where).all()
        assert torch.equal(indices, spec.sample_from_uniforms(uniforms)[0])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_round_off_at_the_last_stratum_never_reaches_empty_leaves(backend):
    """Targets that round up to the total must not step right into an empty subtree."""
    tree = make_tree(8, backend)
    tree.update(torch.tensor([0, 1]), torch.tensor([0.1, 0.2], dtype=torch.float64))  # total 0.30000000000000004
    for batch in (1, 2, 3, 5, 7, 9, 11, 13):
        uniforms = torch.full((batch,), 1.0 - 2.0**-53, dtype=torch.float64)
        indices, _ = tree.sample_from_uniforms(uniforms)
        assert indices[-1] == 1 and (indices <= 1).all()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_duplicate_indices_last_write_wins(backend):
    tree = make_tree(10, backend)
    tree.update(torch.tensor([3, 5, 3, 3, 5, 7]), torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert tree.priorities(torch.tensor([3, 5, 7])).tolist() == [4.0, 5.0, 6.0]
    assert float(tree.total()) == 15.0
    tree.update(torch.tensor([7, 7]), torch.tensor([0.0, 2.5]))
    tree.update(torch.tensor([5, 5]), torch.tensor([2.5, 0.0]))
    assert tree.priorities(torch.tensor([3, 5, 7])).tolist() == [4.0, 0.0, 2.5]
    assert float(tree.min()) == 2.5
    assert_consistent(tree)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_many_duplicates_in_one_update(backend, monkeypatch):
    """Thousands of writes to a few leaves, in one update; the Triton grid path too."""
    if backend == "triton":
        from fastrl.ops.sumtree import triton as triton_backend

        monkeypatch.setattr(triton_backend, "ONE_PROGRAM_MAX", 16)
        monkeypatch.setattr(triton_backend, "_BLOCK", 32)
    capacity, count = 12, 200 if backend == "triton" else 5000
    tree = make_tree(capacity, backend)
    generator = torch.Generator().manual_seed(11)
    indices, priorities = random_updates(generator, capacity, count, dtype=torch.float64)
    tree.update(indices, priorities)
    last = {int(i): float(p) for i, p in zip(indices.tolist(), priorities.tolist(), strict=True)}
    leaves = torch.tensor([last.get(i, 0.0) for i in range(capacity)], dtype=torch.float64)
    assert torch.equal(tree.priorities(torch.arange(capacity)), leaves)
    assert_consistent(tree)
    assert not tree.storage.owner.any()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_empty_update_is_a_no_op(backend):
    tree = make_tree(5, backend)
    tree.update(torch.tensor([2]), torch.tensor([1.5]))
    before = tree.storage.nodes.clone()
    tree.update(torch.empty(0, dtype=torch.int64), torch.empty(0))
    assert _registry.last_backend("sumtree") == backend
    assert torch.equal(tree.storage.nodes, before)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_invalid_updates_raise_and_change_nothing(backend):
    tree = make_tree(16, backend)
    tree.update(torch.arange(16), torch.rand(16))
    before = tree.storage.nodes.clone()
    bad = [
        (torch.tensor([1, 2, 3]), torch.tensor([1.0, -0.5, 1.0]), r"priorities\[1\] = -0\.5"),
        (torch.tensor([1, 2, 3]), torch.tensor([1.0, 1.0, math.nan]), r"priorities\[2\] = nan"),
        (torch.tensor([1, 2, 3]), torch.tensor([math.inf, 1.0, 1.0], dtype=torch.float64), r"priorities\[0\] = inf"),
        (torch.tensor([1, 16, 3]), torch.tensor([1.0, 1.0, 1.0]), r"indices\[1\] = 16 is outside \[0, capacity=16\)"),
        (torch.tensor([-1, 2, 3]), torch.tensor([1.0, 1.0, -1.0]), r"indices\[0\] = -1"),
    ]
    for indices, priorities, message in bad:
        with pytest.raises(ValueError, match=message):
            tree.update(indices, priorities)
        tree.update(indices, priorities, check=False)  # no raise, and still not applied
        assert torch.equal(tree.storage.nodes, before)
        assert not tree.storage.owner.any()


def test_wrong_types_and_shapes_raise():
    tree = SumTree(8, backend="reference")
    with pytest.raises(ValueError, match="indices must be a 1-d int64 tensor.*int32"):
        tree.update(torch.tensor([1, 2], dtype=torch.int32), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="priorities must be a 1-d floating tensor of 2 values"):
        tree.update(torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="priorities must be a 1-d floating tensor of 2 values"):
        tree.update(torch.tensor([1, 2]), torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="indices must be a 1-d int64 tensor"):
        tree.update(torch.tensor([[1, 2]]), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="indices must be a 1-d int64 tensor.*list"):
        tree.update([1, 2], torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        SumTree(0)
    with pytest.raises(ValueError, match="batch must be a positive int"):
        tree.sample(0)
    with pytest.raises(ValueError, match=r"indices\[1\] = 9 is outside"):
        tree.priorities(torch.tensor([0, 9]))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_total_min_and_empty_tree(backend):
    tree = make_tree(6, backend)
    assert float(tree.total()) == 0.0 and float(tree.min()) == math.inf
    with pytest.raises(ValueError, match="cannot sample: the total priority is 0.0"):
        tree.sample(4)
    tree.update(torch.tensor([0, 1, 2, 5]), torch.tensor([0.0, 0.5, 0.25, 2.0]))
    assert float(tree.total()) == 2.75
    assert float(tree.min()) == 0.25  # the smallest *positive* priority: leaf 0 (0.0) cannot be drawn
    tree.update(torch.tensor([2]), torch.tensor([0.0]))
    assert float(tree.min()) == 0.5
    assert tree.priorities(torch.tensor([5, 2, 1])).tolist() == [2.0, 0.0, 0.5]
    out = (torch.empty(3, dtype=torch.int64), torch.empty(3, dtype=torch.float64))
    indices, priorities = tree.sample(3, out=out)
    assert indices is out[0] and priorities is out[1]
    assert torch.isin(indices, torch.tensor([1, 5])).all()
    with pytest.raises(ValueError, match=r"out\[0\] \(indices\) must be a contiguous torch.int64"):
        tree.sample(4, out=out)


def test_backend_choice_and_overrides(monkeypatch):
    monkeypatch.delenv("FASTRL_BACKEND", raising=False)
    expected = "numba" if _registry.unavailable_reason("sumtree", "numba", "cpu") is None else "reference"
    tree = SumTree(4)
    assert tree.backend == expected
    tree.update(torch.tensor([1]), torch.tensor([1.0]))
    assert _registry.last_backend("sumtree") == expected
    monkeypatch.setenv("FASTRL_BACKEND", "sumtree:reference")
    assert SumTree(4).backend == "reference"
    with pytest.raises(_registry.BackendUnavailable, match="cuda"):
        SumTree(4, backend="cuda")


def test_profile_cases_run_a_round(monkeypatch):
    monkeypatch.setattr(sumtree_cases, "_torchrl_sampler_class", lambda: None)  # its import takes seconds
    (case,) = sumtree_cases.cases("cpu", sizes=[(1000, 16)])
    assert case.op == "sumtree" and case.label == "N=1000,B=16"
    inputs = case.make_inputs(torch.device("cpu"))
    spec = SumTree(1000, backend="reference")
    spec.update(torch.arange(1000), inputs["leaves"])
    assert torch.equal(inputs["reference_storage"].nodes, spec.storage.nodes)
    for backend in ("reference", "numba"):
        indices = case.run(inputs, backend)
        assert _registry.last_backend("sumtree") == backend
        assert indices.shape == (16,) and (indices[1:] >= indices[:-1]).all()
        tree = inputs["trees"][backend]
        assert torch.equal(tree.priorities(indices), inputs["new_priorities"].double())
    assert case.reference(inputs).shape == (16,)
    assert case.bytes_moved(inputs) > 0


def test_torchrl_peer_when_its_extension_loads():
    if sumtree_cases._torchrl_sampler_class() is None:
        pytest.skip("torchrl's PrioritizedSampler does not load here (not installed, or its C++ extension "
                    "was built for another torch)")
    (case,) = sumtree_cases.cases("cpu", sizes=[(1000, 16)])
    inputs = case.make_inputs(torch.device("cpu"))
    indices = case.peers["torchrl"](inputs)
    assert indices.shape == (16,) and ((indices >= 0) & (indices < 1000)).all()


# ---------------------------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("capacity,count", [(1, 3), (1000, 1), (1000, 777), (1_000_000, 512),
                                            (1_000_000, 20_000), (1_000_000, 1_000_000)])
def test_gpu_matches_reference(backend, capacity, count):
    """Small updates (one block / program) and large ones (a grid per phase and level)."""
    tree = make_tree(capacity, backend, "cuda")
    spec = SumTree(capacity, device="cpu", backend="numba" if capacity > 1000 else "reference")
    generator = torch.Generator().manual_seed(count)
    for step in range(3):
        dtype = torch.float32 if step % 2 else torch.float64
        indices, priorities = random_updates(generator, capacity, count, dtype=dtype)
        tree.update(indices.cuda(), priorities.cuda())
        assert _registry.last_backend("sumtree") == backend
        spec.update(indices, priorities)
    assert torch.equal(tree.sums.cpu(), spec.sums) and torch.equal(tree.mins.cpu(), spec.mins)
    assert not tree.storage.owner.any()
    for batch in (1, 512, 4099):
        uniforms = torch.rand(batch, generator=generator, dtype=torch.float64)
        uniforms[-1] = 1.0 - 2.0**-53
        if float(spec.total()) == 0:  # the last writes were all 0 (capacity 1): both refuse to sample
            for empty in (tree, spec):
                with pytest.raises(ValueError, match="total priority is 0"):
                    empty.sample_from_uniforms(uniforms.to(empty.device))
            continue
        got = tree.sample_from_uniforms(uniforms.cuda())
        want = spec.sample_from_uniforms(uniforms)
        assert torch.equal(got[0].cpu(), want[0]) and torch.equal(got[1].cpu(), want[1])


@pytest.mark.gpu
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_sampling_frequencies_and_zero_leaves(backend):
    capacity = 40
    tree = make_tree(capacity, backend, "cuda")
    generator = torch.Generator(device="cuda").manual_seed(3)
    leaves = torch.rand(capacity, dtype=torch.float64) + 0.05
    leaves[::7] = 0.0
    tree.update(torch.arange(capacity, device="cuda"), leaves.cuda())
    counts = torch.zeros(capacity, dtype=torch.float64, device="cuda")
    for _ in range(100):
        indices, _ = tree.sample(1000, generator)
        counts += torch.bincount(indices, minlength=capacity).double()
    counts = counts.cpu()
    positive = leaves > 0
    assert not counts[~positive].any()
    assert chi_square_p_value(counts[positive], leaves[positive]) > P_VALUE_THRESHOLD


@pytest.mark.gpu
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_duplicates_and_invalid_input(backend):
    tree = make_tree(10, backend, "cuda")
    cuda = torch.device("cuda")
    tree.update(torch.tensor([3, 5, 3, 3, 5, 7], device=cuda), torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], device=cuda))
    assert tree.priorities(torch.tensor([3, 5, 7], device=cuda)).tolist() == [4.0, 5.0, 6.0]
    before = tree.storage.nodes.clone()
    with pytest.raises(ValueError, match=r"priorities\[1\] = nan"):
        tree.update(torch.tensor([1, 2], device=cuda), torch.tensor([1.0, math.nan], device=cuda))
    with pytest.raises(ValueError, match=r"indices\[0\] = 10 is outside"):
        tree.update(torch.tensor([10, 2], device=cuda), torch.tensor([1.0, 1.0], device=cuda))
    tree.update(torch.tensor([1, 2], device=cuda), torch.tensor([1.0, -1.0], device=cuda), check=False)
    assert torch.equal(tree.storage.nodes, before)
    assert not tree.storage.owner.any()
    assert_consistent(tree)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_profile_round(backend):
    (case,) = sumtree_cases.cases("cuda", sizes=[(1_000_000, 512)])
    inputs = case.make_inputs(torch.device("cuda"))
    indices = case.run(inputs, backend)
    assert _registry.last_backend("sumtree") == backend
    assert (indices[1:] >= indices[:-1]).all()
    tree = inputs["trees"][backend]
    assert_consistent(tree)
