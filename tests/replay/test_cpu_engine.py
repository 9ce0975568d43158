"""The CPU engine's fused kernels against their references, on fresh random data, and the storage they read.

- a uniform or prioritized batch drawn and gathered in one numba call equals the torch engine's batch
  (its draws and torch-op gathers) from the same generator, for B = 1, an odd B and a B above a stream's
  ring;
- the fused prioritized round (the sum tree's numba descent and update inside the replay's kernels) equals
  the unfused one through ``SumTree`` on its torch reference backend: same slots, weights, leaves, maximum;
- batches come from reused output buffers: a batch stays intact while the next one is drawn;
- packed fields share one record per slot without overlapping; huge-page advice is asked where it can be.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fastrl.ops import _registry
from fastrl.replay import BufferConfig, ReplayBuffer
from fastrl.replay.cpu import OUTPUT_RING
from fastrl.replay.storage import FieldSpec, RecordLayout, RingLayout, Storage, advise_huge_pages

NUM_ENVS = 3


def config(stack: int, prioritized: bool, per_env: int = 60, **kw) -> BufferConfig:
    if stack:
        shape, dtype, action = (stack, 6, 6), "uint8", {}
    else:
        shape, dtype, action = (7,), "float32", {"action_shape": (2,), "action_dtype": "float32"}
    return BufferConfig(capacity=NUM_ENVS * per_env, num_envs=NUM_ENVS, obs_shape=shape, obs_dtype=dtype,
                        frame_stack=stack, n_step=3, gamma=0.9, prioritized=prioritized, **action, **kw)


def fill(buffers: list[ReplayBuffer], calls: int, seed: int) -> None:
    """The same random steps (episode ends included) into every buffer."""
    rng = np.random.default_rng(seed)
    cfg = buffers[0].config
    draw_obs = (lambda: torch.from_numpy(rng.integers(0, 256, (NUM_ENVS, *cfg.obs_shape), dtype=np.uint8))
                ) if cfg.frame_stack else (lambda: torch.from_numpy(rng.standard_normal((NUM_ENVS, *cfg.obs_shape),
                                                                                       dtype=np.float32)))
    obs = draw_obs()
    for b in buffers:
        b.add(obs)
    for _ in range(calls):
        if cfg.action_dtype == "float32":
            action = torch.from_numpy(rng.uniform(-1, 1, (NUM_ENVS, *cfg.action_shape)).astype(np.float32))
        else:
            action = torch.from_numpy(rng.integers(0, 6, NUM_ENVS))
        obs, reward = draw_obs(), torch.from_numpy(rng.standard_normal(NUM_ENVS).astype(np.float32))
        terminated = torch.from_numpy(rng.random(NUM_ENVS) < 0.06)
        truncated = torch.from_numpy(rng.random(NUM_ENVS) < 0.03) & ~terminated
        for b in buffers:
            b.add(obs, action, reward, terminated, truncated)


def assert_same_batch(x, y, where: str) -> None:
    for name, u, v in zip(x._fields, x, y, strict=True):
        assert u.dtype == v.dtype and u.shape == v.shape, f"batch.{name} {where}"
        assert torch.equal(u, v), f"batch.{name} differs {where}"


@pytest.fixture
def torch_threads():
    """Sets torch's intra-op threads for one test (the CPU engine copies frames on them where there are
    several, with its own loop where there is one), and restores them."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("stack,start_fill,threads", [(0, "repeat", 1), (4, "repeat", 1), (4, "repeat", 2),
                                                      (4, "zero", 1), (4, "zero", 2)])
@pytest.mark.parametrize("prioritized", [False, True])
def test_fused_batches_equal_the_torch_engine(stack, start_fill, threads, prioritized, torch_threads):
    torch_threads(threads)
    buffers = [ReplayBuffer(config(stack, prioritized, start_fill=start_fill), engine=e) for e in ("numba", "torch")]
    fill(buffers, calls=150, seed=stack + 10 * prioritized)  # the rings wrap twice
    numba, reference = buffers
    generators = [torch.Generator().manual_seed(7) for _ in buffers]
    td = torch.Generator().manual_seed(8)
    for batch in (1, 37, 121, 37):
        x, y = numba.sample(batch, generators[0]), reference.sample(batch, generators[1])
        assert_same_batch(x, y, f"for B={batch}")
        if stack and start_fill == "zero":  # episode starts inside stacks were drawn: the zeroing ran
            assert batch < 37 or bool((x.obs.flatten(2) == 0).all(2).any())
        got = numba.get(x.indices)  # the same slots gathered again, outside the sampling kernels
        assert_same_batch(got, x._replace(weights=torch.ones(batch)), f"through get for B={batch}")
        if prioritized:
            assert _registry.last_backend("sumtree") == "numba"  # the fused kernel ran the tree's numba code
            priorities = torch.rand(batch, generator=td) * 3
            numba.update_priorities(x.indices, priorities)
            reference.update_priorities(y.indices, priorities)
            assert torch.equal(numba.sampler.leaf_priorities(), reference.sampler.leaf_priorities())
            assert float(numba.sampler.max_priority) == float(reference.sampler.max_priority)


@pytest.mark.parametrize("stack", [0, 4])
def test_fused_prioritized_round_equals_the_sum_tree_reference(stack):
    """The fused path runs the sum tree's numba kernels inside the replay's; the unfused path goes through
    ``SumTree`` on its torch reference backend (the op's specification). Both hold the same bits."""
    fused = ReplayBuffer(config(stack, True, beta_steps=20))
    unfused = ReplayBuffer(config(stack, True, beta_steps=20), backend="reference")
    assert fused.engine.tree is not None and unfused.engine.tree is None
    assert unfused.sampler.tree.backend == "reference"
    fill([fused, unfused], calls=140, seed=3)
    generators = [torch.Generator().manual_seed(11) for _ in range(2)]
    td = torch.Generator().manual_seed(12)
    for round_ in range(25):
        batch = (1, 64, 101)[round_ % 3]
        x = fused.sample(batch, generators[0])
        assert _registry.last_backend("sumtree") == "numba"
        y = unfused.sample(batch, generators[1])
        assert _registry.last_backend("sumtree") == "reference"
        assert_same_batch(x, y, f"in round {round_}")
        priorities = torch.rand(batch, generator=td, dtype=torch.float64) * 10 ** (round_ % 4 - 2)
        fused.update_priorities(x.indices, priorities)
        assert _registry.last_backend("sumtree") == "numba"
        unfused.update_priorities(y.indices, priorities)
        assert torch.equal(fused.sampler.leaf_priorities(), unfused.sampler.leaf_priorities()), round_
        assert torch.equal(fused.sampler.tree.sums, unfused.sampler.tree.sums), round_
        assert float(fused.sampler.max_priority) == float(unfused.sampler.max_priority)
        if round_ % 5 == 4:  # new transitions enter at the running maximum in both
            fill([fused, unfused], calls=7, seed=100 + round_)
    assert fused.sampler.beta == unfused.sampler.beta


def test_fused_update_rejects_bad_entries_and_changes_nothing():
    buffer = ReplayBuffer(config(0, True))
    fill([buffer], calls=80, seed=5)
    batch = buffer.sample(16, torch.Generator().manual_seed(0))
    before = buffer.sampler.tree.sums.clone()
    bad = torch.rand(16)
    bad[9] = float("nan")
    with pytest.raises(ValueError, match=r"abs_td\[9\] = nan"):
        buffer.update_priorities(batch.indices.clone(), bad)
    slots = batch.indices.clone()
    slots[3] = buffer.layout.num_slots
    with pytest.raises(ValueError, match=r"indices\[3\] = .* is not a slot"):
        buffer.update_priorities(slots, torch.rand(16))
    assert torch.equal(buffer.sampler.tree.sums, before)


def test_get_refuses_slots_outside_the_buffer():
    buffer = ReplayBuffer(config(0, False))
    fill([buffer], calls=10, seed=2)
    with pytest.raises(ValueError, match=rf"slots\[1\] = {buffer.layout.num_slots} is not a slot"):
        buffer.get(torch.tensor([0, buffer.layout.num_slots]))
    with pytest.raises(ValueError, match=r"slots\[0\] = -1 is not a slot"):
        buffer.get(torch.tensor([-1, 3]))


@pytest.mark.parametrize("prioritized", [False, True])
def test_a_batch_stays_intact_while_the_next_is_drawn(prioritized):
    buffer = ReplayBuffer(config(4, prioritized))
    fill([buffer], calls=120, seed=9)
    generator = torch.Generator().manual_seed(1)
    first = buffer.sample(40, generator)
    kept = [t.clone() for t in first]
    buffer.sample(7, generator)  # another batch size, with its own outputs, in between
    second = buffer.sample(40, generator)
    buffer.sample(7, generator)
    for name, t, k in zip(first._fields, first, kept, strict=True):
        assert torch.equal(t, k), f"batch.{name} changed when the next batch was drawn"
    assert OUTPUT_RING >= 2
    assert not any(a.data_ptr() == b.data_ptr() for a, b in zip(first, second, strict=True))


def test_packed_fields_share_one_record_without_overlap():
    specs = [FieldSpec("obs", (17,), torch.float32, packed=True),
             FieldSpec("action", (), torch.int64, packed=True),
             FieldSpec("reward", (), torch.float32, spare=True, packed=True),
             FieldSpec("valid", (), torch.bool, spare=True)]
    records = RecordLayout.of(specs)
    assert records.offsets == {"obs": 0, "action": 72, "reward": 80}  # int64 aligned to 8 bytes
    assert records.record_bytes == 128  # past 64 bytes: whole cache lines
    assert RecordLayout.of(specs[1:]).record_bytes == 16  # up to 64 bytes: a power of two
    layout = RingLayout(num_envs=2, per_env=5, pad=0)
    storage = Storage(specs, layout, "cpu", debug=True)
    assert storage.nbytes == Storage.bytes_needed(specs, layout) == 11 * 128 + 11
    obs, action, reward = storage["obs"], storage["action"], storage["reward"]
    assert obs.shape == (10, 17) and action.shape == (10,) and reward.shape == (11,)
    assert obs.untyped_storage().data_ptr() == reward.untyped_storage().data_ptr()  # one allocation
    assert torch.isnan(obs).all() and torch.isnan(reward).all()  # poisoned through the views
    obs.fill_(1.5)
    action.fill_(-3)
    assert torch.isnan(reward).all() and (obs == 1.5).all()  # no field writes into another
    reward[4] = 2.0
    assert (action == -3).all() and (obs == 1.5).all() and reward[4] == 2.0


def test_huge_page_advice_is_asked_for_large_cpu_tensors_only():
    """Linux takes the advice wherever it has transparent huge pages (whether it grants them is its call)."""
    offered = sys.platform.startswith("linux") and Path("/sys/kernel/mm/transparent_hugepage/enabled").exists()
    assert advise_huge_pages(torch.empty(8 << 20, dtype=torch.uint8)) is offered
    assert advise_huge_pages(torch.empty(1 << 20, dtype=torch.uint8)) is False  # under 4 MiB: not asked
    touched = torch.arange(3 << 20, dtype=torch.int32)  # 12 MiB already written: collapsed in place
    assert isinstance(advise_huge_pages(touched[5:], collapse=True), bool)  # a view: its whole storage
    assert torch.equal(touched, torch.arange(3 << 20, dtype=torch.int32))
