"""Where each layer's weight and bias lie in the flat buffer of an MLP Q network.

``dims = (D, H1, ..., A)``: layer l maps dims[l] -> dims[l+1] with a weight [dims[l+1], dims[l]] (the layout of
``torch.nn.Linear``) followed by its bias, layer after layer: the order of the module's ``parameters()``.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def layer_slices(dims: tuple[int, ...]) -> tuple[tuple[slice, slice, tuple[int, int]], ...]:
    """(weight slice, bias slice, weight shape) per layer."""
    out, offset = [], 0
    for n_in, n_out in zip(dims[:-1], dims[1:], strict=True):
        weight = slice(offset, offset + n_out * n_in)
        bias = slice(weight.stop, weight.stop + n_out)
        out.append((weight, bias, (n_out, n_in)))
        offset = bias.stop
    return tuple(out)


def parameter_count(dims: tuple[int, ...]) -> int:
    return layer_slices(dims)[-1][1].stop


@functools.cache
def offsets(dims: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For the compiled kernels: ``dims`` as int64, and [L, 2] int64 of each layer's weight and bias offsets."""
    starts = [(weight.start, bias.start) for weight, bias, _ in layer_slices(dims)]
    return np.asarray(dims, dtype=np.int64), np.asarray(starts, dtype=np.int64).reshape(-1, 2)
