"""Plain-torch TD loss: the specification of ``fastrl.ops.td_loss`` and the baseline in profiles.

For each sample::

    a*      = argmax_a q_next_online[a]  (double Q; the first index among ties, as torch.argmax)
    next_v  = q_next_target[a*]           (double)   or   max_a q_next_target[a]   (vanilla)
    target  = reward + discount * next_v  (a constant: no gradient reaches the q_next tensors)
    td      = target - q_taken
    loss_i  = weight * huber_kappa(td)    or   weight * td**2   ("mse", as F.mse_loss)

and the loss is ``mean_i loss_i`` ("mean"), ``sum_i loss_i`` ("sum") or the vector ("none"). Everything is
computed in float32 whatever the input dtypes; the gradient reaches ``q_taken`` in its own dtype by autograd.
Inputs are assumed valid (``fastrl.ops.td_loss.td_loss`` checks them), which keeps this function free of
Python branches on data, so ``torch.compile`` can compile it as a baseline.
"""

from __future__ import annotations

import torch


def huber(td: torch.Tensor, kappa: float) -> torch.Tensor:
    """0.5 td^2 for |td| <= kappa, kappa (|td| - kappa/2) beyond (F.huber_loss with delta=kappa)."""
    abs_td = td.abs()
    return torch.where(abs_td <= kappa, 0.5 * td * td, kappa * (abs_td - 0.5 * kappa))


def td_loss(
    q_taken: torch.Tensor,
    q_next_target: torch.Tensor,
    q_next_online: torch.Tensor | None,
    rewards: torch.Tensor,
    discounts: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    double: bool = True,
    loss: str = "huber",
    huber_kappa: float = 1.0,
    reduction: str = "mean",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss in float32, |td| in float32, detached). See the module docstring for the definition."""
    q_target = q_next_target.detach().float()
    if double:
        best = q_next_online.detach().argmax(dim=1, keepdim=True)
        next_v = q_target.gather(1, best).squeeze(1)
    else:
        next_v = q_target.amax(dim=1)
    target = rewards.detach().float() + discounts.detach().float() * next_v
    td = target - q_taken.float()
    per_sample = huber(td, huber_kappa) if loss == "huber" else td * td
    if weights is not None:
        per_sample = weights.detach().float() * per_sample
    if reduction == "mean":
        out = per_sample.mean()
    elif reduction == "sum":
        out = per_sample.sum()
    else:
        out = per_sample
    return out, td.detach().abs()
