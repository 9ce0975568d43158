"""Fused TD loss for value-based learners (DQN, double DQN, PER): loss, new priorities and dloss/dq in one pass.

``td_loss`` returns ``(loss, abs_td)``: the (weighted) Huber or squared TD loss in float32, differentiable
with respect to ``q_taken`` only, and the detached per-sample |TD error|, which prioritized replay takes as the
new priorities. ``reference.py`` defines it. The fused backends (``triton``, ``cuda``) compute the loss, |td|
and the per-sample dloss/dq in one kernel launch; ``FusedTDLoss`` hands that saved gradient to autograd, so
the backward pass is one multiply by the incoming gradient.

Inputs are checked for shape, device and dtype on every call (Python attribute checks, no device work).
Finiteness is not checked by default, since that needs a device sync; ``check_finite=True`` checks every
input and names the first bad element (a debugging aid). With non-finite inputs the fused backends and the
reference may differ: the kernels' argmax ignores NaN where torch.argmax picks it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from fastrl.ops import _registry

OP = "td_loss"
LOSSES = ("huber", "mse")
REDUCTIONS = ("mean", "sum", "none")
DTYPES = (torch.float32, torch.bfloat16, torch.float16)

_registry.declare(
    OP,
    {
        "reference": "fastrl.ops.td_loss.reference",
        "triton": "fastrl.ops.td_loss.triton",
        "cuda": "fastrl.ops.td_loss.cuda",
    },
    cpu_order=("reference",),
    cuda_order=("triton", "cuda", "reference"),
)


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
    check_finite: bool = False,
    backend: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """TD loss and new priorities.

    Args:
        q_taken: [B] Q(s, a) of the actions taken (the only input that receives a gradient).
        q_next_target: [B, A] target-network Q(s', .).
        q_next_online: [B, A] online-network Q(s', .), which picks the action when ``double``; unused (may be
            None) when not ``double``.
        rewards: [B] (n-step) rewards.
        discounts: [B] gamma^n, 0 where the episode terminated (the target is then the reward alone).
        weights: [B] importance-sampling weights, or None for 1.
        double: double-Q target (action by the online net, value by the target net) or the vanilla max.
        loss: "huber" (threshold ``huber_kappa``) or "mse" (td^2, as F.mse_loss).
        reduction: "mean" over the batch (not over the weights), "sum", or "none" ([B] losses).
        check_finite: raise ValueError naming the first non-finite input element (costs a device sync).
        backend: "reference", "triton" or "cuda"; None chooses (see ``fastrl.ops._registry``).

    Returns:
        (loss in float32, abs_td [B] float32 without gradient). Inputs may be float32, bfloat16 or float16,
        in any mix; the arithmetic is float32 throughout.
    """
    _check(q_taken, q_next_target, q_next_online, rewards, discounts, weights, double, loss, huber_kappa,
           reduction)
    if check_finite:
        _check_finite(q_taken=q_taken, q_next_target=q_next_target,
                      q_next_online=q_next_online if double else None, rewards=rewards, discounts=discounts,
                      weights=weights)
    impl = _registry.dispatch(OP, "td_loss", q_taken.device, backend)
    return impl(q_taken, q_next_target, q_next_online if double else None, rewards, discounts, weights,
                double=double, loss=loss, huber_kappa=huber_kappa, reduction=reduction)


# ---------------------------------------------------------------------------------------------------------
# autograd for the fused backends
# ---------------------------------------------------------------------------------------------------------

#: forward(q_taken, q_next_target, q_next_online, rewards, discounts, weights, *, double, loss, huber_kappa,
#:         reduction, need_grad) -> (loss, abs_td, dloss/dq as float32 [B] or None when not need_grad)
Forward = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


class FusedTDLoss(torch.autograd.Function):
    """Autograd over a fused forward that also returns the per-sample dloss/dq (already reduction-scaled).

    The backward is ``dloss/dq * grad_output`` cast to q_taken's dtype: no second pass over the q tensors.
    """

    @staticmethod
    def forward(ctx, forward: Forward, q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                double, loss, huber_kappa, reduction):
        out, abs_td, dloss_dq = forward(q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                                        double=double, loss=loss, huber_kappa=huber_kappa,
                                        reduction=reduction, need_grad=True)
        ctx.save_for_backward(dloss_dq)
        ctx.q_dtype = q_taken.dtype
        ctx.mark_non_differentiable(abs_td)
        return out, abs_td

    @staticmethod
    @once_differentiable  # the saved dloss/dq is a constant: no second derivative through it
    def backward(ctx, grad_out, _grad_abs_td):
        (dloss_dq,) = ctx.saved_tensors
        grad_q = (dloss_dq * grad_out).to(ctx.q_dtype)
        return None, grad_q, None, None, None, None, None, None, None, None, None


def run_fused(forward: Forward, q_taken, q_next_target, q_next_online, rewards, discounts, weights, *,
              double: bool, loss: str, huber_kappa: float, reduction: str):
    """Run a fused backend's forward, through ``FusedTDLoss`` only when a gradient can be asked for."""
    if torch.is_grad_enabled() and q_taken.requires_grad:
        return FusedTDLoss.apply(forward, q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                                 double, loss, huber_kappa, reduction)
    out, abs_td, _ = forward(q_taken, q_next_target, q_next_online, rewards, discounts, weights,
                             double=double, loss=loss, huber_kappa=huber_kappa, reduction=reduction,
                             need_grad=False)
    return out, abs_td


# ---------------------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------------------

def _check(q_taken, q_next_target, q_next_online, rewards, discounts, weights, double, loss, huber_kappa,
           reduction) -> None:
    """Raise on bad input. This runs on every call, and at B = 512 a GPU kernel takes microseconds
    (``fastrl profile ops --op td_loss`` times it; profiles/ holds no GPU record yet), so a single pass of
    cheap tests accepts the usual inputs; anything else goes through ``_check_fully``, which accepts or says
    what is wrong."""
    if loss not in LOSSES:
        raise ValueError(f"td_loss: unknown loss {loss!r}; expected one of {LOSSES}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"td_loss: unknown reduction {reduction!r}; expected one of {REDUCTIONS}")
    if loss == "huber" and not (0.0 < huber_kappa < float("inf")):
        raise ValueError(f"td_loss: huber_kappa must be positive and finite, got {huber_kappa!r}")
    try:
        batch, device, matrix = q_taken.shape[0], q_taken.device, q_next_target.shape
        vector = (batch,)
        ok = (q_taken.dim() == 1 and batch > 0 and len(matrix) == 2 and matrix[0] == batch and matrix[1] > 0
              and q_taken.dtype in DTYPES and q_next_target.dtype in DTYPES and q_next_target.device == device
              and rewards.shape == vector and rewards.dtype in DTYPES and rewards.device == device
              and discounts.shape == vector and discounts.dtype in DTYPES and discounts.device == device
              and (weights is None or (weights.shape == vector and weights.dtype in DTYPES
                                       and weights.device == device))
              and (not double or (q_next_online is not None and q_next_online.shape == matrix
                                  and q_next_online.dtype in DTYPES and q_next_online.device == device)))
    except (AttributeError, IndexError, TypeError):
        ok = False
    if not ok:
        _check_fully(q_taken, q_next_target, q_next_online, rewards, discounts, weights, double)


def _check_fully(q_taken, q_next_target, q_next_online, rewards, discounts, weights, double) -> None:
    """Every check, one at a time, raising the error that says what is wrong (for what ``_check`` refused)."""
    _check_tensor("q_taken", q_taken, 1)
    batch = q_taken.shape[0]
    if batch == 0:
        raise ValueError("td_loss: empty batch (q_taken has shape (0,)); expected at least one sample")
    _check_tensor("q_next_target", q_next_target, 2)
    if q_next_target.shape[0] != batch or q_next_target.shape[1] == 0:
        raise ValueError(f"td_loss: q_next_target has shape {tuple(q_next_target.shape)}; expected "
                         f"[B, A] = [{batch}, A >= 1] (B from q_taken)")
    if double:
        if q_next_online is None:
            raise ValueError("td_loss: double=True needs q_next_online (the online network's Q(s', .)); "
                             "pass it, or double=False for the vanilla max target")
        _check_tensor("q_next_online", q_next_online, 2)
        if q_next_online.shape != q_next_target.shape:
            raise ValueError(f"td_loss: q_next_online has shape {tuple(q_next_online.shape)}; expected the "
                             f"shape of q_next_target, {tuple(q_next_target.shape)}")
    named = [("rewards", rewards), ("discounts", discounts)]
    if weights is not None:
        named.append(("weights", weights))
    for name, t in named:
        _check_tensor(name, t, 1)
        if t.shape[0] != batch:
            raise ValueError(f"td_loss: {name} has shape {tuple(t.shape)}; expected [B] = [{batch}] "
                             "(B from q_taken)")
    device = q_taken.device
    for name, t in [("q_next_target", q_next_target), ("q_next_online", q_next_online if double else None),
                    *named]:
        if t is not None and t.device != device:
            raise ValueError(f"td_loss: {name} is on {t.device} but q_taken is on {device}; "
                             "expected all inputs on one device")


def _check_tensor(name: str, t, dim: int) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"td_loss: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != dim:
        raise ValueError(f"td_loss: {name} has shape {tuple(t.shape)}; expected {dim} dimension(s)")
    if t.dtype not in DTYPES:
        raise TypeError(f"td_loss: {name} has dtype {t.dtype}; expected one of float32, bfloat16, float16 "
                        "(the arithmetic is float32)")


def _check_finite(**named: torch.Tensor | None) -> None:
    for name, t in named.items():
        if t is None:
            continue
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            index = where[0] if len(where) == 1 else where
            raise ValueError(f"td_loss: {name}[{index}] is {t[where].item()}; expected finite values "
                             "(check_finite=True)")
