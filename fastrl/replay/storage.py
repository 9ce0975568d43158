"""Preallocated device tensors, one per field, laid out as one ring per env stream.

Layout. Env stream ``i`` owns the row of slots ``[i * row, (i + 1) * row)`` with ``row = pad + per_env``: the
ring itself (``per_env`` slots, position ``q`` at slot ``i * row + pad + q``) preceded by ``pad`` slots that
mirror the ring's last ``pad`` positions. A stream's frames are thus contiguous in time, so a stack ending at
slot ``s`` is the slots ``s - stack + 1 .. s`` (what ``ops.frame_stack_gather`` reads), and a stack ending
near the start of the ring reads the mirrors of the frames written just before the ring wrapped, never
another stream's frames. ``pad = stack - 1`` for frame storage, 0 otherwise. All streams advance together
(each ``add`` writes one row of N slots at the same position), so one host-side position describes the ring.

Fields flagged ``mirrored`` (those a stack reads at older positions: frames, episode-start marks) are also
written to the pad on the ring's last ``pad`` positions. Fields flagged ``spare`` get one extra slot after
the last stream: masked writes (an n-step transition that is not finished yet) are sent there instead of
being compacted, which would need the device to report how many there are.

In ``debug`` mode every tensor is filled with a poison value at construction (NaN for floats, the dtype's
maximum for integers, True for flags), so a read of memory never written shows at once, as Sample Factory
does with its shared buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastrl.replay.memory import ensure_fits


@dataclass(frozen=True)
class RingLayout:
    """Where each env stream's ring lies in the flat slot space."""

    num_envs: int
    per_env: int  #: ring positions per stream
    pad: int      #: mirror slots before each ring (stack - 1 for frames, else 0)

    @property
    def row(self) -> int:
        return self.pad + self.per_env

    @property
    def num_slots(self) -> int:
        return self.num_envs * self.row

    def bases(self, device: torch.device) -> torch.Tensor:
        """int64 [N]: the slot of position 0 of each stream."""
        return torch.arange(self.num_envs, dtype=torch.int64, device=device) * self.row + self.pad

    def advance(self, slots: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """The slots ``steps`` positions later in the same streams (wrapping inside each ring)."""
        env = torch.div(slots, self.row, rounding_mode="floor")
        base = env * self.row + self.pad
        return base + torch.remainder(slots - base + steps, self.per_env)

    def stream_and_position(self, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(env stream, ring position) of real slots (not pads)."""
        env = torch.div(slots, self.row, rounding_mode="floor")
        return env, slots - env * self.row - self.pad


@dataclass(frozen=True)
class FieldSpec:
    name: str
    shape: tuple[int, ...]  #: per slot
    dtype: torch.dtype
    mirrored: bool = False  #: written to the pad too (read at older positions of a stack)
    spare: bool = False     #: one extra slot at the end that masked writes land in


def poison_value(dtype: torch.dtype) -> float | int | bool:
    if dtype == torch.bool:
        return True
    if dtype.is_floating_point:
        return float("nan")
    return torch.iinfo(dtype).max


class Storage:
    """Tensors ``[num_slots (+1 if spare), *shape]`` per field, allocated once after a memory check."""

    def __init__(self, specs: list[FieldSpec], layout: RingLayout, device: torch.device | str,
                 extra_bytes: int = 0, debug: bool = False):
        """``extra_bytes``: what the caller will allocate beside (sampler, n-step state), for the check."""
        self.layout = layout
        self.device = torch.device(device)
        self.specs = {s.name: s for s in specs}
        ensure_fits(self.bytes_needed(specs, layout) + extra_bytes, self.device, "the replay buffer")
        self.tensors: dict[str, torch.Tensor] = {}
        for s in specs:
            rows = layout.num_slots + (1 if s.spare else 0)
            t = torch.empty((rows, *s.shape), dtype=s.dtype, device=self.device)
            if debug:
                t.fill_(poison_value(s.dtype))
            self.tensors[s.name] = t

    @staticmethod
    def bytes_needed(specs: list[FieldSpec], layout: RingLayout) -> int:
        total = 0
        for s in specs:
            rows = layout.num_slots + (1 if s.spare else 0)
            per_slot = torch.empty((), dtype=s.dtype).element_size()
            for d in s.shape:
                per_slot *= d
            total += rows * per_slot
        return total

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def write_position(self, name: str, bases: torch.Tensor, position: int, values) -> None:
        """Write one row of N values (one per stream) at ring ``position``, and its mirror where flagged."""
        t = self.tensors[name]
        t[bases + position] = values
        layout = self.layout
        if self.specs[name].mirrored and position >= layout.per_env - layout.pad:
            t[bases + (position - layout.per_env)] = values
