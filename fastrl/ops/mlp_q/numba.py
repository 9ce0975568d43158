"""CPU kernels of ``fastrl.ops.mlp_q`` with numba: a whole DQN step, or the greedy actions, in one call.

The matrix products go to BLAS (numba's ``np.dot``: scipy's OpenBLAS), which numba's own loops do not
match; the rest (bias, ReLU, the loss, the norm, Adam) are plain loops. Importing this module limits that BLAS
library to one thread (``threadpoolctl``; numpy's and opencv's own BLAS, separate libraries in their wheels,
keep their threads): at these sizes a second BLAS thread only competes with torch's threads and the envs' for the same
cores. ``fastmath`` allows reassociation but not the
assumption that values are finite: a NaN must reach the loss and the gradient norm, where the runner looks.

Scratch memory (activations, deltas, the gradient) is allocated once per network shape and batch size and
reused, so a step touches no new pages. The returned |td| is that scratch: valid until the next call with the
same shapes (the learner hands it to the replay at once).
"""

from __future__ import annotations

import os

import numba
import numpy as np
import scipy.linalg
import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS: loaded before the limit below, so that it applies)
import torch
from threadpoolctl import ThreadpoolController

from fastrl.ops.mlp_q.layout import offsets, parameter_count


def scipys_blas_files() -> list[str]:
    """The BLAS libraries loaded from scipy's wheel (scipy.libs) or package: the ones numba's ``np.dot`` calls.
    Other wheels (numpy's, opencv's) bundle their own OpenBLAS, which this module leaves alone."""
    scipy_dir = os.path.dirname(scipy.linalg.__file__).rsplit(os.sep, 1)[0]  # .../site-packages/scipy
    roots = (scipy_dir + os.sep, scipy_dir + ".libs" + os.sep)
    return [lib.filepath for lib in ThreadpoolController().lib_controllers
            if lib.user_api == "blas" and lib.filepath.startswith(roots)]


def _one_thread_for_numbas_blas() -> None:
    """Limit scipy's BLAS, which numba calls, to one thread."""
    files = scipys_blas_files()
    if files:
        ThreadpoolController().select(filepath=files).limit(limits=1)


_one_thread_for_numbas_blas()

#: reassociate and contract (vectorized sums, fused multiply-adds); no "nnan"/"ninf": NaN must propagate
_FASTMATH = {"reassoc", "contract", "nsz"}
_HUBER, _DOUBLE, _WEIGHTED = 0, 1, 2  # the flags' positions
_KAPPA, _LR, _BETA1, _BETA2, _EPS, _MAX_NORM = range(6)  # the hyperparameters' positions


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _forward(p, dims, offs, x, acts, a_offs):
    """Every layer's output into ``acts`` (layer l's input at a_offs[l], Q at a_offs[L]); x: [B, dims[0]]."""
    batch = x.shape[0]
    layers = dims.shape[0] - 1
    inputs = acts[:batch * dims[0]].reshape((batch, dims[0]))
    for i in range(batch):
        for k in range(dims[0]):
            inputs[i, k] = x[i, k]
    for layer in range(layers):
        n_in, n_out = dims[layer], dims[layer + 1]
        h = acts[a_offs[layer]:a_offs[layer] + batch * n_in].reshape((batch, n_in))
        out = acts[a_offs[layer + 1]:a_offs[layer + 1] + batch * n_out].reshape((batch, n_out))
        np.dot(h, _weight(p, offs, layer, n_in, n_out).T, out)
        bias = p[offs[layer, 1]:offs[layer, 1] + n_out]
        hidden = layer < layers - 1
        for i in range(batch):
            for j in range(n_out):
                s = out[i, j] + bias[j]
                if hidden and s < 0:  # ReLU; NaN passes
                    s = np.float32(0.0)
                out[i, j] = s


@numba.njit(cache=True, nogil=True)
def _weight(p, offs, layer, n_in, n_out):
    """Layer ``layer``'s weight [n_out, n_in], a view of the flat buffer ``p``."""
    return p[offs[layer, 0]:offs[layer, 0] + n_out * n_in].reshape((n_out, n_in))


@numba.njit(cache=True, nogil=True)
def _argmax(q, row, n):
    """torch.argmax of q[row * n : row * n + n]: the first largest, a NaN being the largest."""
    best = 0
    value = q[row * n]
    for j in range(1, n):
        if value != value:
            break
        if q[row * n + j] > value or q[row * n + j] != q[row * n + j]:
            best, value = j, q[row * n + j]
    return best


@numba.njit(cache=True, nogil=True)
def _activation_offsets(dims, batch):
    out = np.zeros(dims.shape[0], dtype=np.int64)
    for layer in range(1, dims.shape[0]):
        out[layer] = out[layer - 1] + batch * dims[layer - 1]
    return out


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _update(params, target, exp_avg, exp_avg_sq, step, dims, offs, obs, action, reward, discount, next_obs,
            weights, flags, hyper, scratch, best, grad, abs_td, result):
    batch = obs.shape[0]
    layers = dims.shape[0] - 1
    actions = dims[layers]
    a_offs = _activation_offsets(dims, batch)
    size = a_offs[layers] + batch * actions
    acts, delta, nxt = scratch[:size], scratch[size:2 * size], scratch[2 * size:3 * size]
    q_at = a_offs[layers]

    # the target y = r + γ^n Q̂(s', a*), a* by the online network (double) or the target's own max
    if flags[_DOUBLE]:
        _forward(params, dims, offs, next_obs, nxt, a_offs)
        for i in range(batch):
            best[i] = _argmax(nxt[q_at:], i, actions)
    _forward(target, dims, offs, next_obs, nxt, a_offs)
    if not flags[_DOUBLE]:
        for i in range(batch):
            best[i] = _argmax(nxt[q_at:], i, actions)
    _forward(params, dims, offs, obs, acts, a_offs)

    # the loss and dloss/dQ(s, a): Huber (threshold κ) or squared TD error, importance-weighted, batch mean
    kappa = np.float32(hyper[_KAPPA])
    total, q_sum = 0.0, 0.0
    for i in range(batch):
        a = action[i]
        if a < 0 or a >= actions:
            raise ValueError("mlp_q.update: an action is outside [0, A)")
        q_taken = acts[q_at + i * actions + a]
        y = np.float32(reward[i]) + np.float32(discount[i]) * nxt[q_at + i * actions + best[i]]
        td = y - q_taken
        size_td = abs(td)
        abs_td[i] = size_td
        if flags[_HUBER]:
            if size_td <= kappa:
                per_sample, slope = np.float32(0.5) * td * td, td
            else:
                per_sample = kappa * (size_td - np.float32(0.5) * kappa)
                slope = kappa if td > 0 else (-kappa if td < 0 else td)  # td NaN: the gradient too
        else:
            per_sample, slope = td * td, np.float32(2.0) * td
        weight = np.float32(weights[i]) if flags[_WEIGHTED] else np.float32(1.0)
        total += weight * per_sample
        q_sum += q_taken
        for j in range(actions):
            delta[q_at + i * actions + j] = 0.0
        delta[q_at + i * actions + a] = -weight * slope / np.float32(batch)

    # backpropagation, last layer first: dW = δᵀ h, db = Σ δ, δ_in = (δ W) ⊙ [h > 0]
    for layer in range(layers - 1, -1, -1):
        n_in, n_out = dims[layer], dims[layer + 1]
        h = acts[a_offs[layer]:a_offs[layer] + batch * n_in].reshape((batch, n_in))
        d_out = delta[a_offs[layer + 1]:a_offs[layer + 1] + batch * n_out].reshape((batch, n_out))
        np.dot(d_out.T, h, _weight(grad, offs, layer, n_in, n_out))
        grad_bias = grad[offs[layer, 1]:offs[layer, 1] + n_out]
        for j in range(n_out):
            grad_bias[j] = 0.0
        for i in range(batch):
            for j in range(n_out):
                grad_bias[j] += d_out[i, j]
        if layer == 0:
            break
        d_in = delta[a_offs[layer]:a_offs[layer] + batch * n_in].reshape((batch, n_in))
        np.dot(d_out, _weight(params, offs, layer, n_in, n_out), d_in)
        for i in range(batch):
            for k in range(n_in):
                if h[i, k] <= 0:  # ReLU's gradient: 0 where its output is 0 (NaN passes)
                    d_in[i, k] = 0.0

    # the global norm, clipped as clip_grad_norm_ (scaled by min(1, max_norm / (norm + 1e-6)))
    squares = 0.0
    for e in range(grad.shape[0]):
        squares += np.float64(grad[e]) * np.float64(grad[e])
    norm = np.float32(np.sqrt(squares))
    max_norm = np.float32(hyper[_MAX_NORM])
    if max_norm > 0:
        coef = max_norm / (norm + np.float32(1e-6))
        if not coef >= 1:  # a NaN norm scales everything to NaN, as torch does
            for e in range(grad.shape[0]):
                grad[e] *= coef

    # Adam (torch.optim.Adam's rule, without weight decay or amsgrad)
    for e in range(step.shape[0]):
        step[e] += 1
    t = np.float64(step[0])
    beta1, beta2 = hyper[_BETA1], hyper[_BETA2]
    step_size = np.float32(hyper[_LR] / (1.0 - beta1**t))
    correction2 = np.float32(np.sqrt(1.0 - beta2**t))
    keep1, keep2 = np.float32(1.0 - beta1), np.float32(beta2)
    mix2, eps = np.float32(1.0 - beta2), np.float32(hyper[_EPS])
    for e in range(params.shape[0]):
        g = grad[e]
        m = exp_avg[e] + keep1 * (g - exp_avg[e])
        v = keep2 * exp_avg_sq[e] + mix2 * g * g
        exp_avg[e], exp_avg_sq[e] = m, v
        params[e] -= step_size * m / (np.sqrt(v) / correction2 + eps)

    result[0], result[1], result[2] = total / batch, q_sum / batch, norm


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _greedy(params, dims, offs, obs, scratch, out):
    a_offs = _activation_offsets(dims, obs.shape[0])
    layers = dims.shape[0] - 1
    _forward(params, dims, offs, obs, scratch, a_offs)
    for i in range(obs.shape[0]):
        out[i] = _argmax(scratch[a_offs[layers]:], i, dims[layers])


class _Scratch:
    """Scratch arrays per (network shape, batch size), made on first use."""

    def __init__(self):
        self._by_shape: dict[tuple, tuple] = {}

    def get(self, dims: tuple[int, ...], batch: int) -> tuple:
        key = (dims, batch)
        if key not in self._by_shape:
            size = 3 * batch * sum(dims)
            self._by_shape[key] = (np.zeros(size, np.float32), np.zeros(batch, np.int64),
                                   np.zeros(parameter_count(dims), np.float32), np.zeros(batch, np.float32),
                                   np.zeros(3, np.float64), np.zeros(batch, np.int64))
        return self._by_shape[key]


_SCRATCH = _Scratch()


def _rows(x: torch.Tensor) -> np.ndarray:
    return x.reshape(x.shape[0], -1).numpy()


def update(params, target, exp_avg, exp_avg_sq, step, dims, obs, action, reward, discount, next_obs, weights, *,
           double: bool, loss: str, huber_kappa: float, lr: float, betas: tuple[float, float], eps: float,
           max_grad_norm: float) -> tuple[float, float, float, torch.Tensor]:
    dim_array, offs = offsets(dims)
    scratch, best, grad, abs_td, result, _ = _SCRATCH.get(dims, obs.shape[0])
    flags = np.array([loss == "huber", double, weights is not None], dtype=np.int64)
    hyper = np.array([huber_kappa, lr, betas[0], betas[1], eps, max_grad_norm], dtype=np.float64)
    _update(params.numpy(), target.numpy(), exp_avg.numpy(), exp_avg_sq.numpy(), step.numpy(), dim_array, offs,
            _rows(obs), action.numpy(), reward.numpy(), discount.numpy(), _rows(next_obs),
            reward.numpy() if weights is None else weights.numpy(), flags, hyper, scratch, best, grad, abs_td,
            result)
    return float(result[0]), float(result[1]), float(result[2]), torch.from_numpy(abs_td)


def greedy(params: torch.Tensor, dims: tuple[int, ...], obs: torch.Tensor) -> torch.Tensor:
    dim_array, offs = offsets(dims)
    scratch, *_, out = _SCRATCH.get(dims, obs.shape[0])
    _greedy(params.numpy(), dim_array, offs, _rows(obs), scratch, out)
    return torch.from_numpy(out)
