"""Plain-torch C51 / D4PG projection: the specification of ``fastrl.ops.categorical_projection``.

The support is z_i = v_min + i * dz, i = 0 .. atoms-1, dz = (v_max - v_min) / (atoms - 1). Each source atom i
of row b moves to Tz = r_b + discount_b * z_i, at fractional position

    pos = clamp((Tz - v_min) / dz, 0, atoms - 1)        (clamping Tz to [v_min, v_max], Algorithm 1)

and its mass p_i is split between l = floor(pos) and l + 1 in proportions (l + 1 - pos) and (pos - l). That is
Algorithm 1 of Bellemare et al. (2017) with u = l + 1 in place of ceil(pos): where pos is an integer (l == ceil)
the whole mass stays on l, which the literal floor/ceil form loses (it gives l and u weights u - pos = 0 and
pos - l = 0). Equivalently, target atom j receives sum_i p_i * max(0, 1 - |pos_i - j|) (the gather form the
fast backends use). Rows of the output sum to the rows of the input, so to 1 for distributions.

This reference scatters with ``index_add_`` over the flattened [B * atoms] output, the common vectorized form
(Kaixhin's Rainbow, many C51 ports), with that floor / floor + 1 split. The arithmetic is float32.
"""

from __future__ import annotations

import torch


def support_values(v_min: float, v_max: float, atoms: int, device: torch.device | str) -> torch.Tensor:
    """z_i = v_min + i * dz in float32, the atoms' values."""
    dz = (v_max - v_min) / (atoms - 1)
    return v_min + dz * torch.arange(atoms, device=device, dtype=torch.float32)


def positions(rewards: torch.Tensor, discounts: torch.Tensor, v_min: float, v_max: float,
              atoms: int) -> torch.Tensor:
    """[B, atoms] fractional target positions of every source atom, clamped to [0, atoms - 1]."""
    dz = (v_max - v_min) / (atoms - 1)
    tz = rewards.float()[:, None] + discounts.float()[:, None] * support_values(v_min, v_max, atoms,
                                                                                 rewards.device)
    return ((tz - v_min) / dz).clamp(0, atoms - 1)


def categorical_projection(next_probs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor,
                           v_min: float, v_max: float, atoms: int) -> torch.Tensor:
    """[B, atoms] float32 target distribution (see the module docstring)."""
    batch = next_probs.shape[0]
    probs = next_probs.float()
    pos = positions(rewards, discounts, v_min, v_max, atoms)
    lower = pos.floor()
    upper_weight = pos - lower
    lower_index = lower.long()
    # At pos == atoms - 1 the upper neighbour does not exist; its weight pos - lower is 0 there.
    upper_index = (lower_index + 1).clamp(max=atoms - 1)
    row_start = (torch.arange(batch, device=next_probs.device) * atoms)[:, None]
    out = torch.zeros(batch * atoms, device=next_probs.device, dtype=torch.float32)
    out.index_add_(0, (lower_index + row_start).reshape(-1), (probs * (1.0 - upper_weight)).reshape(-1))
    out.index_add_(0, (upper_index + row_start).reshape(-1), (probs * upper_weight).reshape(-1))
    return out.view(batch, atoms)
