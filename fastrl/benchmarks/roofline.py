"""The compute roofline of a learner's update on this CPU: how many updates per second its matrix products
alone would allow, measured in the same run as the update itself.

- **FLOPs per update**: ``torch.utils.flop_counter.FlopCounterMode`` around one real ``learner.update(batch)``
  (forward, backward and, for TD3, the actor's step every ``policy_delay`` updates: counted over that many).
- **The matmul FLOP rate at these shapes**: every layer of the learner's networks is a product [B, in] x
  [in, out]; its backward pass adds [B, out] x [out, in] (the input's gradient) and [in, B] x [B, out] (the
  weight's). Each of these is timed on preallocated tensors (``torch.mm`` with ``out=``) on this machine's
  torch threads, and the rate is their FLOP-weighted mean: what the update's products could reach if nothing
  else cost time.

``roofline_updates_per_s`` = rate / FLOPs per update is the bound; a measured update rate divided by it is the
fraction of the roofline the update reaches (elementwise work, optimizer steps, Python and dispatch are what
the rest goes to).
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def update_flops(learner, batch, updates: int = 1) -> float:
    """FLOPs of ``updates`` consecutive ``learner.update(batch)`` calls, per call. A DQN learner on its fused
    CPU path (``fastrl.ops.mlp_q``, outside torch's view) is counted on an eager copy: the same arithmetic."""
    if getattr(learner, "fused", None) is not None:
        learner = copy.deepcopy(learner)
        learner.fused = None
    with FlopCounterMode(display=False) as counter:
        for _ in range(updates):
            learner.update(batch)
    return counter.get_total_flops() / updates


def layer_shapes(module: nn.Module) -> list[tuple[int, int, int]]:
    """(members, in, out) of every linear layer of ``module`` (an ensemble layer's weight is [K, in, out])."""
    shapes = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            shapes.append((1, layer.in_features, layer.out_features))
        elif type(layer).__name__ == "EnsembleLinear":
            members, fan_in, fan_out = layer.weight.shape
            shapes.append((members, fan_in, fan_out))
    return shapes


def gemms(layers: list[tuple[int, int, int]], batch: int) -> list[tuple[int, int, int]]:
    """The (m, k, n) products of a forward and backward pass through ``layers`` at ``batch`` rows."""
    out = []
    for members, fan_in, fan_out in layers:
        out += [(batch, fan_in, fan_out), (batch, fan_out, fan_in), (fan_in, batch, fan_out)] * members
    return out


def matmul_flop_rate(shapes: list[tuple[int, int, int]], seconds: float = 1.0) -> float:
    """FLOP/s of ``torch.mm`` over ``shapes`` (m, k, n), each on preallocated tensors: FLOP-weighted over the
    shapes, the best of a few rounds (a neighbour on a shared machine only slows a round down)."""
    operands = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in shapes]
    flops = sum(2.0 * m * k * n for m, k, n in shapes)
    for a, b, c in operands:  # warm-up
        torch.mm(a, b, out=c)
    best, rounds, deadline = float("inf"), 0, time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(10):
            for a, b, c in operands:
                torch.mm(a, b, out=c)
        best = min(best, (time.perf_counter() - start) / 10)
        rounds += 1
    return flops / best


def roofline(learner, batch, networks: list[nn.Module], batch_size: int, updates: int = 2,
             seconds: float = 1.0) -> dict[str, float]:
    """FLOPs per update, the matmul rate at the networks' shapes, and the updates/s that rate allows."""
    flops = update_flops(learner, batch, updates)
    rate = matmul_flop_rate(gemms([s for net in networks for s in layer_shapes(net)], batch_size), seconds)
    return {"flops_per_update": flops, "matmul_flops_per_s": rate, "roofline_updates_per_s": rate / flops}
