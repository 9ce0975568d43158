"""What several learners share, in one neutral module (no learner imports another's): running statistics of
observations, and the optimizer they build from their config."""

from __future__ import annotations

import torch
from torch import nn

from fastrl import checkpoint


class RunningMeanStd(nn.Module):
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update), float64 buffers.

    ``update`` may all-reduce each batch's moments first, so that data-parallel ranks keep the same statistics.
    """

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor, mask: torch.Tensor, all_reduce: bool = False) -> None:
        """Add the rows of ``x`` [B, *shape] where ``mask`` [B] is True."""
        weight = mask.to(torch.float64).view(-1, *([1] * (x.dim() - 1)))
        x = x.to(torch.float64)
        moments = torch.cat([weight.sum().view(1), (x * weight).sum(0).flatten(),
                             (x.square() * weight).sum(0).flatten()])
        if all_reduce:
            torch.distributed.all_reduce(moments)
        size = self.mean.numel()
        count, total, squares = moments[0], moments[1:1 + size].view_as(self.mean), moments[1 + size:].view_as(self.mean)
        batch_mean = total / count.clamp(min=1.0)
        batch_var = (squares / count.clamp(min=1.0) - batch_mean.square()).clamp(min=0.0)
        delta = batch_mean - self.mean
        new_count = self.count + count
        self.var.copy_((self.var * self.count + batch_var * count + delta.square() * self.count * count / new_count)
                       / new_count)
        self.mean.add_(delta * count / new_count)
        self.count.copy_(new_count)

    def normalize(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        return ((x.float() - self.mean.float()) * torch.rsqrt(self.var.float() + 1e-8)).clamp(-clip, clip)


def make_optimizer(name: str, params, *, lr: float, eps: float, rmsprop_alpha: float,
                   rmsprop_centered: bool = False) -> torch.optim.Optimizer:
    """Adam runs fused (one kernel over all parameters instead of a loop over tensors); torch has no fused
    RMSProp, so it runs with foreach (one call per operation)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    return torch.optim.RMSprop(params, lr=lr, alpha=rmsprop_alpha, eps=eps, centered=rmsprop_centered,
                               foreach=True)


def net_learner_state(learner) -> dict:
    """The checkpointed state of a learner with one network ``net``, its ``optimizer``, a ``generator``, an
    ``updates`` count and ``stats`` sums (AlphaZero, IMPALA; PPO adds its own fields)."""
    return {"net": learner.net.state_dict(), "optimizer": learner.optimizer.state_dict(),
            "generator": checkpoint.generator_state(learner.generator), "updates": learner.updates,
            "stats": learner.stats}


def load_net_learner_state(learner, state: dict) -> None:
    """Load what ``net_learner_state`` saved into ``learner``."""
    learner.net.load_state_dict(state["net"])
    learner.optimizer.load_state_dict(state["optimizer"])
    checkpoint.set_generator_state(learner.generator, state["generator"])
    learner.updates = int(state["updates"])
    learner.stats.copy_(state["stats"])


def take_means(stats: torch.Tensor, names: tuple[str, ...]) -> dict[str, float]:
    """The means of the statistics summed in ``stats`` since the last call (their sums in the order of
    ``names``, then how many were summed), in one host read; the sums start again from 0. Empty where
    nothing was summed."""
    sums = stats.tolist()
    stats.zero_()
    count = sums[-1]
    if not count:
        return {}
    return {name: total / count for name, total in zip(names, sums[:-1], strict=True)}
