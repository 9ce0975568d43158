"""``fused_update``: whether the DQN learner acts and updates through ``fastrl.ops.mlp_q``, chosen at the start.

The fused kernels win where per-call overhead dominates (small networks and batches); where arithmetic
dominates (wide layers, large batches) both paths spend their time in the same kind of matrix products, and
torch's threads may win. Where the crossover lies depends on the CPU, so ``auto`` times both paths on the
run's own shapes for a few updates and keeps the faster; the choice and the two times go into the run's
``meta.json``. ``config.json`` keeps the field as it was asked (``auto`` stays ``auto``): it picks an
implementation of the same arithmetic, with checkpoints either path loads, so a resumed run measures again
on the machine it resumes on.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from fastrl.config import ConfigError, network_for
from fastrl.hardware import AUTO, Choice
from fastrl.ops import _registry
from fastrl.ops.mlp_q import OP_UPDATE
from fastrl.replay.batch import Batch

#: timed updates per path, alternating one by one between the paths
_UPDATES = 24


def why_not_fused(dqn, observation_shape: tuple[int, ...], device) -> str | None:
    """Why the fused path cannot run this learner (None: it can)."""
    if torch.device(device).type != "cpu":
        return "the fused kernels run on the CPU"
    if network_for(dqn, observation_shape) != "mlp":
        return "the fused kernels take an MLP Q network, not convolutions"
    if dqn.dueling or dqn.distributional:
        return "the fused kernels take a plain Q head, not a dueling or C51 one"
    if dqn.exploration != "epsilon":
        return "the fused kernels take plain linear layers, not NoisyNet's noisy ones"
    if dqn.exploration == "noisy":
        return "the fused kernels take plain linear layers, not NoisyNet's noisy ones"
    if dqn.optimizer != "adam":
        return "the fused kernels apply Adam's step, not RMSProp's"
    return _registry.unavailable_reason(OP_UPDATE, "numba", "cpu")


def fused_choice(dqn, observation_shape: tuple[int, ...], actions: int, device,
                 build: Callable[[Any], Any]) -> Choice:
    """The ``fused_update`` of ``dqn`` (a ``DQNConfig``) resolved for this learner on this machine;
    ``build(dqn_config)``: a DQN learner on the CPU for these shapes, to time (``auto`` only)."""
    requested = dqn.fused_update
    why_not = why_not_fused(dqn, observation_shape, device)
    if requested != AUTO:
        if requested and why_not:
            raise ConfigError(f"--fused-update True: {why_not}; use --fused-update auto or False")
        return Choice("fused_update", requested, requested, "set explicitly")
    if why_not:
        return Choice("fused_update", requested, False, why_not)
    key = (dqn, observation_shape, actions, torch.get_num_threads())
    if key not in _MEASURED:
        _MEASURED[key] = _measure(dqn, observation_shape, actions, build)
    fused_us, eager_us = _MEASURED[key]
    shape = f"batch {dqn.batch_size}, MLP {'x'.join(map(str, dqn.hidden)) or 'linear'}"
    return Choice("fused_update", requested, fused_us < eager_us,
                  f"measured at the start ({shape}): {fused_us:.0f} us per update fused, {eager_us:.0f} eager")


#: (fused, eager) microseconds per update by (config, shapes, threads): learners built again in one process
#: (for evaluation, benches) measure once
_MEASURED: dict[tuple, tuple[float, float]] = {}


def _measure(dqn, observation_shape: tuple[int, ...], actions: int, build) -> tuple[float, float]:
    """Microseconds per update of the fused and the eager path on a random batch: the median of single
    updates taken in turn, so that a neighbour's burst on a shared machine slows both paths alike, and
    hardly moves a median."""
    learners = {fused: build(dataclasses.replace(dqn, fused_update=fused)) for fused in (True, False)}
    batch = _random_batch(dqn.batch_size, observation_shape, actions)
    times: dict[bool, list[float]] = {fused: [] for fused in learners}
    for learner in learners.values():
        learner.update(batch)  # first calls: numba's cached kernels load, torch's allocations are made
    for _ in range(_UPDATES):
        for fused, learner in learners.items():
            started = time.perf_counter()
            learner.update(batch)
            times[fused].append(time.perf_counter() - started)
    return 1e6 * statistics.median(times[True]), 1e6 * statistics.median(times[False])


def _random_batch(size: int, observation_shape: tuple[int, ...], actions: int) -> Batch:
    generator = torch.Generator().manual_seed(0)
    return Batch(obs=torch.randn(size, *observation_shape, generator=generator),
                 action=torch.randint(0, actions, (size,), generator=generator),
                 reward=torch.randn(size, generator=generator), discount=torch.full((size,), 0.99),
                 next_obs=torch.randn(size, *observation_shape, generator=generator),
                 weights=torch.ones(size), indices=torch.arange(size))
