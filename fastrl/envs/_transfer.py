"""Between the host engines and the env's device: outputs in (host buffers -> torch on ``device``), actions out.

A step's outputs are written into the host buffers of a *slot* (one numpy array per field), then the slot is
shipped: its tensors on ``device`` come back. Two slots are used in turn, so a step's tensors stay valid
through the next step (the ``VecEnv`` contract), and nothing is allocated per step.

CPU: a slot's host arrays are views of its preallocated CPU tensors, so shipping costs nothing. (The
engines' own observation arrays, fresh every step, are handed over by the caller with ``torch.from_numpy``
where their dtype already fits: no copy at all.)

CUDA: a slot's host arrays are views into one pinned buffer (fields packed, 64-byte aligned); shipping is a
single ``non_blocking`` copy of it into the slot's preallocated device buffer, whose views are returned.
Before a slot's pinned buffer is refilled, the event recorded after its last copy was queued is waited on,
so a copy in flight is never overwritten. The copy is queued on the current stream, so work queued after
``step`` on that stream sees the data.

Why slots rather than ``torch.from_numpy`` per field: right after an engine step the caches are cold, and
every distinct torch or numpy call is then costly next to the step; one compiled kernel writing every small
field into a slot is a single call. ``fastrl bench envs`` measures what the interface costs beside the raw
engine (profiles/*/envs.json).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from fastrl.devices import with_index

_ALIGN = 64  # bytes; keeps every field's view aligned for any dtype and vector loads


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


def actions_to_host(actions, where: str) -> np.ndarray:
    """``actions`` as a numpy array on the host (no copy for a CPU tensor or a numpy array)."""
    if isinstance(actions, torch.Tensor):
        try:
            return actions.numpy()  # the common case in one call (a CPU tensor without grad)
        except (RuntimeError, TypeError):
            pass
        if actions.requires_grad:
            actions = actions.detach()
        if actions.device.type != "cpu":
            actions = actions.cpu()  # one blocking copy: the engine needs the values now
        if actions.dtype == torch.bfloat16:  # numpy has no bfloat16
            actions = actions.float()
        return actions.numpy()
    if isinstance(actions, np.ndarray):
        return actions
    raise TypeError(f"{where}: actions are a {type(actions).__name__}; expected a torch tensor or a numpy array")


class Slot:
    """Host arrays to fill (``host``) and the tensors on the device they become (``tensors``)."""

    host: dict[str, np.ndarray]
    tensors: dict[str, torch.Tensor]
    #: where ``ToDevice.elsewhere``: the copy of ``tensors`` made by the last ``ship``
    shipped: dict[str, torch.Tensor]
    #: the owner's result built once over ``tensors`` (an env's ``Step``), returned each time the slot is used
    result: Any = None


class ToDevice:
    """Two slots of preallocated buffers for the fields ``name -> (shape, torch dtype)``, used in turn."""

    def __init__(self, device: torch.device, fields: dict[str, tuple[tuple[int, ...], torch.dtype]]):
        self.device = device = with_index(device)
        self.on_cuda = device.type == "cuda"
        if self.on_cuda:
            self.slots = _pinned_slots(device, fields)
        else:
            self.slots = (_HostSlot(fields), _HostSlot(fields))
        self.elsewhere = device.type not in ("cpu", "cuda")  # e.g. mps: a plain copy when shipped
        self._turn = 0

    def next(self) -> Slot:
        """The slot to fill for this step (on CUDA, once its previous copy to the device is done)."""
        self._turn ^= 1
        slot = self.slots[self._turn]
        if self.on_cuda:
            slot.copied.synchronize()
        return slot

    def ship(self, slot: Slot) -> None:
        """Make the slot's host arrays visible on the device: ``slot.tensors`` (CPU, CUDA; on CUDA the copy
        is queued on the current stream) or, elsewhere, a fresh copy in ``slot.shipped``."""
        if self.on_cuda:
            slot.device_bytes.copy_(slot.pinned_bytes, non_blocking=True)
            slot.copied.record(torch.cuda.current_stream(self.device))
        elif self.elsewhere:
            slot.shipped = {name: tensor.to(self.device) for name, tensor in slot.tensors.items()}


class _HostSlot(Slot):
    """CPU: preallocated tensors, and numpy views of them to fill."""

    def __init__(self, fields: dict[str, tuple[tuple[int, ...], torch.dtype]]):
        self.tensors = {name: torch.empty(shape, dtype=dtype) for name, (shape, dtype) in fields.items()}
        self.host = {name: tensor.numpy() for name, tensor in self.tensors.items()}


class _PinnedSlot(Slot):
    """CUDA: one pinned host buffer, the device buffer it is copied to, and per-field views of both."""

    def __init__(self, device: torch.device, layout: dict[str, tuple[int, tuple[int, ...], torch.dtype]],
                 nbytes: int):
        self.pinned_bytes = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
        self.device_bytes = torch.empty(nbytes, dtype=torch.uint8, device=device)
        with torch.cuda.device(device):
            self.copied = torch.cuda.Event()
        host = self.pinned_bytes.numpy()
        self.host, self.tensors = {}, {}
        for name, (offset, shape, dtype) in layout.items():
            size = math.prod(shape) * torch.empty(0, dtype=dtype).element_size()
            self.host[name] = host[offset:offset + size].view(numpy_dtype(dtype)).reshape(shape)
            self.tensors[name] = self.device_bytes[offset:offset + size].view(dtype).view(shape)


def _pinned_slots(device: torch.device, fields: dict[str, tuple[tuple[int, ...], torch.dtype]]):
    layout, offset = {}, 0
    for name, (shape, dtype) in fields.items():
        layout[name] = (offset, tuple(shape), dtype)
        size = math.prod(shape) * torch.empty(0, dtype=dtype).element_size()
        offset += -(-size // _ALIGN) * _ALIGN
    return (_PinnedSlot(device, layout, offset), _PinnedSlot(device, layout, offset))
