"""Profile cases for ``categorical_projection`` (``fastrl profile ops``): B = 32, 512, 4096 at 51 atoms on
[-10, 10], or the sizes given as labels, e.g. ``--op categorical_projection --sizes B=512,atoms=101``.

Providers: the public op per backend, the reference (the vectorized ``index_add_`` scatter, the common public
form, and its ``torch.compile``) and two peers:

- ``python-loop``: the per-sample loop over batch and atoms that many public C51 implementations run on the
  CPU with numpy (copy to the host, loop, copy back), with the l == u fix that the classic loop lacks.
- ``dense-gather``: Dopamine's formulation in torch, a [B, atoms, atoms] weight tensor reduced over sources
  (the same gather form as the fast kernels, but materialized in memory).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fastrl.ops._cases import Case
from fastrl.ops.categorical_projection import categorical_projection
from fastrl.ops.categorical_projection import reference as ref

OP = "categorical_projection"
SUPPORT = (-10.0, 10.0, 51)
BATCHES = (32, 512, 4096)


def make_inputs(batch: int, device: torch.device, support=SUPPORT, seed: int = 0) -> dict:
    """Softmax distributions, rewards in about [-3, 3], discounts 0.99 with 10% terminations."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    atoms = support[2]
    probs = torch.softmax(torch.randn(batch, atoms, generator=gen), dim=1)
    rewards = 3.0 * torch.randn(batch, generator=gen)
    discounts = 0.99 * (torch.rand(batch, generator=gen) > 0.1).float()
    return {"next_probs": probs.to(device), "rewards": rewards.to(device), "discounts": discounts.to(device),
            "support": support}


def run(inputs: dict, backend: str) -> torch.Tensor:
    return categorical_projection(inputs["next_probs"], inputs["rewards"], inputs["discounts"],
                                  inputs["support"], backend=backend)


def reference(inputs: dict) -> torch.Tensor:
    return ref.categorical_projection(inputs["next_probs"], inputs["rewards"], inputs["discounts"],
                                      *inputs["support"])


def python_loop(inputs: dict) -> torch.Tensor:
    """The classic per-sample loop (numpy on the host), conserving mass where b lands on an atom."""
    probs = inputs["next_probs"].float().cpu().numpy()
    rewards = inputs["rewards"].float().cpu().numpy()
    discounts = inputs["discounts"].float().cpu().numpy()
    v_min, v_max, atoms = inputs["support"]
    dz = (v_max - v_min) / (atoms - 1)
    out = np.zeros_like(probs)
    for i in range(probs.shape[0]):
        for j in range(atoms):
            tz = min(v_max, max(v_min, rewards[i] + discounts[i] * (v_min + j * dz)))
            b = min((tz - v_min) / dz, atoms - 1)
            lower, upper = math.floor(b), math.ceil(b)
            if lower == upper:  # the classic loop omits this branch and loses the mass
                out[i, lower] += probs[i, j]
            else:
                out[i, lower] += probs[i, j] * (upper - b)
                out[i, upper] += probs[i, j] * (b - lower)
    return torch.from_numpy(out).to(inputs["next_probs"].device)


def dense_gather(inputs: dict) -> torch.Tensor:
    """Dopamine-style: weights max(0, 1 - |pos_i - j|) as a [B, atoms, atoms] tensor, summed over sources."""
    v_min, v_max, atoms = inputs["support"]
    pos = ref.positions(inputs["rewards"], inputs["discounts"], v_min, v_max, atoms)
    targets = torch.arange(atoms, device=pos.device, dtype=torch.float32)
    weight = (1.0 - (pos[:, None, :] - targets[None, :, None]).abs()).clamp(min=0.0)
    return (weight * inputs["next_probs"].float()[:, None, :]).sum(dim=2)


def bytes_moved(inputs: dict) -> int:
    """Read probabilities, rewards and discounts once; write the float32 target."""
    probs = inputs["next_probs"]
    return (probs.numel() * probs.element_size() + inputs["rewards"].numel() * inputs["rewards"].element_size()
            + inputs["discounts"].numel() * inputs["discounts"].element_size() + probs.numel() * 4)


def parse_size(size: str) -> tuple[int, int]:
    """(B, atoms) from a label such as "B=512" or "B=512,atoms=101" (atoms defaults to 51)."""
    fields = dict(part.split("=", 1) for part in size.replace(" ", "").split(",") if part)
    unknown = set(fields) - {"B", "atoms"}
    if "B" not in fields or unknown:
        raise ValueError(f"categorical_projection size {size!r}: expected B=<batch>[,atoms=<atoms>]")
    return int(fields["B"]), int(fields.get("atoms", SUPPORT[2]))


def cases(device: torch.device | None = None, sizes: list[str] | None = None) -> list[Case]:
    """One case per size; ``device`` is unused (inputs are made per device later)."""
    shapes = [parse_size(s) for s in sizes] if sizes else [(batch, SUPPORT[2]) for batch in BATCHES]
    return [
        Case(op=OP, label=f"B={batch},atoms={atoms}",
             make_inputs=lambda device, b=batch, n=atoms: make_inputs(b, device, (SUPPORT[0], SUPPORT[1], n)),
             run=run, reference=reference, bytes_moved=bytes_moved,
             peers={"python-loop": python_loop, "dense-gather": dense_gather})
        for batch, atoms in shapes
    ]
