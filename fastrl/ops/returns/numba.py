"""CPU returns with numba: one pass over the rollout, the env loop innermost.

The tensors are [T, N] with the env index fastest, so each kernel walks t (in reverse for the scans) and,
inside, the N envs of row t: contiguous reads and writes, with the scan's carry held in the previous output
row or a length-N array. At N = 4096 the loops are bound by memory traffic, not arithmetic: a branch-free
variant that LLVM vectorized measured no faster, so the plainer form stays. The kernels are serial:
``parallel=True`` over blocks of envs measured slower on a 2-core machine at N = 8, 64 and 4096, the sizes
``fastrl profile ops --op returns`` times (the serial kernels' record: profiles/*/ops.json).

bfloat16 inputs are widened to float32 first (numpy has no bfloat16): a copy of the inputs.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


def _np(t: torch.Tensor) -> np.ndarray:
    """A numpy view of a validated CPU tensor; bfloat16 is widened to a float32 copy."""
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy()


@numba.njit(cache=True, nogil=True)
def _gae(rewards, values, terminated, truncated, next_value, final_values, has_final, gamma, gamma_lam,
         advantages, returns):
    T, N = rewards.shape
    zero = np.float32(0.0)
    after_last = np.zeros(N, dtype=np.float32)  # A_T: nothing follows the rollout
    for t in range(T - 1, -1, -1):
        following = next_value if t == T - 1 else values[t + 1]  # V(s_{t+1}) per env
        later = after_last if t == T - 1 else advantages[t + 1]  # A_{t+1} per env
        for i in range(N):
            term = terminated[t, i]
            trunc = truncated[t, i]
            boot = np.float32(following[i])
            if has_final and trunc:
                boot = np.float32(final_values[t, i])
            if term:
                boot = zero
            v = np.float32(values[t, i])
            delta = np.float32(rewards[t, i]) + gamma * boot - v
            adv = delta + (zero if (term or trunc) else gamma_lam * later[i])
            advantages[t, i] = adv
            returns[t, i] = adv + v


@numba.njit(cache=True, nogil=True)
def _nstep(rewards, values, terminated, truncated, next_value, final_values, has_final, gamma, n,
           returns, discounts, live):
    T, N = rewards.shape
    for t in range(T):
        acc = returns[t]  # the window sums so far, then the returns
        scale = discounts[t]  # gamma^k while a window grows, then its discount
        acc[:] = 0.0
        scale[:] = 1.0
        live[:] = True
        for k in range(min(n, T - t)):
            j = t + k
            closes_all = k == n - 1 or j == T - 1
            following = next_value if j == T - 1 else values[j + 1]
            for i in range(N):
                if live[i]:
                    acc[i] += scale[i] * np.float32(rewards[j, i])
                    scale[i] *= gamma
                    if terminated[j, i]:
                        scale[i] = 0.0
                        live[i] = False
                    elif truncated[j, i] or closes_all:
                        boot = np.float32(following[i])
                        if has_final and truncated[j, i]:
                            boot = np.float32(final_values[j, i])
                        acc[i] += scale[i] * boot
                        live[i] = False


@numba.njit(cache=True, nogil=True)
def _vtrace(rhos_then_pg, discounts, rewards, values, bootstrap_value, clip_rho, clip_pg_rho, lambda_, vs):
    """``rhos_then_pg`` holds exp(log_rhos) on entry (torch's vectorized exp) and pg_advantages on exit."""
    T, N = rewards.shape
    one = np.float32(1.0)
    acc = np.zeros(N, dtype=np.float32)  # vs_{t+1} - V_{t+1}
    for t in range(T - 1, -1, -1):
        v_next = bootstrap_value if t == T - 1 else values[t + 1]
        vs_next = bootstrap_value if t == T - 1 else vs[t + 1]
        for i in range(N):
            rho = rhos_then_pg[t, i]
            disc = np.float32(discounts[t, i])
            r = np.float32(rewards[t, i])
            v = np.float32(values[t, i])
            delta = min(rho, clip_rho) * (r + disc * np.float32(v_next[i]) - v)
            acc[i] = delta + disc * (lambda_ * min(rho, one)) * acc[i]
            vs[t, i] = v + acc[i]
            rhos_then_pg[t, i] = min(rho, clip_pg_rho) * (r + disc * np.float32(vs_next[i]) - v)


def gae(rewards, values, terminated, truncated, next_value, final_values, gamma, lam, out):
    advantages, returns = out
    has_final = final_values is not None
    _gae(_np(rewards), _np(values), terminated.numpy(), truncated.numpy(), _np(next_value),
         _np(final_values if has_final else values), has_final, np.float32(gamma), np.float32(gamma * lam),
         advantages.numpy(), returns.numpy())
    return advantages, returns


def nstep_returns(rewards, values, terminated, truncated, next_value, final_values, gamma, n, out):
    returns, discounts = out
    has_final = final_values is not None
    _nstep(_np(rewards), _np(values), terminated.numpy(), truncated.numpy(), _np(next_value),
           _np(final_values if has_final else values), has_final, np.float32(gamma), n,
           returns.numpy(), discounts.numpy(), np.empty(rewards.shape[1], dtype=np.bool_))
    return returns, discounts


def vtrace(log_rhos, discounts, rewards, values, bootstrap_value, clip_rho, clip_pg_rho, lambda_, out):
    vs, pg_advantages = out
    pg_advantages.copy_(log_rhos).exp_()
    _vtrace(pg_advantages.numpy(), _np(discounts), _np(rewards), _np(values), _np(bootstrap_value),
            np.float32(clip_rho), np.float32(clip_pg_rho), np.float32(lambda_), vs.numpy())
    return vs, pg_advantages
