"""UNREAL's auxiliary losses (Jaderberg et al. 2017, section 3), each a plain function of one replayed sample.

Pixel control (3.1): the pseudo-reward of cell c between frames s_t and s_{t+1} is the mean absolute change of
its pixels (over the cell and the channels); an auxiliary policy's Q^c(s, a) is learned for every cell by
n-step Q-learning on a replayed sequence s_0 … s_n::

    R^c_n = 0 if s_n is terminal else max_a Q^c(s_n, a)   (not differentiated)
    R^c_t = r^c_t + γ_pc R^c_{t+1}
    L_PC = Σ_t Σ_c ½ (R^c_t − Q^c(s_t, a_t))²

Reward prediction (3.2): from the last k frames before a reward, classify it as zero, positive or negative;
cross-entropy, L_RP = −log p(class(r_τ) | s_{τ−k+1} … s_τ) (the sampling is skewed so that half the samples
are rewarding: ``replay.py``).

Value-function replay (3.3): the value loss again on a replayed sequence, from the n-step returns::

    R_n = 0 if s_n is terminal else V(s_n);  R_t = r_t + γ R_{t+1};  L_VR = Σ_t (R_t − V(s_t))²
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: the reward predictor's classes, as the index of its logits
ZERO, POSITIVE, NEGATIVE = 0, 1, 2


def pixel_change(frames: torch.Tensor, cell: int) -> torch.Tensor:
    """The pseudo-rewards r^c_t of a sequence: ``frames`` [T+1, H, W] or [T+1, C, H, W] → [T, H/cell, W/cell],
    the mean absolute change between consecutive frames over each ``cell`` x ``cell`` cell and the channels."""
    x = frames.float()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    change = (x[1:] - x[:-1]).abs().mean(1, keepdim=True)  # over the channels: [T, 1, H, W]
    return F.avg_pool2d(change, cell).squeeze(1)


def nstep_returns(rewards: torch.Tensor, bootstrap: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_t = r_t + γ R_{t+1} for t = T−1 … 0 from R_T = ``bootstrap``; ``rewards`` [T, ...], ``bootstrap`` [...]."""
    out = torch.empty_like(rewards)
    big_r = bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):
        big_r = rewards[t] + gamma * big_r
        out[t] = big_r
    return out


def pixel_control_loss(q: torch.Tensor, actions: torch.Tensor, pseudo_rewards: torch.Tensor, terminal: bool,
                       gamma: float) -> torch.Tensor:
    """L_PC of one sequence: ``q`` [T+1, A, H', W'] the cells' Q of s_0 … s_T, ``actions`` [T] the actions
    taken, ``pseudo_rewards`` [T, H', W'] (``pixel_change``); ``terminal``: s_T ended the episode."""
    steps = actions.shape[0]
    bootstrap = torch.zeros_like(q[steps, 0]) if terminal else q[steps].detach().max(0).values
    targets = nstep_returns(pseudo_rewards, bootstrap, gamma)
    index = actions.view(steps, 1, 1, 1).expand(steps, 1, *q.shape[2:])
    q_taken = q[:steps].gather(1, index).squeeze(1)
    return 0.5 * (targets - q_taken).pow(2).sum()


def reward_class(rewards: torch.Tensor) -> torch.Tensor:
    """The class of each reward: ZERO, POSITIVE or NEGATIVE (int64)."""
    return torch.where(rewards > 0, POSITIVE, torch.where(rewards < 0, NEGATIVE, ZERO)).long()


def reward_prediction_loss(logits: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """L_RP summed over a batch: ``logits`` [B, 3] of the three classes, ``rewards`` [B] the rewards to predict."""
    return F.cross_entropy(logits, reward_class(rewards), reduction="sum")


def value_replay_loss(values: torch.Tensor, rewards: torch.Tensor, terminal: bool, gamma: float) -> torch.Tensor:
    """L_VR of one sequence: ``values`` [T+1] V(s_0) … V(s_T), ``rewards`` [T]; ``terminal``: s_T ended it."""
    steps = rewards.shape[0]
    bootstrap = torch.zeros(()) if terminal else values[steps].detach()
    returns = nstep_returns(rewards, bootstrap, gamma)
    return (returns - values[:steps]).pow(2).sum()
