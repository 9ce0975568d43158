"""A small MLP Q network's two hot paths, each one call: its greedy actions, and a whole DQN gradient step.

Why: with one env and a small network (SB3's DQN defaults: batch 32, an MLP of 64x64) a learner is bound by
per-call overhead, not arithmetic. An eager torch update is some sixty op calls (two forward passes for the
target, one for Q(s, a), the loss, autograd, the norm clip, Adam), each costing more than its arithmetic. Here
the network lives in one flat float32 buffer, and each call is one compiled pass over it.

The network: ``dims = (D, H1, ..., A)``, ReLU between layers and none after the last; ``layout`` gives where
each weight and bias lies in the buffer (the order of ``torch.nn.Linear`` parameters).

``update`` is one step of DQN (Mnih et al. 2015): the TD target and loss of ``fastrl.ops.td_loss`` (double or
vanilla, Huber or squared, importance weights, batch mean), the gradient's global norm clipped as
``torch.nn.utils.clip_grad_norm_`` (``max_grad_norm`` 0: not clipped), then ``torch.optim.Adam``'s rule
without weight decay or amsgrad. The parameters, Adam's moments and its step count ([1] float32) change in
place; the step count is kept once per parameter tensor, as torch's Adam keeps it. ``reference.py`` defines
both functions; ``numba`` is the CPU kernel. The DQN learner takes this path
where its ``fused_update`` resolves to True (``fastrl.hardware``).
"""

from __future__ import annotations

import torch

from fastrl.ops import _registry
from fastrl.ops.mlp_q.layout import parameter_count

OP_UPDATE, OP_GREEDY = "mlp_q_update", "mlp_q_greedy"
LOSSES = ("huber", "mse")

for _op in (OP_UPDATE, OP_GREEDY):
    _registry.declare(_op, {"reference": "fastrl.ops.mlp_q.reference", "numba": "fastrl.ops.mlp_q.numba"},
                      cpu_order=("numba", "reference"), cuda_order=("reference",))


def update(params: torch.Tensor, target: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor,
           step: torch.Tensor, dims: tuple[int, ...], obs: torch.Tensor, action: torch.Tensor,
           reward: torch.Tensor, discount: torch.Tensor, next_obs: torch.Tensor,
           weights: torch.Tensor | None = None, *, double: bool = True, loss: str = "huber",
           huber_kappa: float = 1.0, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
           max_grad_norm: float = 0.0, backend: str | None = None) -> tuple[float, float, float, torch.Tensor]:
    """One DQN gradient step on a minibatch (``obs`` [B, ...] flattening to D features, ``action`` [B] int64,
    ``reward`` and ``discount`` [B]: the n-step sum and γ^n, 0 where the episode terminated).

    Returns (loss, mean Q(s, a) over the batch, the gradient's global norm before clipping, |td| [B] float32).
    """
    _check_network(dims, params=params, target=target, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
    _check_step(step)
    _check_batch(dims, obs, action, reward, discount, next_obs, weights, loss)
    impl = _registry.dispatch(OP_UPDATE, "update", params.device, backend)
    return impl(params, target, exp_avg, exp_avg_sq, step, dims, obs, action, reward.float(), discount.float(),
                next_obs, None if weights is None else weights.float(), double=double, loss=loss,
                huber_kappa=huber_kappa, lr=lr, betas=betas, eps=eps, max_grad_norm=max_grad_norm)


def greedy(params: torch.Tensor, dims: tuple[int, ...], obs: torch.Tensor, *,
           backend: str | None = None) -> torch.Tensor:
    """argmax_a Q(s, a) [N] int64 for ``obs`` [N, ...] (ties: the first; the numba backend returns its
    scratch, valid until its next call)."""
    _check_network(dims, params=params)
    _check_rows("obs", obs, dims[0])
    return _registry.dispatch(OP_GREEDY, "greedy", params.device, backend)(params, dims, obs)


class BoundNetwork:
    """``update`` and ``greedy`` on one network's buffers, checked and dispatched once.

    A learner calls these every env step, where checking the four parameter-sized buffers and choosing the
    backend again would cost more than the greedy kernel itself; each call still checks its batch."""

    def __init__(self, params: torch.Tensor, target: torch.Tensor, exp_avg: torch.Tensor,
                 exp_avg_sq: torch.Tensor, step: torch.Tensor, dims: tuple[int, ...], *, backend: str | None = None):
        _check_network(dims, params=params, target=target, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
        _check_step(step)
        self.buffers, self.dims = (params, target, exp_avg, exp_avg_sq, step), dims
        self._update = _registry.dispatch(OP_UPDATE, "update", params.device, backend)
        self._greedy = _registry.dispatch(OP_GREEDY, "greedy", params.device, backend)

    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        """As ``greedy`` of this module."""
        _check_rows("obs", obs, self.dims[0])
        return self._greedy(self.buffers[0], self.dims, obs)

    def update(self, obs, action, reward, discount, next_obs, weights=None, **options):
        """As ``update`` of this module, on the bound buffers (``options``: its keyword arguments, all given)."""
        _check_batch(self.dims, obs, action, reward, discount, next_obs, weights, options["loss"])
        return self._update(*self.buffers, self.dims, obs, action, reward.float(), discount.float(), next_obs,
                            None if weights is None else weights.float(), **options)


def _check_step(step: torch.Tensor) -> None:
    if step.dim() != 1 or len(step) < 1 or step.dtype != torch.float32:
        raise ValueError(f"mlp_q.update: step has shape {tuple(step.shape)} and dtype {step.dtype}; expected "
                         f"[n] float32 (Adam's step count per parameter tensor)")


def _check_batch(dims, obs, action, reward, discount, next_obs, weights, loss) -> None:
    batch = obs.shape[0]
    _check_rows("obs", obs, dims[0])
    _check_rows("next_obs", next_obs, dims[0], batch)
    for name, tensor in (("action", action), ("reward", reward), ("discount", discount), ("weights", weights)):
        if tensor is not None and tuple(tensor.shape) != (batch,):
            raise ValueError(f"mlp_q.update: {name} has shape {tuple(tensor.shape)}; expected ({batch},)")
    if action.dtype != torch.int64:
        raise ValueError(f"mlp_q.update: action has dtype {action.dtype}; expected torch.int64")
    if loss not in LOSSES:
        raise ValueError(f"mlp_q.update: loss={loss!r}; expected one of {LOSSES}")


def _check_network(dims: tuple[int, ...], **buffers: torch.Tensor) -> None:
    if len(dims) < 2 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise ValueError(f"mlp_q: dims={dims!r}; expected a tuple of at least two positive ints (D, ..., A)")
    size = parameter_count(dims)
    for name, buffer in buffers.items():
        if buffer.shape != (size,) or buffer.dtype != torch.float32 or not buffer.is_contiguous():
            raise ValueError(f"mlp_q: {name} has shape {tuple(buffer.shape)} and dtype {buffer.dtype}; expected "
                             f"a contiguous ({size},) float32 buffer for dims {dims}")


def _check_rows(name: str, x: torch.Tensor, features: int, batch: int | None = None) -> None:
    rows = x.shape[0] if x.dim() else 0
    if x.dim() < 2 or x[0].numel() != features or (batch is not None and rows != batch) or not x.is_contiguous():
        expected = f"[{batch if batch is not None else 'B'}, ...] of {features} features per row, contiguous"
        raise ValueError(f"mlp_q: {name} has shape {tuple(x.shape)}; expected {expected}")
