"""Plain torch: the specification of ``fastrl.ops.mlp_q`` (see its docstring for the network's layout).

``update`` is the DQN learner's eager step written out on the flat buffers: the forward passes, the TD loss of
``fastrl.ops.td_loss.reference``, autograd, the global-norm clip of ``torch.nn.utils.clip_grad_norm_`` and
the update rule of ``torch.optim.Adam`` (its documented algorithm, without weight decay or amsgrad).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fastrl.ops.mlp_q.layout import layer_slices
from fastrl.ops.td_loss.reference import td_loss


def forward(params: torch.Tensor, dims: tuple[int, ...], obs: torch.Tensor) -> torch.Tensor:
    """Q(s, ·) [B, A] of the MLP whose weights and biases lie in ``params``."""
    h = obs.reshape(obs.shape[0], -1).float()
    layers = layer_slices(dims)
    for index, (weight, bias, shape) in enumerate(layers):
        h = F.linear(h, params[weight].view(shape), params[bias])
        if index < len(layers) - 1:
            h = F.relu(h)
    return h


@torch.no_grad()
def greedy(params: torch.Tensor, dims: tuple[int, ...], obs: torch.Tensor) -> torch.Tensor:
    """argmax_a Q(s, a) [N] int64 (the first index among ties, NaN counting as the largest, as torch.argmax)."""
    return forward(params, dims, obs).argmax(dim=1)


def update(params, target, exp_avg, exp_avg_sq, step, dims, obs, action, reward, discount, next_obs, weights, *,
           double: bool, loss: str, huber_kappa: float, lr: float, betas: tuple[float, float], eps: float,
           max_grad_norm: float) -> tuple[float, float, float, torch.Tensor]:
    """One gradient step; ``params``, ``exp_avg``, ``exp_avg_sq`` and ``step`` (Adam's step count, one per
    parameter tensor: [n] float32, all equal) change in place.

    Returns (loss, mean Q(s, a) of the batch, the gradient's global norm before clipping, |td| [B])."""
    leaf = params.detach().clone().requires_grad_(True)
    q_taken = forward(leaf, dims, obs).gather(1, action[:, None]).squeeze(1)
    with torch.no_grad():
        q_next_target = forward(target, dims, next_obs)
        q_next_online = forward(params, dims, next_obs) if double else None
    value, abs_td = td_loss(q_taken, q_next_target, q_next_online, reward, discount, weights, double=double,
                            loss=loss, huber_kappa=huber_kappa)
    (grad,) = torch.autograd.grad(value, leaf)
    norm = grad.norm()
    if max_grad_norm > 0:  # clip_grad_norm_: always scaled, by at most 1
        grad = grad * torch.clamp(max_grad_norm / (norm + 1e-6), max=1.0)
    with torch.no_grad():
        beta1, beta2 = betas
        step += 1
        t = float(step[0])
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
        params.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1**t))
    return float(value.detach()), float(q_taken.detach().mean()), float(norm), abs_td
