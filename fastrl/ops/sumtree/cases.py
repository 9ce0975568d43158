"""Profile cases for the sum tree: one prioritized-replay round per call.

A round is what a prioritized learner does per step: draw ``batch`` leaves (random numbers included),
then give the drawn leaves new priorities. On CUDA the round runs with ``check=False`` (label
``unchecked``): reading the update's verdict would wait for the device, which a training loop avoids.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from fastrl.ops._cases import Case
from fastrl.ops.sumtree import OP, SumTree, reference

#: (capacity, batch) pairs profiled by default.
DEFAULT_SIZES = ((100_000, 256), (1_000_000, 256), (1_000_000, 512))


def cases(device: torch.device | str, sizes=None) -> list[Case]:
    """One case per (capacity, batch) in ``sizes`` (default ``DEFAULT_SIZES``)."""
    device = torch.device(device)
    return [_case(device, capacity, batch) for capacity, batch in (sizes or DEFAULT_SIZES)]


def _case(device: torch.device, capacity: int, batch: int) -> Case:
    check = device.type == "cpu"
    label = f"N={capacity},B={batch}" + ("" if check else ",unchecked")

    def make_inputs(dev: torch.device) -> dict[str, Any]:
        generator = torch.Generator(device=dev).manual_seed(0)
        leaves = torch.rand(capacity, dtype=torch.float64, device=dev, generator=generator)
        storage = reference.allocate(capacity, dev)
        _fill(storage, leaves)
        inputs = {
            "capacity": capacity,
            "batch": batch,
            "leaves": leaves,
            "generator": generator,
            "new_priorities": torch.rand(batch, device=dev, generator=generator),  # float32, like |td|
            "uniforms": torch.empty(batch, dtype=torch.float64, device=dev),
            "out": (torch.empty(batch, dtype=torch.int64, device=dev),
                    torch.empty(batch, dtype=torch.float64, device=dev)),
            "reference_storage": storage,
            "trees": {},  # backend -> SumTree filled with `leaves`, built on the backend's first run
        }
        peer = _torchrl_round(capacity, batch, leaves, inputs["new_priorities"].double())  # its tree is float64
        if peer is not None:
            inputs["torchrl_round"] = peer
        return inputs

    def run(inputs: dict[str, Any], backend: str) -> torch.Tensor:
        tree = inputs["trees"].get(backend)
        if tree is None:
            leaves = inputs["leaves"]
            tree = inputs["trees"][backend] = SumTree(capacity, leaves.device, backend=backend)
            tree.update(torch.arange(capacity, device=leaves.device), leaves)
        indices, _ = tree.sample(batch, inputs["generator"], out=inputs["out"], check=check)
        tree.update(indices, inputs["new_priorities"], check=check)
        return indices

    def reference_round(inputs: dict[str, Any]) -> torch.Tensor:
        uniforms = inputs["uniforms"].uniform_(generator=inputs["generator"])
        return reference.round_trip(inputs["reference_storage"], uniforms, inputs["new_priorities"])

    def bytes_moved(inputs: dict[str, Any]) -> int:
        # A lower bound: the random numbers read, the drawn indices and priorities written, the update's
        # indices and priorities read and its leaves (sum and min) written. The descent's and the path
        # update's node traffic depends on how paths overlap and is left out.
        new = inputs["new_priorities"]
        return batch * (8 + 8 + 8) + batch * (8 + new.element_size() + 16)

    peers = {}
    if _torchrl_sampler_class() is not None:
        peers["torchrl"] = lambda inputs: inputs["torchrl_round"]()
    return Case(op=OP, label=label, make_inputs=make_inputs, run=run, reference=reference_round,
                bytes_moved=bytes_moved, peers=peers, peers_comparable=False)  # torchrl draws its own numbers


def _fill(storage: reference.Storage, leaves: torch.Tensor) -> None:
    """Set every leaf at once and rebuild the tree level by level (a whole-tree build, for set-up only)."""
    nodes, offset = storage.nodes, storage.leaf_offset
    nodes[offset:offset + leaves.numel(), 0] = leaves
    nodes[offset:offset + leaves.numel(), 1] = torch.where(leaves > 0, leaves, torch.inf)
    width = offset // 2
    while width >= 1:
        children = nodes[2 * width:4 * width].view(width, 2, 2)
        nodes[width:2 * width, 0] = children[:, 0, 0] + children[:, 1, 0]
        nodes[width:2 * width, 1] = torch.minimum(children[:, 0, 1], children[:, 1, 1])
        width //= 2


@functools.cache
def _torchrl_sampler_class():
    """torchrl's PrioritizedSampler where its C++ segment trees load (they are built for one torch).

    Asked once per process: importing torchrl takes seconds.
    """
    try:
        from torchrl.data.replay_buffers.samplers import PrioritizedSampler

        PrioritizedSampler(2, alpha=1.0, beta=1.0, dtype=torch.float64)
    except Exception:  # not installed, or its extension does not load against this torch
        return None
    return PrioritizedSampler


def _torchrl_round(capacity: int, batch: int, leaves: torch.Tensor, new_priorities: torch.Tensor):
    """torchrl's CPU prioritized round on the same priorities: ``sample`` then ``update_priority``."""
    sampler_class = _torchrl_sampler_class()
    if sampler_class is None or leaves.device.type != "cpu":
        return None
    from torchrl.data import LazyTensorStorage

    storage = LazyTensorStorage(capacity)
    storage.set(torch.arange(capacity), torch.zeros(capacity))
    sampler = sampler_class(capacity, alpha=1.0, beta=1.0, dtype=torch.float64)
    sampler.update_priority(torch.arange(capacity), leaves)

    def round_() -> torch.Tensor:
        indices, _ = sampler.sample(storage, batch)
        sampler.update_priority(indices, new_priorities)
        return indices

    return round_
