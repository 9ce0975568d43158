"""C51 / D4PG projection in Triton, in gather form: out[j] = sum_i p_i * max(0, 1 - |pos_i - j|).

A program owns BLOCK_R rows. It loads their probabilities once, computes every source atom's target position
in registers, and for each chunk of BLOCK_J target atoms reduces the [BLOCK_R, BLOCK_J, atoms] tile of
weights over the source axis. No atomics (a scatter-add would need them, and its float sums would depend on
scheduling); at atoms = 51 the tile is [2, 64, 64] and the whole row takes one chunk.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Elements of one [BLOCK_R, BLOCK_J, ATOMS_PAD] weight tile; bounds the registers a program holds.
TILE_ELEMENTS = 8192


@triton.jit
def _projection_kernel(
    p_ptr, r_ptr, d_ptr, out_ptr,
    B, stride_p_b, stride_p_a, stride_r, stride_d,
    v_min, dz,
    ATOMS: tl.constexpr, ATOMS_PAD: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_J: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < B
    rows64 = rows.to(tl.int64)
    src = tl.arange(0, ATOMS_PAD)
    probs = tl.load(p_ptr + rows64[:, None] * stride_p_b + src[None, :] * stride_p_a,
                    mask=row_ok[:, None] & (src[None, :] < ATOMS), other=0.0).to(tl.float32)
    r = tl.load(r_ptr + rows64 * stride_r, mask=row_ok, other=0.0).to(tl.float32)
    d = tl.load(d_ptr + rows64 * stride_d, mask=row_ok, other=0.0).to(tl.float32)

    z = v_min + src.to(tl.float32) * dz
    tz = r[:, None] + d[:, None] * z[None, :]
    pos = tl.minimum(tl.maximum((tz - v_min) / dz, 0.0), ATOMS - 1.0)  # padding atoms carry p = 0

    for j0 in tl.static_range(0, ATOMS_PAD, BLOCK_J):
        targets = j0 + tl.arange(0, BLOCK_J)
        weight = tl.maximum(1.0 - tl.abs(pos[:, None, :] - targets.to(tl.float32)[None, :, None]), 0.0)
        out = tl.sum(probs[:, None, :] * weight, axis=2)
        tl.store(out_ptr + rows64[:, None] * ATOMS + targets[None, :], out,
                 mask=row_ok[:, None] & (targets[None, :] < ATOMS))


def _tile(batch: int, atoms: int) -> tuple[int, int, int, int]:
    """(ATOMS_PAD, BLOCK_J, BLOCK_R, num_warps)."""
    atoms_pad = triton.next_power_of_2(atoms)
    block_j = max(1, min(atoms_pad, TILE_ELEMENTS // atoms_pad))
    block_r = max(1, min(triton.next_power_of_2(batch), TILE_ELEMENTS // (block_j * atoms_pad)))
    num_warps = 4 if block_r * block_j * atoms_pad <= 4096 else 8
    return atoms_pad, block_j, block_r, num_warps


def categorical_projection(next_probs, rewards, discounts, v_min, v_max, atoms):
    batch = next_probs.shape[0]
    atoms_pad, block_j, block_r, num_warps = _tile(batch, atoms)
    out = torch.empty(batch, atoms, device=next_probs.device, dtype=torch.float32)
    _projection_kernel[(triton.cdiv(batch, block_r),)](
        next_probs, rewards, discounts, out,
        batch, next_probs.stride(0), next_probs.stride(1), rewards.stride(0), discounts.stride(0),
        v_min, (v_max - v_min) / (atoms - 1),
        ATOMS=atoms, ATOMS_PAD=atoms_pad, BLOCK_R=block_r, BLOCK_J=block_j, num_warps=num_warps,
    )
    return out
