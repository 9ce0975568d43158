"""Plain torch returns: the specification of every backend, the CPU fallback and the profiles' baseline.

Inputs arrive validated and contiguous (see ``fastrl.ops.returns``): float tensors are float32 or bfloat16
(computed in float32), flags are bool or uint8, all [T, N] with the env index fastest, except the
per-env ``next_value`` / ``bootstrap_value`` [N]. Outputs are float32 [T, N], written into ``out`` when
given. The loops over T (GAE, V-trace) and over the n-step window (n-step) are the torch loops the fast
backends are measured against.
"""

from __future__ import annotations

import torch


def _outputs(like: torch.Tensor, out):
    if out is not None:
        return out
    return (torch.empty(like.shape, dtype=torch.float32, device=like.device),
            torch.empty(like.shape, dtype=torch.float32, device=like.device))


def bootstrap_values(values, terminated, truncated, next_value, final_values):
    """The value each step's target bootstraps from, b_t [T, N] (float32).

    0 where the step terminated; ``final_values[t]`` where it was truncated and final values are given;
    otherwise V(s_{t+1}): ``values[t + 1]``, or ``next_value`` for the last step of the rollout.
    """
    following = torch.cat([values[1:], next_value[None]]).float()
    if final_values is not None:
        following = torch.where(truncated.bool(), final_values.float(), following)
    return torch.where(terminated.bool(), 0.0, following)


def gae(rewards, values, terminated, truncated, next_value, final_values, gamma, lam, out=None):
    """A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}, delta_t = r_t + gamma * b_t - V(s_t).

    done_t = terminated_t | truncated_t cuts the trace; b_t is ``bootstrap_values``. Returns
    (advantages, returns = advantages + values).
    """
    advantages, returns = _outputs(rewards, out)
    v = values.float()
    delta = rewards.float() + gamma * bootstrap_values(values, terminated, truncated, next_value,
                                                       final_values) - v
    trace = (gamma * lam) * (~(terminated.bool() | truncated.bool())).float()
    last = torch.zeros_like(next_value, dtype=torch.float32)
    for t in range(rewards.shape[0] - 1, -1, -1):
        last = delta[t] + trace[t] * last
        advantages[t] = last
    torch.add(advantages, v, out=returns)
    return advantages, returns


def nstep_returns(rewards, values, terminated, truncated, next_value, final_values, gamma, n, out=None):
    """G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m b_{t+m-1}, and the discount gamma^m (0 at termination).

    The window of step t has m = the fewest steps that reach an episode end (terminated or truncated),
    the rollout's last step, or n steps. The loop runs over the window offset k, on all [T, N] at once:
    ``acc`` holds each window's sum so far, ``live`` whether it still grows. Written without in-place
    updates so that torch.compile takes it (the profiles compare with the compiled reference too).
    """
    T = rewards.shape[0]
    r = rewards.float()
    b = bootstrap_values(values, terminated, truncated, next_value, final_values)
    term = terminated.bool()
    stops = term | truncated.bool()  # a window stops at an episode end ...
    stops[-1] = True                  # ... and at the rollout's last step
    acc = torch.zeros_like(r)
    targets = torch.zeros_like(r)
    discounts = torch.zeros_like(r)
    live = torch.ones_like(term)
    scale = 1.0  # gamma^k
    for k in range(min(n, T)):
        acc = acc + torch.where(live, scale * _ahead(r, k, 0.0), 0.0)
        scale *= gamma
        closes = live if k == n - 1 else live & _ahead(stops, k, True)
        targets = torch.where(closes, acc + scale * _ahead(b, k, 0.0), targets)
        discounts = torch.where(closes, scale * (~_ahead(term, k, True)).float(), discounts)
        live = live & ~closes
    if out is None:
        return targets, discounts
    out[0].copy_(targets)
    out[1].copy_(discounts)
    return out


def _ahead(x, k, fill):
    """``x`` k steps ahead: row t holds x[t + k]; rows past the rollout's end hold ``fill``."""
    return torch.cat([x[k:], torch.full_like(x[:k], fill)])


def vtrace(log_rhos, discounts, rewards, values, bootstrap_value, clip_rho, clip_pg_rho, lambda_, out=None):
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, eq. 1 and section 4.2).

    rho_t = exp(log_rhos_t), c_t = lambda_ * min(1, rho_t), delta_t = min(clip_rho, rho_t) *
    (r_t + discounts_t * V_{t+1} - V_t) with V_T = bootstrap_value;
    vs_t - V_t = delta_t + discounts_t * c_t * (vs_{t+1} - V_{t+1});
    pg_advantages_t = min(clip_pg_rho, rho_t) * (r_t + discounts_t * vs_{t+1} - V_t), vs_T = bootstrap_value.
    ``clip_rho`` / ``clip_pg_rho`` of ``inf`` mean no clipping.
    """
    vs, pg_advantages = _outputs(rewards, out)
    rhos = torch.exp(log_rhos.float())
    disc = discounts.float()
    r = rewards.float()
    v = values.float()
    boot = bootstrap_value.float()
    v_next = torch.cat([v[1:], boot[None]])
    delta = torch.clamp(rhos, max=clip_rho) * (r + disc * v_next - v)
    trace = disc * (lambda_ * torch.clamp(rhos, max=1.0))
    acc = torch.zeros_like(boot)
    for t in range(r.shape[0] - 1, -1, -1):
        acc = delta[t] + trace[t] * acc
        vs[t] = acc
    vs += v
    vs_next = torch.cat([vs[1:], boot[None]])
    torch.mul(torch.clamp(rhos, max=clip_pg_rho), r + disc * vs_next - v, out=pg_advantages)
    return vs, pg_advantages
