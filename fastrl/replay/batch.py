"""What ``ReplayBuffer.sample`` returns: ``Batch``, built by either engine."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    """A sampled batch; every tensor on the buffer's device, first dimension B. Intact until two more batches
    of its size are drawn (the CPU engine reuses its output buffers): clone what must live longer."""

    obs: torch.Tensor       #: s_t
    action: torch.Tensor    #: a_t
    reward: torch.Tensor    #: float32: the n-step discounted reward sum
    discount: torch.Tensor  #: float32: gamma^n' (0 where the episode terminated): target = reward + discount * V(s')
    next_obs: torch.Tensor  #: s_{t+n'}
    weights: torch.Tensor   #: float32 importance weights (1 for uniform sampling)
    indices: torch.Tensor   #: int64 slots, for update_priorities
