"""The DQN learner's fused CPU path: its MLP Q networks and Adam's state on the flat buffers of
``fastrl.ops.mlp_q``, so that acting is one compiled call and a gradient step another.

The torch modules stay the source of truth for everything else: their parameters become views into one flat
buffer per network, and Adam's moments and step count views into flat buffers too. So checkpoints, target
copies, evaluation and a resume on a machine that runs the eager path see ordinary modules and an ordinary
``torch.optim.Adam`` state.
"""

from __future__ import annotations

import torch
from torch import nn

from fastrl.ops import mlp_q


def mlp_dims(network: nn.Module, actions: int) -> tuple[int, ...] | None:
    """(D, H1, ..., A) when ``network`` is a chain of Linear layers with ReLU between (a plain MLP Q network),
    else None (dueling or distributional heads, convolutions, other layers)."""
    linears, dims = [], []
    for module in network.modules():
        if isinstance(module, nn.Linear):
            if module.bias is None or (dims and module.in_features != dims[-1]):
                return None
            dims = dims or [module.in_features]
            dims.append(module.out_features)
            linears.append(module)
        elif not isinstance(module, (nn.Flatten, nn.ReLU, nn.Sequential)) and list(module.children()) == []:
            return None
    if not linears or dims[-1] != actions or list(network.parameters()) != [
            p for linear in linears for p in (linear.weight, linear.bias)]:
        return None
    return tuple(dims)


def _flatten(network: nn.Module) -> torch.Tensor:
    """Move ``network``'s parameters into one flat float32 buffer, each parameter a view of it."""
    params = list(network.parameters())
    flat = torch.cat([p.detach().reshape(-1).float() for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


class FusedMLPQ:
    """The online and target networks and Adam's state of a DQN learner, as ``fastrl.ops.mlp_q`` takes them."""

    def __init__(self, online: nn.Module, target: nn.Module, optimizer: torch.optim.Adam, dims: tuple[int, ...]):
        self.dims = dims
        self.online, self.params, self.target = online, _flatten(online), _flatten(target)
        self.optimizer = optimizer
        self.bind_optimizer()

    def bind_optimizer(self) -> None:
        """Put Adam's moments and step count in flat buffers, keeping their values (after
        ``optimizer.load_state_dict``, which makes new tensors, call it again)."""
        params = list(self.online.parameters())
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(self.params), torch.zeros_like(self.params)
        self.step = torch.zeros(len(params))  # one count per parameter tensor, as torch's Adam keeps them
        offset = 0
        for index, p in enumerate(params):
            state = self.optimizer.state[p]
            span = slice(offset, offset + p.numel())
            if state:
                self.exp_avg[span] = state["exp_avg"].reshape(-1)
                self.exp_avg_sq[span] = state["exp_avg_sq"].reshape(-1)
                self.step[index] = float(state["step"])
            state.update(step=self.step[index], exp_avg=self.exp_avg[span].view_as(p),
                         exp_avg_sq=self.exp_avg_sq[span].view_as(p))
            offset += p.numel()
        self.network = mlp_q.BoundNetwork(self.params, self.target, self.exp_avg, self.exp_avg_sq, self.step,
                                          self.dims)

    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        return self.network.greedy(obs)

    def update(self, batch, config, lr: float) -> tuple[float, float, float, torch.Tensor]:
        """One gradient step (``config``: the ``DQNConfig``); (loss, mean Q(s, a), grad norm, |td|)."""
        group = self.optimizer.param_groups[0]
        group["lr"] = lr
        return self.network.update(batch.obs, batch.action, batch.reward, batch.discount, batch.next_obs,
                                   batch.weights, double=config.double, loss=config.loss,
                                   huber_kappa=config.huber_kappa, lr=lr, betas=group["betas"], eps=group["eps"],
                                   max_grad_norm=config.max_grad_norm)
