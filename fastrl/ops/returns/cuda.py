"""CUDA C returns (``kernels/returns.cu``): thin launchers through ``fastrl.ops._cuda``.

The scans run one thread per env (GAE, V-trace); n-step windows one thread per (step, env). Scalars go
to the kernels as numpy scalars of the exact C types (CuPy would pass a Python float as a double).
"""

from __future__ import annotations

import numpy as np
import torch

from fastrl.ops import _cuda

THREADS = 128  #: threads per block; the scans have only N threads in all, so small blocks spread them over SMs


def _suffix(t: torch.Tensor) -> str:
    return "bf16" if t.dtype == torch.bfloat16 else "f32"


def _raw(t: torch.Tensor) -> torch.Tensor:
    """A same-bytes view CuPy can take through DLPack: it has no bfloat16, and flags are bytes in C."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16)
    if t.dtype == torch.bool:
        return t.view(torch.uint8)
    return t


def gae(rewards, values, terminated, truncated, next_value, final_values, gamma, lam, out):
    advantages, returns = out
    T, N = rewards.shape
    device = rewards.device
    fn = _cuda.kernel("returns", f"gae_{_suffix(rewards)}", device)
    has_final = final_values is not None
    _cuda.launch(fn, _cuda.blocks(N, THREADS), THREADS, (
        *map(_raw, (rewards, values, terminated, truncated, next_value, final_values if has_final else values)),
        np.int32(has_final), advantages, returns, np.int64(T), np.int64(N), np.float32(gamma),
        np.float32(gamma * lam)), device)
    return advantages, returns


def nstep_returns(rewards, values, terminated, truncated, next_value, final_values, gamma, n, out):
    returns, discounts = out
    T, N = rewards.shape
    device = rewards.device
    fn = _cuda.kernel("returns", f"nstep_{_suffix(rewards)}", device)
    has_final = final_values is not None
    _cuda.launch(fn, _cuda.blocks(T * N, 256), 256, (
        *map(_raw, (rewards, values, terminated, truncated, next_value, final_values if has_final else values)),
        np.int32(has_final), returns, discounts, np.int64(T), np.int64(N), np.float32(gamma),
        np.int32(min(n, T))), device)  # a window never outruns the rollout
    return returns, discounts


def vtrace(log_rhos, discounts, rewards, values, bootstrap_value, clip_rho, clip_pg_rho, lambda_, out):
    vs, pg_advantages = out
    T, N = rewards.shape
    device = rewards.device
    fn = _cuda.kernel("returns", f"vtrace_{_suffix(rewards)}", device)
    _cuda.launch(fn, _cuda.blocks(N, THREADS), THREADS, (
        *map(_raw, (log_rhos, discounts, rewards, values, bootstrap_value)), vs, pg_advantages, np.int64(T), np.int64(N),
        np.float32(clip_rho), np.float32(clip_pg_rho), np.float32(lambda_)), device)
    return vs, pg_advantages
