"""Triton returns: one program per block of envs; the scans walk T in reverse, a tile of steps at a time.

A one-step-at-a-time loop would wait for each step's loads before the next (the loads do not depend on
the scan, but nothing overlaps them). Instead a program loads a [BLOCK_T, BLOCK_N] tile of steps at once
(rows in reverse time order, envs fastest: coalesced) and solves the tile's part of the linear recurrence
x_t = d_t + c_t * x_{t+1} with ``tl.associative_scan`` over affine maps, then applies the carry from the
later tile. The rows are loaded latest step first and scanned forward, so the combine's argument order is
the plain one (earlier in the scan = later in time). With one warp and 32 envs per program each thread
owns one env's column: compiled for sm_90, the scan needs no shuffles and no barriers. GAE scans (c, d) = (gamma * lam * not-done, delta); V-trace scans (discount * c, delta) and also
needs x_{t+1} per row (for vs_{t+1}), which it gets by scanning the maps of step t + 1 (loaded again,
from cache) with the identity at the tile's first row. n-step windows have no carry at all: a 2-D grid
over (steps, envs) with a loop over the window.

Inputs may be float32 or bfloat16 (loaded and then widened to float32); flags arrive as uint8 views.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

# Not yet tuned on a GPU (none in the session that wrote this).
BLOCK_T = 32  #: steps per tile of a scan
BLOCK_N = 32  #: envs per program (32 x 4 B = one 128 B line per row)
NSTEP_BLOCK_T = 8  #: steps per program of the n-step grid


@triton.jit
def _compose(c_later, d_later, c_now, d_now):
    """The map x -> d_now + c_now * (d_later + c_later * x): step `now` after the later steps."""
    return c_now * c_later, d_now + c_now * d_later


@triton.jit
def _gae_kernel(rewards, values, terminated, truncated, next_value, final_values, advantages, returns,
                T, N, gamma, gamma_lam, HAS_FINAL: tl.constexpr, BLOCK_T: tl.constexpr,
                BLOCK_N: tl.constexpr):
    envs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    env_ok = envs < N
    next_v = tl.load(next_value + envs, mask=env_ok, other=0.0).to(tl.float32)
    rows = tl.arange(0, BLOCK_T)  # scan order: rows[0] is the tile's latest step
    carry = tl.zeros([BLOCK_N], dtype=tl.float32)  # the advantage of the step after the tile
    for tile in range(tl.cdiv(T, BLOCK_T)):
        times = T - 1 - tile * BLOCK_T - rows
        ok = (times >= 0)[:, None] & env_ok[None, :]
        offs = times.to(tl.int64)[:, None] * N + envs[None, :]
        r = tl.load(rewards + offs, mask=ok, other=0.0).to(tl.float32)
        v = tl.load(values + offs, mask=ok, other=0.0).to(tl.float32)
        term = tl.load(terminated + offs, mask=ok, other=0) != 0
        trunc = tl.load(truncated + offs, mask=ok, other=0) != 0
        last_step = (times == T - 1)[:, None]
        following = tl.load(values + offs + N, mask=ok & ~last_step, other=0.0).to(tl.float32)
        following = tl.where(last_step, next_v[None, :], following)
        if HAS_FINAL:
            final = tl.load(final_values + offs, mask=ok & trunc, other=0.0).to(tl.float32)
            following = tl.where(trunc, final, following)
        boot = tl.where(term, 0.0, following)
        delta = r + gamma * boot - v
        c = tl.where(term | trunc, 0.0, gamma_lam)
        c_tile, d_tile = tl.associative_scan((c, delta), 0, _compose)
        adv = d_tile + c_tile * carry[None, :]
        tl.store(advantages + offs, adv, mask=ok)
        tl.store(returns + offs, adv + v, mask=ok)
        carry = tl.sum(tl.where((rows == BLOCK_T - 1)[:, None], adv, 0.0), axis=0)


@triton.jit
def _nstep_kernel(rewards, values, terminated, truncated, next_value, final_values, returns, discounts,
                  T, N, gamma, n, HAS_FINAL: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr):
    times = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    envs = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    env_ok = envs < N
    ok = (times < T)[:, None] & env_ok[None, :]
    next_v = tl.load(next_value + envs, mask=env_ok, other=0.0).to(tl.float32)
    out_offs = times.to(tl.int64)[:, None] * N + envs[None, :]
    acc = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
    scale = tl.full([BLOCK_T, BLOCK_N], 1.0, dtype=tl.float32)
    ret = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
    disc = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
    live = ok
    for k in range(n):
        step = times + k
        offs = out_offs + k * N
        r = tl.load(rewards + offs, mask=live, other=0.0).to(tl.float32)
        term = tl.load(terminated + offs, mask=live, other=0) != 0
        trunc = tl.load(truncated + offs, mask=live, other=0) != 0
        acc = tl.where(live, acc + scale * r, acc)
        scale = scale * gamma
        last_step = (step == T - 1)[:, None]
        window_full = (step - times == n - 1)[:, None]  # k == n - 1, as a tensor (the interpreter needs one)
        closes = live & (term | trunc | last_step | window_full)
        following = tl.load(values + offs + N, mask=closes & ~last_step, other=0.0).to(tl.float32)
        following = tl.where(last_step, next_v[None, :], following)
        if HAS_FINAL:
            final = tl.load(final_values + offs, mask=closes & trunc, other=0.0).to(tl.float32)
            following = tl.where(trunc, final, following)
        boot = tl.where(term, 0.0, following)
        ret = tl.where(closes, acc + scale * boot, ret)
        disc = tl.where(closes, tl.where(term, 0.0, scale), disc)
        live = live & ~closes
    tl.store(returns + out_offs, ret, mask=ok)
    tl.store(discounts + out_offs, disc, mask=ok)


@triton.jit
def _vtrace_maps(log_rhos, discounts, rewards, values, bootstrap, times, envs, ok, T, N, clip_rho, lambda_):
    """Per row of ``times``: rho, discount, reward, V_t, V_{t+1}, and the scan's map (c, delta)."""
    offs = times.to(tl.int64)[:, None] * N + envs[None, :]
    rho = tl.exp(tl.load(log_rhos + offs, mask=ok, other=0.0).to(tl.float32))
    disc = tl.load(discounts + offs, mask=ok, other=0.0).to(tl.float32)
    r = tl.load(rewards + offs, mask=ok, other=0.0).to(tl.float32)
    v = tl.load(values + offs, mask=ok, other=0.0).to(tl.float32)
    last_step = (times == T - 1)[:, None]
    v_next = tl.load(values + offs + N, mask=ok & ~last_step, other=0.0).to(tl.float32)
    v_next = tl.where(last_step, bootstrap[None, :], v_next)
    delta = tl.minimum(rho, clip_rho) * (r + disc * v_next - v)
    c = disc * (lambda_ * tl.minimum(rho, 1.0))
    return rho, disc, r, v, v_next, c, delta


@triton.jit
def _vtrace_kernel(log_rhos, discounts, rewards, values, bootstrap_value, vs_out, pg_out,
                   T, N, clip_rho, clip_pg_rho, lambda_, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr):
    envs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    env_ok = envs < N
    bootstrap = tl.load(bootstrap_value + envs, mask=env_ok, other=0.0).to(tl.float32)
    rows = tl.arange(0, BLOCK_T)
    first = (rows == 0)[:, None]
    carry = tl.zeros([BLOCK_N], dtype=tl.float32)  # vs - V at the step after the tile
    for tile in range(tl.cdiv(T, BLOCK_T)):
        times = T - 1 - tile * BLOCK_T - rows
        ok = (times >= 0)[:, None] & env_ok[None, :]
        rho, disc, r, v, v_next, c, delta = _vtrace_maps(log_rhos, discounts, rewards, values, bootstrap,
                                                         times, envs, ok, T, N, clip_rho, lambda_)
        # The maps of step t + 1; the tile's first row gets the identity, its step t + 1 is in `carry`.
        _, _, _, _, _, c1, delta1 = _vtrace_maps(log_rhos, discounts, rewards, values, bootstrap,
                                                 times + 1, envs, ok & ~first, T, N, clip_rho, lambda_)
        c1 = tl.where(first, 1.0, c1)
        delta1 = tl.where(first, 0.0, delta1)
        c_tile, d_tile = tl.associative_scan((c1, delta1), 0, _compose)
        acc_next = d_tile + c_tile * carry[None, :]  # vs_{t+1} - V_{t+1}; 0 after the last step
        acc = delta + c * acc_next
        offs = times.to(tl.int64)[:, None] * N + envs[None, :]
        tl.store(vs_out + offs, v + acc, mask=ok)
        pg = tl.minimum(rho, clip_pg_rho) * (r + disc * (v_next + acc_next) - v)
        tl.store(pg_out + offs, pg, mask=ok)
        carry = tl.sum(tl.where((rows == BLOCK_T - 1)[:, None], acc, 0.0), axis=0)


def _flags(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.uint8) if t.dtype == torch.bool else t


def gae(rewards, values, terminated, truncated, next_value, final_values, gamma, lam, out):
    advantages, returns = out
    T, N = rewards.shape
    has_final = final_values is not None
    _gae_kernel[(triton.cdiv(N, BLOCK_N),)](
        rewards, values, _flags(terminated), _flags(truncated), next_value,
        final_values if has_final else values, advantages, returns, T, N, float(gamma), float(gamma * lam),
        HAS_FINAL=has_final, BLOCK_T=BLOCK_T, BLOCK_N=BLOCK_N, num_warps=1)
    return advantages, returns


def nstep_returns(rewards, values, terminated, truncated, next_value, final_values, gamma, n, out):
    returns, discounts = out
    T, N = rewards.shape
    has_final = final_values is not None
    grid = (triton.cdiv(T, NSTEP_BLOCK_T), triton.cdiv(N, BLOCK_N))
    _nstep_kernel[grid](
        rewards, values, _flags(terminated), _flags(truncated), next_value,
        final_values if has_final else values, returns, discounts, T, N, float(gamma), min(n, T),  # same windows
        HAS_FINAL=has_final, BLOCK_T=NSTEP_BLOCK_T, BLOCK_N=BLOCK_N, num_warps=1)
    return returns, discounts


def vtrace(log_rhos, discounts, rewards, values, bootstrap_value, clip_rho, clip_pg_rho, lambda_, out):
    vs, pg_advantages = out
    T, N = rewards.shape
    _vtrace_kernel[(triton.cdiv(N, BLOCK_N),)](
        log_rhos, discounts, rewards, values, bootstrap_value, vs, pg_advantages, T, N,
        float(clip_rho), float(clip_pg_rho), float(lambda_), BLOCK_T=BLOCK_T, BLOCK_N=BLOCK_N, num_warps=1)
    return vs, pg_advantages
