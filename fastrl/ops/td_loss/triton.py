"""Fused TD loss in Triton: one launch reads each input once and writes |td|, dloss/dq and the loss.

Each program takes a tile of BLOCK_B rows by BLOCK_A (>= A) actions, so a row's argmax / max is a register
reduction. Its share of the loss (already scaled by 1/B for "mean") goes to ``partials[pid]``; with one
program (B <= 512 at A <= 32) that slot *is* the loss, otherwise a ``torch.sum`` over the few partials
finishes it. No atomics: the result is the same bits on every run.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fastrl.ops.td_loss import run_fused

#: Elements of one [BLOCK_B, BLOCK_A] tile per input; bounds the registers a program holds.
TILE_ELEMENTS = 16384
MAX_BLOCK_B = 1024


@triton.jit
def _td_loss_kernel(
    q_ptr, qt_ptr, qo_ptr, r_ptr, d_ptr, w_ptr,
    abs_td_ptr, grad_ptr, loss_ptr,
    B, A,
    stride_q, stride_qt_b, stride_qt_a, stride_qo_b, stride_qo_a, stride_r, stride_d, stride_w,
    scale, kappa,
    DOUBLE: tl.constexpr, HUBER: tl.constexpr, HAS_WEIGHTS: tl.constexpr, PER_SAMPLE: tl.constexpr,
    STORE_GRAD: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_A: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.arange(0, BLOCK_A)
    row_ok = rows < B
    tile_ok = row_ok[:, None] & (cols[None, :] < A)
    rows64 = rows.to(tl.int64)

    qt_ptrs = qt_ptr + rows64[:, None] * stride_qt_b + cols[None, :] * stride_qt_a
    if DOUBLE:
        qo = tl.load(qo_ptr + rows64[:, None] * stride_qo_b + cols[None, :] * stride_qo_a, mask=tile_ok,
                     other=float("-inf")).to(tl.float32)
        best = tl.argmax(qo, axis=1, tie_break_left=True)  # the first maximum, as torch.argmax
        qt = tl.load(qt_ptrs, mask=tile_ok, other=0.0).to(tl.float32)
        next_v = tl.sum(tl.where(cols[None, :] == best[:, None], qt, 0.0), axis=1)
    else:
        qt = tl.load(qt_ptrs, mask=tile_ok, other=float("-inf")).to(tl.float32)
        next_v = tl.where(row_ok, tl.max(qt, axis=1), 0.0)  # padding rows: -inf would make 0 * -inf

    r = tl.load(r_ptr + rows64 * stride_r, mask=row_ok, other=0.0).to(tl.float32)
    d = tl.load(d_ptr + rows64 * stride_d, mask=row_ok, other=0.0).to(tl.float32)
    q = tl.load(q_ptr + rows64 * stride_q, mask=row_ok, other=0.0).to(tl.float32)
    td = r + d * next_v - q
    abs_td = tl.abs(td)
    if HUBER:
        inside = abs_td <= kappa
        per_sample = tl.where(inside, 0.5 * td * td, kappa * (abs_td - 0.5 * kappa))
        dloss_dtd = tl.where(inside, td, tl.where(td > 0, kappa, -kappa))
    else:
        per_sample = td * td
        dloss_dtd = 2.0 * td
    if HAS_WEIGHTS:
        w = tl.load(w_ptr + rows64 * stride_w, mask=row_ok, other=0.0).to(tl.float32)
        per_sample = w * per_sample
        dloss_dtd = w * dloss_dtd

    tl.store(abs_td_ptr + rows, abs_td, mask=row_ok)
    if STORE_GRAD:
        tl.store(grad_ptr + rows, -dloss_dtd * scale, mask=row_ok)  # td = target - q: dtd/dq = -1
    if PER_SAMPLE:
        tl.store(loss_ptr + rows, per_sample, mask=row_ok)
    else:
        tl.store(loss_ptr + pid, tl.sum(tl.where(row_ok, per_sample, 0.0), axis=0) * scale)


def _tile(batch: int, actions: int) -> tuple[int, int, int]:
    """(BLOCK_B, BLOCK_A, num_warps) for a batch and action count."""
    block_a = triton.next_power_of_2(actions)
    block_b = max(1, min(triton.next_power_of_2(batch), MAX_BLOCK_B, TILE_ELEMENTS // block_a))
    elements = block_b * block_a
    num_warps = 4 if elements <= 2048 else 8 if elements <= 8192 else 16
    return block_b, block_a, num_warps


def forward(q_taken, q_next_target, q_next_online, rewards, discounts, weights, *, double, loss, huber_kappa,
            reduction, need_grad):
    """(loss, abs_td, dloss/dq or None), in one kernel launch (plus a sum over partials when B is large)."""
    batch, actions = q_next_target.shape
    device = q_taken.device
    block_b, block_a, num_warps = _tile(batch, actions)
    programs = triton.cdiv(batch, block_b)
    abs_td = torch.empty(batch, device=device, dtype=torch.float32)
    grad = torch.empty(batch, device=device, dtype=torch.float32) if need_grad else None
    per_sample = reduction == "none"
    if per_sample:
        out = torch.empty(batch, device=device, dtype=torch.float32)
    else:
        out = torch.empty((programs,) if programs > 1 else (), device=device, dtype=torch.float32)
    online = q_next_online if double else q_next_target
    scale = 1.0 / batch if reduction == "mean" else 1.0
    _td_loss_kernel[(programs,)](
        q_taken, q_next_target, online, rewards, discounts, weights if weights is not None else rewards,
        abs_td, grad if need_grad else abs_td, out,
        batch, actions,
        q_taken.stride(0), q_next_target.stride(0), q_next_target.stride(1), online.stride(0), online.stride(1),
        rewards.stride(0), discounts.stride(0), weights.stride(0) if weights is not None else 0,
        scale, float(huber_kappa),
        DOUBLE=double, HUBER=loss == "huber", HAS_WEIGHTS=weights is not None, PER_SAMPLE=per_sample,
        STORE_GRAD=need_grad, BLOCK_B=block_b, BLOCK_A=block_a, num_warps=num_warps,
    )
    if not per_sample and programs > 1:
        out = out.sum()
    return out, abs_td, grad


def td_loss(q_taken, q_next_target, q_next_online, rewards, discounts, weights=None, *, double=True,
            loss="huber", huber_kappa=1.0, reduction="mean"):
    return run_fused(forward, q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                     double=double, loss=loss, huber_kappa=huber_kappa, reduction=reduction)
