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

Fields flagged ``packed`` (the per-slot fields a sampled transition reads together: whole observations,
action, reward, discount) share one record per slot: a ``[rows, record_bytes]`` byte tensor of which each
field is a strided view. A random draw then touches the record's one or two cache lines instead of a line
per field (on the CPU a 1M-slot ring misses the cache on every field; on a GPU, a memory sector each).
Records are padded to a power of two up to 64 bytes, else to whole 64-byte lines, so that a record never
straddles more lines than it must. The flat per-field views are what everything else sees.

On the CPU, tensors of 4 MiB and more are advised to live on transparent huge pages (where the kernel
offers them on request): random draws over hundreds of MB then miss the TLB far less. numpy does the same
for its large arrays, so the peers measured beside fastrl (numpy-backed) get it too.

In ``debug`` mode every tensor is filled with a poison value at construction (NaN for floats, the dtype's
maximum for integers, True for flags), so a read of memory never written shows at once, as Sample Factory
does with its shared buffers.
"""

from __future__ import annotations

import ctypes
import functools
import sys
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
    packed: bool = False    #: stored in the slot's record, beside the other packed fields

    @property
    def itemsize(self) -> int:
        return torch.empty((), dtype=self.dtype).element_size()

    @property
    def slot_bytes(self) -> int:
        n = self.itemsize
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class RecordLayout:
    """Where each packed field lies in a slot's record: byte offsets, each aligned to its field's item size."""

    offsets: dict[str, int]
    record_bytes: int

    @staticmethod
    def of(specs: list[FieldSpec]) -> RecordLayout:
        offsets, end, align = {}, 0, 1
        for s in specs:
            if s.packed:
                end = -(-end // s.itemsize) * s.itemsize
                offsets[s.name] = end
                end += s.slot_bytes
                align = max(align, s.itemsize)
        if not offsets:
            return RecordLayout({}, 0)
        size = 1 << max(0, (end - 1).bit_length()) if end <= 64 else -(-end // 64) * 64
        return RecordLayout(offsets, max(size, align))


_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE, _MADV_COLLAPSE = 14, 25  # linux/mman.h (MADV_COLLAPSE: Linux 6.1)


def advise_huge_pages(t: torch.Tensor, least: int = 4 << 20, collapse: bool = False) -> bool:
    """Ask Linux to back the whole 2 MiB pages inside the memory of ``t`` (its whole storage, on the CPU)
    with transparent huge pages: pages touched from then on come as huge pages where the kernel has them;
    ``collapse`` also turns pages already touched into huge ones now. Returns whether the advice was taken;
    where the OS offers no such thing (not Linux, no THP, an older kernel for ``collapse``) nothing changes,
    which costs only speed."""
    storage = t.untyped_storage()
    size = storage.nbytes()
    if size < least or not sys.platform.startswith("linux"):
        return False
    start = -(-storage.data_ptr() // _HUGE_PAGE) * _HUGE_PAGE
    end = (storage.data_ptr() + size) // _HUGE_PAGE * _HUGE_PAGE
    if end <= start:
        return False
    madvise = _madvise()
    if madvise(start, end - start, _MADV_HUGEPAGE) != 0:
        return False
    return not collapse or madvise(start, end - start, _MADV_COLLAPSE) == 0


@functools.cache
def _madvise():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    libc.madvise.restype = ctypes.c_int
    return libc.madvise


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
        self.records_layout = RecordLayout.of(specs)
        self.allocations: list[torch.Tensor] = []  #: what was allocated (the records, the unpacked fields)
        self.tensors: dict[str, torch.Tensor] = {}  #: every field, [rows, *shape] (views into the records)
        records = None
        if self.records_layout.offsets:
            records = self._allocate((self._record_rows(specs, layout), self.records_layout.record_bytes), torch.uint8)
            records.zero_()  # slots not yet written (and the padding) hold zeros, not stray bits such as NaNs
        for s in specs:
            rows = layout.num_slots + (1 if s.spare else 0)
            if s.packed:
                start = self.records_layout.offsets[s.name]
                t = records[:rows, start: start + s.slot_bytes].view(s.dtype).unflatten(1, s.shape or (1,))
                if not s.shape:
                    t = t.squeeze(1)
            else:
                t = self._allocate((rows, *s.shape), s.dtype)
            if debug:
                t.fill_(poison_value(s.dtype))
            self.tensors[s.name] = t

    def _allocate(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        t = torch.empty(shape, dtype=dtype, device=self.device)
        if self.device.type == "cpu":
            advise_huge_pages(t)  # before anything touches its pages
        self.allocations.append(t)
        return t

    @staticmethod
    def _record_rows(specs: list[FieldSpec], layout: RingLayout) -> int:
        return layout.num_slots + (1 if any(s.spare for s in specs if s.packed) else 0)

    @staticmethod
    def bytes_needed(specs: list[FieldSpec], layout: RingLayout) -> int:
        records = RecordLayout.of(specs)
        total = Storage._record_rows(specs, layout) * records.record_bytes if records.offsets else 0
        for s in specs:
            if not s.packed:
                total += (layout.num_slots + (1 if s.spare else 0)) * s.slot_bytes
        return total

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.allocations)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def write_position(self, name: str, bases: torch.Tensor, position: int, values) -> None:
        """Write one row of N values (one per stream) at ring ``position``, and its mirror where flagged."""
        t = self.tensors[name]
        t[bases + position] = values
        layout = self.layout
        if self.specs[name].mirrored and position >= layout.per_env - layout.pad:
            t[bases + (position - layout.per_env)] = values
