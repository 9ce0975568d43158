"""One rule for naming a device: a CUDA device without an index is the current CUDA device.

``torch.device("cuda")`` carries no index, while tensors, generators and CUDA streams made on it report
``cuda:<current>``; comparing the two, or handing the bare name to CuPy or a stream lookup, goes wrong. Every
part that keeps a device resolves it here once, so the rule has one copy."""

from __future__ import annotations

import torch


def with_index(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``; a CUDA one gets the current device's index when it names none."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def cuda_index(device: str | torch.device) -> int:
    """The index of the CUDA device ``device`` names (the current one for a bare ``"cuda"``)."""
    return with_index(device).index
