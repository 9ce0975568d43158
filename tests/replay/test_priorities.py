"""The priority rule's two forms (``fastrl.replay.priorities``) against each other, on fresh random inputs:

- the numba form and the torch form give the same priorities (to an ulp of ``pow``), the same zeros for
  slots that stopped being valid, and the same running maximum;
- the fused numba update (rule + the sum tree's numba update + the maximum) holds the same bits as the rule
  followed by ``SumTree.update``, and the torch form through the tree's torch reference the same leaves;
- a bad entry (slot out of range, |TD| negative or not finite) is reported at the same position by both, and
  the numba form then writes nothing;
- a slot repeated in one update: the tree keeps the last write, the maximum remembers every entry (the
  behaviour ``priorities.py`` documents).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrl.ops.sumtree import SumTree
from fastrl.replay.priorities import (
    check_abs_td_torch,
    entry_priorities,
    entry_priorities_torch,
    priorities_from_td,
    priorities_from_td_torch,
    raise_max_torch,
    update_tree,
)
from fastrl.replay.sampler import PrioritizedSampler

#: torch's vectorized pow and libm's may round differently in the last place
ULP = {"rtol": 2.0**-51, "atol": 0.0}


@st.composite
def updates(draw, bad: bool = False):
    """(num_slots, slots int64 [K], abs_td [K] float32/float64, valid bool [num_slots], eps, alpha)."""
    num_slots = draw(st.integers(1, 300))
    count = draw(st.integers(0, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    slots = rng.integers(0, num_slots, count, dtype=np.int64)  # repeats included
    scale = 10.0 ** rng.uniform(-8, 4, count)  # errors over twelve orders of magnitude, and exact zeros
    abs_td = np.where(rng.random(count) < 0.1, 0.0, rng.random(count) * scale).astype(dtype)
    valid = rng.random(num_slots) < draw(st.floats(0.0, 1.0))
    eps = draw(st.sampled_from([1e-6, 1e-2, 0.5]))
    alpha = draw(st.sampled_from([0.0, 0.4, 0.5, 0.6, 1.0, 1.7]))
    return num_slots, torch.from_numpy(slots), torch.from_numpy(abs_td), torch.from_numpy(valid), eps, alpha


def numba_form(slots, abs_td, valid, num_slots, eps, alpha):
    out = np.full(slots.shape[0], -1.0)
    bad, largest = priorities_from_td(slots.numpy(), abs_td.numpy(), valid.numpy(), num_slots, eps, alpha, out)
    return bad, largest, torch.from_numpy(out)


@settings(max_examples=150, deadline=None)
@given(updates())
def test_the_numba_and_torch_forms_give_the_same_priorities(update):
    num_slots, slots, abs_td, valid, eps, alpha = update
    bad, largest, got = numba_form(slots, abs_td, valid, num_slots, eps, alpha)
    want = priorities_from_td_torch(slots, abs_td, valid, eps, alpha)
    assert bad == slots.numel()
    torch.testing.assert_close(got, want, **ULP)
    assert torch.equal(got == 0, ~valid[slots])  # eps > 0: only a slot no longer valid gets priority 0
    top = torch.zeros((), dtype=torch.float64)
    raise_max_torch(top, want)
    assert math.isclose(largest, float(top), rel_tol=ULP["rtol"], abs_tol=0.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), max_size=40), st.floats(0.0, 1e6, allow_nan=False))
def test_entry_priorities_agree(fresh, top):
    fresh = torch.tensor(fresh, dtype=torch.bool)
    out = np.full(fresh.numel(), -1.0)
    entry_priorities(fresh.numpy(), top, out)
    assert torch.equal(torch.from_numpy(out), entry_priorities_torch(fresh, torch.tensor(top, dtype=torch.float64)))


@settings(max_examples=100, deadline=None)
@given(updates(), st.integers(1, 5))
def test_the_fused_update_equals_the_rule_then_the_tree(update, rounds):
    """Several updates in a row on three trees: the fused numba call; the rule's numba form, then
    ``SumTree.update`` on the numba backend (the same bits); the torch form on the torch reference tree
    (the same leaves to an ulp, the same maximum)."""
    num_slots, slots, abs_td, valid, eps, alpha = update
    fused, split, reference = (SumTree(num_slots, backend=b) for b in ("numba", "numba", "reference"))
    maxima = [torch.ones((), dtype=torch.float64) for _ in range(3)]
    for r in range(rounds):
        shift = torch.roll(abs_td, r) * (r + 1)  # a different error per slot each round
        tree = fused.storage
        out = np.empty(slots.numel())
        bad = update_tree(tree.host_nodes, tree.capacity, tree.leaf_offset, tree.levels, slots.numpy(),
                          shift.numpy(), valid.numpy(), eps, alpha, maxima[0].reshape(1).numpy(), out)
        assert bad == slots.numel()
        _, largest, priorities = numba_form(slots, shift, valid, num_slots, eps, alpha)
        split.update(slots, priorities)
        maxima[1].fill_(max(float(maxima[1]), largest))
        priorities = priorities_from_td_torch(slots, shift, valid, eps, alpha)
        reference.update(slots, priorities)
        raise_max_torch(maxima[2], priorities)
    assert torch.equal(fused.storage.nodes, split.storage.nodes)
    assert float(maxima[0]) == float(maxima[1])
    leaves = slice(fused.leaf_offset, fused.leaf_offset + num_slots)
    torch.testing.assert_close(fused.sums[leaves], reference.sums[leaves], **ULP)
    assert math.isclose(float(maxima[0]), float(maxima[2]), rel_tol=ULP["rtol"], abs_tol=0.0)


@settings(max_examples=100, deadline=None)
@given(updates(), st.data())
def test_a_bad_entry_is_named_alike_and_changes_nothing(update, data):
    num_slots, slots, abs_td, valid, eps, alpha = update
    if not slots.numel():
        return
    slots, abs_td = slots.clone(), abs_td.clone()
    k = data.draw(st.integers(0, slots.numel() - 1))
    what = data.draw(st.sampled_from(["nan", "inf", "negative", "slot"]))
    if what == "slot":
        slots[k] = data.draw(st.sampled_from([-1, num_slots, num_slots + 7]))
    else:
        abs_td[k] = {"nan": math.nan, "inf": math.inf, "negative": -1e-3}[what]
    bad, _, out = numba_form(slots, abs_td, valid, num_slots, eps, alpha)
    assert bad == k and bool((out == -1.0).all())
    tree = SumTree(num_slots, backend="numba").storage
    before, top = tree.nodes.clone(), np.ones(1)
    assert update_tree(tree.host_nodes, tree.capacity, tree.leaf_offset, tree.levels, slots.numpy(), abs_td.numpy(),
                       valid.numpy(), eps, alpha, top, np.empty(slots.numel())) == bad
    assert torch.equal(tree.nodes, before) and top[0] == 1.0
    if what != "slot":  # the torch form's check covers the errors (the caller checks the slots' range)
        with pytest.raises(ValueError, match=rf"abs_td\[{bad}\]"):
            check_abs_td_torch(slots, abs_td, num_slots)


def test_an_empty_update_changes_nothing_in_either_form():
    slots, abs_td, valid = torch.zeros(0, dtype=torch.int64), torch.zeros(0), torch.ones(4, dtype=torch.bool)
    assert numba_form(slots, abs_td, valid, 4, 1e-6, 0.6)[:2] == (0, 0.0)
    top = torch.ones((), dtype=torch.float64)
    raise_max_torch(top, priorities_from_td_torch(slots, abs_td, valid, 1e-6, 0.6))
    assert float(top) == 1.0


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_a_repeated_slot_keeps_its_last_priority_and_the_maximum_keeps_every_entry(backend):
    """Slot 3 twice in one update, |TD| 5 then 1: the leaf holds (1 + eps) ** alpha, the last write; the
    running maximum (what new transitions enter with) is raised to (5 + eps) ** alpha by the overwritten
    entry. ``priorities.py`` explains why this stays. Through the sampler (the fused numba call, or the rule
    then the reference tree) and through the torch form."""
    eps, alpha = 1e-6, 0.6
    slots, abs_td = torch.tensor([3, 3]), torch.tensor([5.0, 1.0])
    valid = torch.ones(8, dtype=torch.bool)
    sampler = PrioritizedSampler(valid, 8, alpha, 0.4, 1.0, 0, eps, backend=backend)
    sampler.update(slots, abs_td, check=True)
    assert float(sampler.leaf_priorities()[3]) == (1.0 + eps) ** alpha
    assert float(sampler.max_priority) == (5.0 + eps) ** alpha

    tree, top = SumTree(8, backend="reference"), torch.ones((), dtype=torch.float64)
    priorities = priorities_from_td_torch(slots, abs_td, valid, eps, alpha)
    tree.update(slots, priorities)
    raise_max_torch(top, priorities)
    torch.testing.assert_close(tree.priorities(torch.tensor([3])), torch.tensor([(1.0 + eps) ** alpha],
                                                                                dtype=torch.float64), **ULP)
    assert math.isclose(float(top), (5.0 + eps) ** alpha, rel_tol=ULP["rtol"], abs_tol=0.0)
